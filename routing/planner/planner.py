"""``plan(request, context)``: every requested mode, one Pareto set of itineraries.

Flow: validate (the :class:`PlanRequest` did) -> one :class:`Searches` object
shared by all modes (snaps and Dijkstra trees computed once) -> each mode
returns cheap candidates with their criteria or a reason -> Pareto filter ->
draw the legs of the survivors only -> filter again on the criteria read from
the drawn legs (what is reported is what was filtered) -> sort by arrival.

A mode that finds nothing never fails the plan: its reason is reported in
``PlanResult.reasons`` and the result may be empty.

Arrive-by (``request.arrive_by``): the first criterion is the departure
(later is better) instead of the arrival, and every itinerary arrives by the
deadline. Transit modes search a window of departures before it; the modes
whose durations do not depend on the departure time (walk, bike, car, bike
share, EV) are planned as if leaving at the deadline and moved back by their
duration. A depart-at ``window_s`` adds the departure as a criterion.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from routing.errors import NoRouteError, SnapError
from routing.planner.context import PlanContext
from routing.planner.legs import shift_legs
from routing.planner.modes import Outcome, bike_share, direct, ev, free_floating, transit
from routing.planner.options import Answers, Candidate, PlannedItinerary
from routing.planner.pareto import Criteria, pareto_front
from routing.planner.request import MODES, PlanRequest
from routing.planner.searches import Searches
from routing.transit.itinerary import Itinerary, Leg

log = logging.getLogger(__name__)

ModeFn = Callable[[PlanRequest, PlanContext, Searches, Answers], Outcome]

#: Mode name -> function producing its candidates. Order = order of evaluation.
MODE_FUNCTIONS: dict[str, ModeFn] = {
    "walk": direct.walk,
    "bike": direct.bike,
    "car": direct.car,
    "transit": transit.walk_transit,
    "bike_ride": transit.bike_ride,
    "bike_share": bike_share.bike_share,
    "free_floating": free_floating.free_floating,
    "ev": ev.ev,
    "ev_park_charge": ev.ev_park_charge,
    "shuttle": lambda req, ctx, s, answers: transit.provider_transit(
        req, ctx, s, answers, "shuttle"
    ),
}
assert set(MODE_FUNCTIONS) == set(MODES)

#: Modes whose durations do not depend on the departure time: arrive-by shifts them.
SHIFTABLE_MODES = frozenset(
    {"walk", "bike", "car", "bike_share", "free_floating", "ev", "ev_park_charge"}
)
#: Modes that need no walking (still possible without a step-free network).
NO_WALK_MODES = frozenset({"car", "ev"})


@dataclass
class PlanResult:
    """Pareto-optimal itineraries (by arrival) and, per mode without one, why.

    Attributes
    ----------
    itineraries : list of PlannedItinerary
        No itinerary dominates another in (arrival, transfers, effort, cost).
    reasons : dict of str to str
        Mode -> why it contributed nothing (no station in reach, battery, ...).
        A mode whose itineraries were all dominated is listed as such.
    timings : dict of str to float
        Seconds spent per mode (candidate search) plus ``build`` and ``total``.
    """

    itineraries: list[PlannedItinerary]
    reasons: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape: ``{"itineraries": [...], "reasons": {...}}``."""
        return {
            "itineraries": [it.to_dict() for it in self.itineraries],
            "reasons": dict(self.reasons),
        }


def plan(request: PlanRequest, context: PlanContext, *, naive: bool = False) -> PlanResult:
    """Plan ``request`` with every requested mode and return the Pareto set.

    Parameters
    ----------
    request : PlanRequest
        Validated query (construction raises RequestError for bad input).
    context : PlanContext
        Networks, timetable, stations, chargers, prices.
    naive : bool
        Run the baseline engine (each mode its own plain-Dijkstra searches,
        no CH, no shared trees) -- for benchmarks and oracle tests.

    Returns
    -------
    PlanResult
        Possibly empty, then ``reasons`` says why for every mode.

    Raises
    ------
    RequestError
        ``parked_bike_at`` names an unknown station or one that is not a bike box.
    """
    t_all = time.perf_counter()
    _check_request_against_context(request, context)
    s = Searches(context, request, naive=naive)
    candidates: list[Candidate] = []
    reasons: dict[str, str] = {}
    timings: dict[str, float] = {}
    answers: Answers = {}
    step_free_missing = request.wheelchair and "walk" not in s.networks
    for mode, fn in MODE_FUNCTIONS.items():
        if mode not in request.modes:
            continue
        if step_free_missing and mode not in NO_WALK_MODES:
            reasons[mode] = context.wheelchair_missing()
            continue
        t0 = time.perf_counter()
        try:
            outcome = fn(request, context, s, answers)
        except (SnapError, NoRouteError) as exc:
            outcome = Outcome(reason=str(exc))
        if request.arrive_by and mode in SHIFTABLE_MODES:
            outcome = Outcome([_arrive_by(c) for c in outcome.candidates], outcome.reason)
        timings[mode] = time.perf_counter() - t0
        if outcome.candidates:
            candidates.extend(outcome.candidates)
        else:
            reasons[mode] = outcome.reason or "nothing found"
    t0 = time.perf_counter()
    cand_key, it_key = _keys(request)
    # Fewer legs first, so of two equal criteria vectors the simpler itinerary is kept.
    candidates.sort(key=lambda c: c.n_legs)
    front = pareto_front(candidates, key=cand_key)
    built: list[PlannedItinerary] = []
    deadline = request.depart_at + dt.timedelta(seconds=1)
    for cand in front:
        legs = cand.build()
        if not legs:
            continue
        if request.arrive_by and legs[-1].end > deadline:
            log.warning("dropped a %s itinerary arriving after the deadline", cand.mode)
            continue
        built.append(PlannedItinerary(cand.mode, Itinerary(legs)))
    result = pareto_front(built, key=it_key)
    if request.arrive_by:
        result.sort(key=lambda it: (-it.start.timestamp(), it.transfers, it.effort_s, it.end))
    else:
        result.sort(key=lambda it: (it.end, it.transfers, it.effort_s, it.cost_eur))
    for mode in {c.mode for c in candidates} - {it.mode for it in result}:
        reasons.setdefault(mode, "found itineraries, but other modes are better in every respect")
    timings["build"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_all
    log.debug(
        "plan: %d candidates, %d on the front, %d itineraries in %.1f ms",
        len(candidates),
        len(front),
        len(result),
        timings["total"] * 1000,
    )
    return PlanResult(result, reasons, timings)


def _keys(
    request: PlanRequest,
) -> tuple[Callable[[Candidate], Criteria], Callable[[PlannedItinerary], Criteria]]:
    """Pareto keys of candidates and built itineraries for the request's kind of query."""
    if request.arrive_by:  # leave as late as possible; the arrival only has to be in time
        return (
            lambda c: (-math.floor(c.departure + 1e-6), *c.criteria[1:]),
            lambda it: (-math.floor(it.start.timestamp() + 1e-6), *it.criteria[1:]),
        )
    if request.window_s > 0:  # a range of departures: leaving later counts too
        return (
            lambda c: (-math.floor(c.departure + 1e-6), *c.criteria),
            lambda it: (-math.floor(it.start.timestamp() + 1e-6), *it.criteria),
        )
    return (lambda c: c.criteria), (lambda it: it.criteria)


def _arrive_by(cand: Candidate) -> Candidate:
    """A candidate planned as leaving at the deadline, moved back to arrive exactly then."""
    back = cand.arrival - cand.departure
    inner = cand.build

    def build() -> list[Leg] | None:
        legs = inner()
        return None if legs is None else shift_legs(legs, -back)

    return replace(cand, departure=cand.departure - back, arrival=cand.departure, build=build)


def _check_request_against_context(request: PlanRequest, context: PlanContext) -> None:
    from routing.errors import RequestError
    from routing.planner.providers import PARKING_KINDS

    if request.parked_bike_at is not None and "bike_ride" in request.modes:
        box = context.stations.get(request.parked_bike_at) if context.stations is not None else None
        if box is None:
            raise RequestError(
                f"parked_bike_at {request.parked_bike_at!r} is not a known station id; "
                "give the id of the bike box holding the bike"
            )
        if box.kind not in PARKING_KINDS:
            raise RequestError(
                f"parked_bike_at {request.parked_bike_at!r} is a {box.kind.value} station, not a "
                "bike box or bike parking; bike+ride only leaves bikes there"
            )
