"""Bike share: walk to a station with a bike now, ride, dock at a station with a free dock, walk.

Stations whose live (fresh) counts show a rentable bike / a free dock are
used, and so are stations whose availability is unknown (no live data, or a
feed that is down or stale): unknown is not "none". An unknown station costs
``PlannerSettings.unknown_availability_s`` extra there (to find a bike or a
dock, or move on), which ranks it below stations known to have one, and its
legs say ``availability: unknown``. Stations known to have none are never used.

Pickup candidates are the nearest few by walking time (plus that buffer) from
the shared walk tree of the origin, return candidates the nearest few by
walking time to the destination; the rides between them are CH queries on the
bike graph (k x k, k <= 3).
"""

from __future__ import annotations

import math

from routing.planner.context import PlanContext
from routing.planner.legs import (
    availability_flags,
    cost,
    road_leg,
    seconds,
    station_availability,
    station_info,
    station_place,
    unknown_buffer_s,
)
from routing.planner.modes import Outcome
from routing.planner.options import Answers, Candidate
from routing.planner.request import PlanRequest
from routing.planner.searches import Searches
from routing.stations.model import Station, StationKind
from routing.transit.itinerary import Leg, Place

WALK_RADIUS_MPS = 1.4  # straight-line bound of walking speed for the radius lookup


def _walk_candidates(
    req: PlanRequest, ctx: PlanContext, s: Searches, *, pickup: bool
) -> list[tuple[float, float, Station]]:
    """(walk seconds, buffer seconds, station) of the best pickup or return stations."""
    point = req.origin if pickup else req.destination
    assert ctx.stations is not None  # bike_share returns early without stations
    near = ctx.stations.nearby(
        *point,
        req.max_walk_s * WALK_RADIUS_MPS,
        kinds=StationKind.BIKE_SHARE,
        has_bikes=pickup,
        has_free_space=not pickup,
        include_unknown=True,
        now=req.availability_at,
    )
    found = []
    for n in near:
        st = n.item
        snap = s.place("walk", st.id, st.lat, st.lon)
        if snap is None or s.place("bike", st.id, st.lat, st.lon) is None:
            continue
        if pickup:
            t, _ = s.from_origin("walk", snap, req.max_walk_s)
        else:
            t, _ = s.to_destination("walk", snap, req.max_walk_s)
        if math.isfinite(t):
            action = "rent_bike" if pickup else "return_bike"
            found.append((t, unknown_buffer_s(ctx.settings, station_availability(st, action)), st))
    found.sort(key=lambda x: (x[0] + x[1], x[2].id))
    return found[: ctx.settings.max_station_candidates]


def bike_share(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """The fastest walk-ride-walk combination over the nearest available stations."""
    if req.wheelchair:
        from routing.planner.modes.direct import NOT_STEP_FREE

        return Outcome(reason=NOT_STEP_FREE)
    if ctx.stations is None:
        return Outcome(reason="no bike stations loaded")
    mins = req.max_walk_s / 60
    pick = _walk_candidates(req, ctx, s, pickup=True)
    if not pick:
        return Outcome(
            reason=f"no bike-share station with a bike available (or of unknown availability) "
            f"within {mins:.0f} min walk of the origin"
        )
    drop = _walk_candidates(req, ctx, s, pickup=False)
    if not drop:
        return Outcome(
            reason=f"no bike-share station with a free dock (or of unknown availability) "
            f"within {mins:.0f} min walk of the destination"
        )
    rides = s.matrix(
        "bike",
        [s.place("bike", st.id, st.lat, st.lon) for _, _, st in pick],  # type: ignore[misc]
        [s.place("bike", st.id, st.lat, st.lon) for _, _, st in drop],  # type: ignore[misc]
    )
    st_ = ctx.settings
    best = None
    for i, (wa, ba, a) in enumerate(pick):
        for j, (wb, bb, b) in enumerate(drop):
            ride = float(rides[i, j])
            if a.id == b.id or not math.isfinite(ride):
                continue
            total = wa + ba + st_.rent_bike_s + ride + st_.return_bike_s + bb + wb
            if best is None or total < best[0]:
                best = (total, wa, ba, a, ride, b, bb, wb)
    if best is None:
        return Outcome(reason="no ride between the available bike-share stations")
    total, wa, ba, a, ride, b, bb, wb = best
    price = (
        ctx.costs.bike_share_unlock_eur + math.ceil(ride / 60) * ctx.costs.bike_share_per_min_eur
    )
    start = req.depart_at

    def build() -> list[Leg] | None:
        pa, pb = station_place(a), station_place(b)
        rent, ret = station_info(a, action="rent_bike"), station_info(b, action="return_bike")
        w1 = road_leg(
            s,
            "walk",
            Place("Origin", *req.origin),
            pa,
            start,
            wa,
            extra={"toStation": rent, **availability_flags(rent)},
        )
        r = road_leg(
            s,
            "bike",
            pa,
            pb,
            w1.end + seconds(ba + st_.rent_bike_s),
            ride,
            extra={
                "rentedBike": True,
                "fromStation": rent,
                "toStation": ret,
                "cost": cost(price),
                **availability_flags(rent, ret),
                **({"availabilityBufferSeconds": ba + bb} if ba + bb else {}),
            },
        )
        w2 = road_leg(
            s,
            "walk",
            pb,
            Place("Destination", *req.destination),
            r.end + seconds(bb + st_.return_bike_s),
            wb,
            extra={"fromStation": ret, **availability_flags(ret)},
        )
        return [w1, r, w2]

    arrival = (start + seconds(total)).timestamp()
    return Outcome(
        [Candidate("bike_share", start.timestamp(), arrival, 0, wa + ride + wb, price, build, 3)]
    )
