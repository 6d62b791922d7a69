"""Door-to-door on one road profile: walk, own bike, car (contraction hierarchy queries)."""

from __future__ import annotations

import math

from routing.errors import SnapError
from routing.planner.context import PlanContext
from routing.planner.legs import cost, drawn_leg, road_geometry, road_leg
from routing.planner.modes import Outcome
from routing.planner.options import Answers, Candidate
from routing.planner.request import PlanRequest
from routing.planner.searches import Searches
from routing.transit.itinerary import Leg, Place

_LIMIT = {"walk": "max_direct_walk_s", "bike": "max_direct_bike_s"}
_NAME = {"walk": "walking", "bike": "cycling", "car": "driving"}
#: Reason given by the bike modes to wheelchair requests.
NOT_STEP_FREE = "bike modes are not offered for step-free (wheelchair) trips"


def direct(req: PlanRequest, ctx: PlanContext, s: Searches, profile: str) -> Outcome:
    """The fastest trip on ``profile`` from origin to destination, if within the limit."""
    if profile == "bike" and req.wheelchair:
        return Outcome(reason=NOT_STEP_FREE)
    try:
        a, b = s.end(profile, "origin"), s.end(profile, "destination")
    except SnapError as exc:
        return Outcome(reason=str(exc))
    secs = s.between(profile, a, b)
    if not math.isfinite(secs):
        step_free = " step-free" if profile == "walk" and req.wheelchair else ""
        closed = " (closed roads cut it off)" if s.weights(profile) is not None else ""
        return Outcome(
            reason=f"no{step_free} {_NAME[profile]} route between origin and destination{closed}"
        )
    limit = getattr(req, _LIMIT[profile]) if profile in _LIMIT else math.inf
    if secs > limit:
        return Outcome(
            reason=f"{_NAME[profile]} takes {secs / 60:.0f} min, "
            f"over the {limit / 60:.0f} min limit"
        )
    start = req.depart_at
    mode = "walk" if profile == "walk" else "bike" if profile == "bike" else "car"

    here, there = Place("Origin", *req.origin), Place("Destination", *req.destination)
    price = 0.0
    geometry = None
    if profile == "car":
        # Drawn now: the price depends on the distance (one CH unpacking, reused by build).
        geometry = road_geometry(s, "car", here, there)
        price = geometry.metres / 1000 * ctx.costs.car_per_km_eur + ctx.costs.car_parking_eur

    def build() -> list[Leg] | None:
        if geometry is None:
            return [road_leg(s, profile, here, there, start, secs)]
        extra = {"cost": cost(price), "costIncludesParkingEur": ctx.costs.car_parking_eur}
        return [drawn_leg("CAR", here, there, start, secs, geometry, extra)]

    effort = 0.0 if profile == "car" else secs
    t0 = start.timestamp()
    return Outcome([Candidate(mode, t0, t0 + secs, 0, effort, price, build)])


def walk(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """Walking all the way."""
    return direct(req, ctx, s, "walk")


def bike(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """Own bike all the way (the bike ends at the destination, with its owner)."""
    return direct(req, ctx, s, "bike")


def car(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """Driving all the way."""
    return direct(req, ctx, s, "car")
