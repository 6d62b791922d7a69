"""Transit with any access and egress provider: walk+transit, bike+ride, shuttle legs.

One RAPTOR run per (access provider, egress provider) pair: every stop the
access provider reaches is a source with its access time as the initial time
(multi-source RAPTOR), every stop of the egress provider a target with its
egress time. The arrival x rides Pareto journeys become candidates; their
effort and cost add the providers' to the transfers' walking and the fare.

Arrive-by: range RAPTOR over every departure in a window before the deadline
(``PlannerSettings.arrive_by_window_s``); journeys arriving after it are
dropped, and the planner keeps the latest departures. This is exact: the
journey leaving latest among those arriving in time is always among the range
RAPTOR results (a later departure reaching the target no later would have
replaced it). Step-free (``wheelchair``): the step-free transit view (stop
links and footpaths on the wheelchair network), RAPTOR boarding and alighting
only at accessible stops of accessible trips, and each transit leg says what
is known about its stops and trip (``accessibility``).

Legs are contiguous in time: the access legs end no later than the first
ride's boarding (minus a footpath walked before it), transfer walks start when
the previous ride arrives, and the egress legs start at the last arrival.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from routing.planner.context import PlanContext
from routing.planner.legs import cost, road_leg
from routing.planner.modes import Outcome
from routing.planner.options import Answers, Candidate, LegsBuilder
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
from routing.transit.journeys import (
    Journey,
    Ride,
    decode_journeys,
    journey_legs,
    pareto_journeys,
)
from routing.transit.raptor import run_raptor
from routing.transit.timetable import Timetable

#: GTFS wheelchair codes (wheelchair_boarding / wheelchair_accessible) in words.
_ACCESS_WORDS = {0: "unknown", 1: "accessible", 2: "not accessible"}
#: Reason of modes that cannot plan arrive-by (their legs depend on the departure time).
NO_ARRIVE_BY = "arrive-by not supported for this mode"

log = logging.getLogger(__name__)


def _ask(
    provider: LegProvider,
    req: PlanRequest,
    ctx: PlanContext,
    s: Searches,
    direction: Direction,
    cache: Answers,
) -> ProviderAnswer:
    key = (provider.mode, direction)
    if key not in cache or s.naive:  # the baseline asks again for every mode
        point = req.origin if direction is Direction.ACCESS else req.destination
        cache[key] = provider.stop_legs(ProviderQuery(point, req.depart_at, direction, req, ctx, s))
    answer: ProviderAnswer = cache[key]
    return answer


def combine(
    req: PlanRequest,
    ctx: PlanContext,
    s: Searches,
    access: LegProvider,
    egress: LegProvider,
    mode: str,
    answers: Answers,
) -> Outcome:
    """Candidates of transit between ``access`` and ``egress`` providers (one RAPTOR run)."""
    network = s.transit
    if network is None or network.links is None:
        if req.wheelchair and ctx.transit is not None:
            return Outcome(reason=ctx.wheelchair_missing())
        return Outcome(reason="no timetable with a walk graph loaded")
    a = _ask(access, req, ctx, s, Direction.ACCESS, answers)
    if not a.legs:
        return Outcome(reason=a.reason or f"{access.mode}: no stop reachable from the origin")
    e = _ask(egress, req, ctx, s, Direction.EGRESS, answers)
    if not e.legs:
        return Outcome(reason=e.reason or f"{egress.mode}: no stop reaching the destination")
    tt = network.timetable
    acc, egr = best_per_stop(a.legs), best_per_stop(e.legs)
    src = np.fromiter(acc.keys(), np.int64, len(acc))
    dst = np.fromiter(egr.keys(), np.int64, len(egr))
    acc_s = np.array([math.ceil(acc[k].duration_s) for k in src.tolist()], np.int64)
    egr_s = np.array([math.ceil(egr[k].duration_s) for k in dst.tolist()], np.int64)
    if req.arrive_by:
        deadline = tt.to_seconds(req.depart_at)
        window = int(ctx.settings.arrive_by_window_s)
        depart = deadline - window
    else:
        depart, window = tt.to_seconds(req.depart_at), int(req.window_s)
    info, rides = run_raptor(
        tt,
        network.footpaths,
        src,
        acc_s,
        dst,
        egr_s,
        depart,
        window_s=window,
        max_transfers=req.max_transfers,
        args=network.args,
        wheelchair=req.wheelchair,
        allow_unknown_access=req.allow_unknown_access,
    )
    journeys = decode_journeys(
        tt,
        network.footpaths,
        info,
        rides,
        dict(zip(src.tolist(), acc_s.tolist(), strict=True)),
        dict(zip(dst.tolist(), egr_s.tolist(), strict=True)),
    )
    journeys = [j for j in journeys if j.rides]
    if req.arrive_by:
        journeys = [j for j in journeys if j.arrival <= deadline]
    if not journeys:
        step_free = " step-free" if req.wheelchair else ""
        when = (
            f"arriving by {req.depart_at:%H:%M}" if req.arrive_by else f"from {req.depart_at:%H:%M}"
        )
        return Outcome(reason=f"no{step_free} transit connection {when} on {tt.date}")
    out = []
    fare = ctx.costs.transit_fare_eur
    kept = pareto_journeys(journeys)
    if req.arrive_by:
        kept = _latest_departures(kept)
    for j in kept:
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
                build=_builder(req, s, j, first, last, fare),
                n_legs=2 * len(j.rides) + 1,
            )
        )
    return Outcome(out)


def _latest_departures(journeys: list[Journey]) -> list[Journey]:
    """Arrive-by: journeys not beaten in (later departure, fewer transfers).

    The mirror of depart-at RAPTOR's (earlier arrival, fewer rides) set: once
    every journey arrives in time, arriving even earlier is no merit, so a
    journey that leaves earlier with no fewer changes is dropped.
    """
    keep = []
    for j in journeys:
        beaten = any(
            o is not j
            and o.departure // 60 >= j.departure // 60
            and o.transfers <= j.transfers
            and (o.departure // 60, -o.transfers) != (j.departure // 60, -j.transfers)
            for o in journeys
        )
        if not beaten:
            keep.append(j)
    return keep


def _builder(
    req: PlanRequest, s: Searches, journey: Journey, first: StopLeg, last: StopLeg, fare: float
) -> LegsBuilder:
    def build() -> list[Leg] | None:
        tt = s.transit.timetable  # type: ignore[union-attr]
        head = first.build(tt.to_datetime(journey.departure))
        if head is None:
            return None
        # The stop-level part starts where the access legs end (not at the door): a
        # footpath before the first ride follows the access, never overlaps it.
        core = replace(
            journey,
            departure=journey.departure + journey.access_s,
            access_s=0,
            egress_s=0,
        )
        middle = [
            _drawn_walk(s, leg) if leg.mode == "WALK" else leg for leg in journey_legs(tt, core)
        ]
        rides = iter(journey.rides)
        paid = False
        for leg in middle:
            if not leg.transit:
                continue
            if not paid:
                leg.extra["cost"] = cost(fare)  # one ticket for the whole trip
                paid = True
            if req.wheelchair:
                leg.extra["accessibility"] = ride_accessibility(tt, next(rides))
        at_stop = middle[-1].end
        tail = last.build(at_stop)
        if tail is None:
            return None
        # The egress legs take exactly their planned time: the arrival matches the plan.
        legs: list[Leg] = head + middle + tail
        return legs

    return build


def _drawn_walk(s: Searches, leg: Leg) -> Leg:
    """A transfer walk drawn on the plan's walk network (step-free for wheelchair plans)."""
    return road_leg(
        s, "walk", leg.from_place, leg.to_place, leg.start, (leg.end - leg.start).total_seconds()
    )


def ride_accessibility(tt: Timetable, ride: Ride) -> dict[str, str]:
    """What GTFS says about boarding, alighting and the vehicle of a ride (wheelchair)."""
    board = int(tt.stop_wheelchair[ride.board_stop])
    alight = int(tt.stop_wheelchair[ride.alight_stop])
    trip = int(tt.trip_wheelchair[ride.slot])
    info = {
        "boarding": _ACCESS_WORDS.get(board, "unknown"),
        "alighting": _ACCESS_WORDS.get(alight, "unknown"),
        "vehicle": _ACCESS_WORDS.get(trip, "unknown"),
    }
    unknown = [k for k, v in info.items() if v == "unknown"]
    if unknown:
        info["note"] = (
            "wheelchair access not published for: " + ", ".join(unknown) + " (GTFS "
            "wheelchair_boarding / wheelchair_accessible unknown)"
        )
    return info


def walk_transit(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """Walk + transit + walk."""
    w = BUILTIN_PROVIDERS["walk"]
    return combine(req, ctx, s, w, w, "transit", answers)


def bike_ride(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """Bike + box + transit (out), or transit + box + own bike (home, with ``parked_bike_at``)."""
    if req.wheelchair:
        from routing.planner.modes.direct import NOT_STEP_FREE

        return Outcome(reason=NOT_STEP_FREE)
    br, w = BUILTIN_PROVIDERS["bike_ride"], BUILTIN_PROVIDERS["walk"]
    if req.parked_bike_at is None:
        return combine(req, ctx, s, br, w, "bike_ride", answers)
    return combine(req, ctx, s, w, br, "bike_ride", answers)


def provider_transit(
    req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers, mode: str
) -> Outcome:
    """Transit with a registered provider (e.g. shuttle) as access, egress, or both."""
    provider = ctx.provider(mode)
    if provider is None:
        return Outcome(reason=f"no {mode} provider is registered on this planner")
    if req.arrive_by and not getattr(provider, "supports_arrive_by", False):
        return Outcome(reason=NO_ARRIVE_BY)
    w = BUILTIN_PROVIDERS["walk"]
    out: list[Candidate] = []
    reasons = []
    for acc, egr in ((provider, w), (w, provider), (provider, provider)):
        got = combine(req, ctx, s, acc, egr, mode, answers)
        out.extend(got.candidates)
        if got.reason:
            reasons.append(got.reason)
    return Outcome(out, None if out else "; ".join(dict.fromkeys(reasons)))
