"""Transit with any access and egress provider: walk+transit, bike+ride, shuttle legs.

One RAPTOR run per (access provider, egress provider) pair: every stop the
access provider reaches is a source with its access time as the initial time
(multi-source RAPTOR), every stop of the egress provider a target with its
egress time. The arrival x rides Pareto journeys become candidates; their
effort and cost add the providers' to the transfers' walking and the fare.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from routing.planner.context import PlanContext
from routing.planner.legs import cost
from routing.planner.modes import Outcome
from routing.planner.options import Candidate
from routing.planner.providers import (
    BUILTIN_PROVIDERS,
    Direction,
    LegProvider,
    ProviderAnswer,
    ProviderQuery,
    StopLeg,
    best_per_stop,
)
from routing.planner.request import PlanRequest
from routing.planner.searches import Searches
from routing.transit.itinerary import Leg
from routing.transit.journeys import Journey, decode_journeys, journey_legs, pareto_journeys
from routing.transit.raptor import run_raptor

log = logging.getLogger(__name__)


def _ask(
    provider: LegProvider,
    req: PlanRequest,
    ctx: PlanContext,
    s: Searches,
    direction: Direction,
    cache: dict,
) -> ProviderAnswer:
    key = (provider.mode, direction)
    if key not in cache or s.naive:  # the baseline asks again for every mode
        point = req.origin if direction is Direction.ACCESS else req.destination
        cache[key] = provider.stop_legs(ProviderQuery(point, req.depart_at, direction, req, ctx, s))
    return cache[key]


def combine(
    req: PlanRequest,
    ctx: PlanContext,
    s: Searches,
    access: LegProvider,
    egress: LegProvider,
    mode: str,
    answers: dict,
) -> Outcome:
    """Candidates of transit between ``access`` and ``egress`` providers (one RAPTOR run)."""
    if ctx.transit is None or ctx.transit.links is None:
        return Outcome(reason="no timetable with a walk graph loaded")
    a = _ask(access, req, ctx, s, Direction.ACCESS, answers)
    if not a.legs:
        return Outcome(reason=a.reason or f"{access.mode}: no stop reachable from the origin")
    e = _ask(egress, req, ctx, s, Direction.EGRESS, answers)
    if not e.legs:
        return Outcome(reason=e.reason or f"{egress.mode}: no stop reaching the destination")
    tt = ctx.transit.timetable
    acc, egr = best_per_stop(a.legs), best_per_stop(e.legs)
    src = np.fromiter(acc.keys(), np.int64, len(acc))
    dst = np.fromiter(egr.keys(), np.int64, len(egr))
    acc_s = np.array([math.ceil(acc[k].duration_s) for k in src.tolist()], np.int64)
    egr_s = np.array([math.ceil(egr[k].duration_s) for k in dst.tolist()], np.int64)
    depart = tt.to_seconds(req.depart_at)
    info, rides = run_raptor(
        tt,
        ctx.transit.footpaths,
        src,
        acc_s,
        dst,
        egr_s,
        depart,
        max_transfers=req.max_transfers,
        args=ctx.transit.args,
    )
    journeys = decode_journeys(
        tt,
        ctx.transit.footpaths,
        info,
        rides,
        dict(zip(src.tolist(), acc_s.tolist(), strict=True)),
        dict(zip(dst.tolist(), egr_s.tolist(), strict=True)),
    )
    journeys = [j for j in journeys if j.rides]
    if not journeys:
        return Outcome(reason=f"no transit connection from {req.depart_at:%H:%M} on {tt.date}")
    out = []
    fare = ctx.costs.transit_fare_eur
    for j in pareto_journeys(journeys):
        first, last = acc[j.access_stop], egr[j.egress_stop]
        walks = sum(r.walk_before[2] for r in j.rides[1:] if r.walk_before)
        walks += j.rides[0].walk_before[2] if j.rides[0].walk_before else 0
        walks += j.walk_after[2] if j.walk_after else 0
        out.append(
            Candidate(
                mode=mode,
                departure=tt.day_start + j.departure,
                arrival=tt.day_start + j.arrival,
                transfers=j.transfers,
                effort_s=first.effort_s + last.effort_s + walks,
                cost_eur=first.cost_eur + last.cost_eur + fare,
                build=_builder(ctx, j, first, last, fare),
                n_legs=2 * len(j.rides) + 1,
            )
        )
    return Outcome(out)


def _builder(ctx: PlanContext, journey: Journey, first: StopLeg, last: StopLeg, fare: float):
    def build() -> list[Leg] | None:
        tt = ctx.transit.timetable  # type: ignore[union-attr]
        head = first.build(tt.to_datetime(journey.departure))
        if head is None:
            return None
        core = replace(journey, access_s=0, egress_s=0)
        middle = journey_legs(tt, core)
        for leg in middle:
            if leg.transit:
                leg.extra["cost"] = cost(fare)  # one ticket for the whole trip
                break
        at_stop = middle[-1].end
        tail = last.build(at_stop)
        if tail is None:
            return None
        # The egress legs take exactly their planned time: the arrival matches the plan.
        return head + middle + tail

    return build


def walk_transit(req: PlanRequest, ctx: PlanContext, s: Searches, answers: dict) -> Outcome:
    """Walk + transit + walk."""
    w = BUILTIN_PROVIDERS["walk"]
    return combine(req, ctx, s, w, w, "transit", answers)


def bike_ride(req: PlanRequest, ctx: PlanContext, s: Searches, answers: dict) -> Outcome:
    """Bike + box + transit (out), or transit + box + own bike (home, with ``parked_bike_at``)."""
    br, w = BUILTIN_PROVIDERS["bike_ride"], BUILTIN_PROVIDERS["walk"]
    if req.parked_bike_at is None:
        return combine(req, ctx, s, br, w, "bike_ride", answers)
    return combine(req, ctx, s, w, br, "bike_ride", answers)


def provider_transit(
    req: PlanRequest, ctx: PlanContext, s: Searches, answers: dict, mode: str
) -> Outcome:
    """Transit with a registered provider (e.g. shuttle) as access, egress, or both."""
    provider = ctx.provider(mode)
    if provider is None:
        return Outcome(reason=f"no {mode} provider is registered on this planner")
    w = BUILTIN_PROVIDERS["walk"]
    out: list[Candidate] = []
    reasons = []
    for acc, egr in ((provider, w), (w, provider), (provider, provider)):
        got = combine(req, ctx, s, acc, egr, mode, answers)
        out.extend(got.candidates)
        if got.reason:
            reasons.append(got.reason)
    return Outcome(out, None if out else "; ".join(dict.fromkeys(reasons)))
