"""The access/egress leg provider seam: how travellers get to and from transit stops.

A provider answers one question: *from this point at this time* (access), or
*to this point* (egress), *which transit stops can I reach, how long does it
take, what does it cost and what must be booked?* It returns one
:class:`StopLeg` per stop it serves; the planner runs one multi-source RAPTOR
per provider combination with those times as initial (access) or final
(egress) times, and calls :meth:`StopLeg.build` only for the itineraries that
survive the Pareto filter.

Implementations here: :class:`WalkProvider` (walking on the walk graph, from
one shared Dijkstra tree) and :class:`BikeRideProvider` (own bike to a bike
box or bike parking with room, lock it, walk to the stop; on the way home, walk
from the stop to the site holding the bike and cycle on). The on-demand shuttle of the
fleet package plugs in the same way: implement :class:`LegProvider` with
``mode = "shuttle"`` and register it with :meth:`PlanContext.add_provider`.

Times are assumed fixed over the query (a provider whose duration depends on
the time of day should return its best estimate and may refuse in ``build``
by returning None, e.g. when a booking is no longer possible).

Contract of ``build(start)``: the legs start at ``start`` and are contiguous
(each starts when the previous one ends); access legs end no later than
``start + duration_s``, egress legs end exactly at ``start + duration_s``.
The planner relies on it for time-consistent itineraries. A registered
provider may set ``supports_arrive_by = True`` when its durations do not
depend on the departure time; otherwise arrive-by plans skip it with a reason.
Step-free requests (``query.request.wheelchair``) must only get legs a
wheelchair user can take (e.g. a shuttle with a wheelchair place).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

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
from routing.stations.model import Station, StationKind
from routing.transit.itinerary import Leg, Place

if TYPE_CHECKING:
    from routing.planner.context import PlanContext
    from routing.planner.request import PlanRequest
    from routing.planner.searches import Searches


#: Where bike+ride leaves a bike: lockable boxes and lockers, and open bike parking.
PARKING_KINDS = frozenset({StationKind.BIKE_BOX, StationKind.BIKE_PARKING})


def parking_fee(site: Station, costs: Any) -> float:
    """Fee of leaving a bike at ``site``: the box fee for boxes and paid parking, else 0."""
    if site.kind is StationKind.BIKE_BOX:
        return float(costs.bike_box_eur) if site.fee is not False else 0.0
    return float(costs.bike_box_eur) if site.fee else 0.0


class Direction(StrEnum):
    """Which end of the transit trip a provider serves."""

    ACCESS = "access"  # point -> stop, at the start
    EGRESS = "egress"  # stop -> point, at the end


StopLegsBuilder = Callable[[dt.datetime], "list[Leg] | None"]
"""Draws the legs between a point and a stop for a start time (None: impossible after all)."""


@dataclass(frozen=True)
class ProviderQuery:
    """What a provider is asked.

    Attributes
    ----------
    point : (lat, lon)
        The origin (access) or destination (egress).
    time : datetime
        Earliest departure from ``point`` (access), or the earliest moment the
        traveller could reach a stop (egress: the request's departure time).
    direction : Direction
    request : PlanRequest
    context : PlanContext
    searches : Searches
        Shared road searches of this plan (reuse them: they are already computed).
    """

    point: tuple[float, float]
    time: dt.datetime
    direction: Direction
    request: PlanRequest
    context: PlanContext
    searches: Searches


@dataclass(frozen=True)
class StopLeg:
    """One way to get from the point to a stop (access) or from a stop to the point (egress).

    Attributes
    ----------
    stop : int
        Timetable stop index.
    duration_s : float
        Door-to-stop (or stop-to-door) seconds, waiting and handling included.
    build : callable
        ``build(start)`` returns the legs starting at ``start`` (aware datetime)
        or None if the option is no longer possible.
    effort_s : float
        Seconds of walking/cycling in it.
    cost_eur : float
        Price, when known.
    booking : dict, optional
        What must be booked (provider-specific, e.g. a shuttle offer id and
        pickup window); copied to the legs by the provider's ``build``.
    """

    stop: int
    duration_s: float
    build: StopLegsBuilder
    effort_s: float = 0.0
    cost_eur: float = 0.0
    booking: dict[str, Any] | None = None


@dataclass
class ProviderAnswer:
    """Stop legs of a provider, or an empty list with the reason."""

    legs: list[StopLeg] = field(default_factory=list)
    reason: str | None = None


@runtime_checkable
class LegProvider(Protocol):
    """Access/egress legs to/from transit stops (see module docstring)."""

    mode: str

    def stop_legs(self, query: ProviderQuery) -> ProviderAnswer:
        """Stop legs for ``query`` (at most one per stop is used: the fastest)."""
        ...


def best_per_stop(legs: list[StopLeg]) -> dict[int, StopLeg]:
    """The fastest leg per stop (ties: less effort, then cheaper)."""
    best: dict[int, StopLeg] = {}
    for leg in legs:
        cur = best.get(leg.stop)
        if cur is None or (leg.duration_s, leg.effort_s, leg.cost_eur) < (
            cur.duration_s,
            cur.effort_s,
            cur.cost_eur,
        ):
            best[leg.stop] = leg
    return best


def _stop_place(query: ProviderQuery, stop: int) -> Place:
    from routing.transit.journeys import stop_place

    return stop_place(query.context.transit.timetable, stop)  # type: ignore[union-attr]


class WalkProvider:
    """Walking to/from every stop within the request's ``max_walk_s`` (one shared tree)."""

    mode = "walk"

    def stop_legs(self, query: ProviderQuery) -> ProviderAnswer:
        """Walking stop legs."""
        s = query.searches
        budget = query.request.max_walk_s
        if query.direction is Direction.ACCESS:
            times = s.stop_access(budget)
        else:
            times = s.stop_egress(budget)
        stops = np.flatnonzero(np.isfinite(times))
        if not stops.size:
            where = "origin" if query.direction is Direction.ACCESS else "destination"
            return ProviderAnswer(
                reason=f"no transit stop within {budget / 60:.0f} min walk of the {where}"
            )
        point = Place(
            "Origin" if query.direction is Direction.ACCESS else "Destination", *query.point
        )
        legs = []
        for stop in stops.tolist():
            secs = float(times[stop])
            legs.append(StopLeg(stop, secs, self._builder(query, point, stop, secs), effort_s=secs))
        return ProviderAnswer(legs)

    @staticmethod
    def _builder(query: ProviderQuery, point: Place, stop: int, secs: float) -> StopLegsBuilder:
        def build(start: dt.datetime) -> list[Leg]:
            place = _stop_place(query, stop)
            a, b = (point, place) if query.direction is Direction.ACCESS else (place, point)
            return [road_leg(query.searches, "walk", a, b, start, secs)]

        return build


class BikeRideProvider:
    """Own bike + bike box or bike parking + transit (Bike+Ride).

    Access (no ``parked_bike_at`` in the request): cycle from the origin to a
    bike box or bike parking with room, lock the bike, walk to a stop. Sites
    known (live data) to have a free box come first; sites whose availability
    is unknown (OSM parking and lockers, a box feed that is down or stale) are
    offered too, with ``PlannerSettings.unknown_availability_s`` extra planned
    there (which ranks them below), and their legs say ``availability:
    unknown``. Sites known to be full are never used.
    Egress (``parked_bike_at`` names the site holding the traveller's bike, the
    way home): walk from a stop to that site, unlock, cycle to the destination.
    The bike is only ever left at a bike box or bike parking.
    """

    mode = "bike_ride"

    def stop_legs(self, query: ProviderQuery) -> ProviderAnswer:
        """Bike+ride stop legs for the query's direction."""
        if query.direction is Direction.ACCESS:
            return self._access(query)
        return self._egress(query)

    # -- out: ride, park, walk --------------------------------------------------------
    def _access(self, query: ProviderQuery) -> ProviderAnswer:
        ctx, req, s = query.context, query.request, query.searches
        st = ctx.settings
        if ctx.stations is None:
            return ProviderAnswer(reason="no bike stations loaded")
        radius = req.max_bike_s * 4.5  # straight-line bound at cycling speed (15 km/h + slack)
        boxes = ctx.stations.nearby(
            *query.point,
            radius,
            kinds=PARKING_KINDS,
            has_free_space=True,
            include_unknown=True,
            limit=4 * st.max_box_candidates,
            now=req.availability_at,
        )
        if not boxes:
            return ProviderAnswer(
                reason="no bike box or bike parking with room (or of unknown availability) "
                f"within {radius / 1000:.1f} km of the origin"
            )
        snaps, cands = [], []
        for near in boxes:
            snap = s.place("bike", near.item.id, near.item.lat, near.item.lon)
            if snap is not None:
                snaps.append(snap)
                cands.append(near.item)
        rides, _ = s.end_to_places("bike", "origin", snaps)  # one bucket query for all boxes
        options: list[tuple[float, float, Station]] = [
            (float(r), unknown_buffer_s(st, station_availability(box, "park_bike")), box)
            for r, box in zip(rides.tolist(), cands, strict=True)
            if r <= req.max_bike_s
        ]
        options.sort(key=lambda o: (o[0] + o[1], o[2].id))
        options = options[: st.max_box_candidates]
        if not options:
            return ProviderAnswer(
                reason="no bike box or bike parking with room within "
                f"{req.max_bike_s / 60:.0f} min by bike"
            )
        legs: list[StopLeg] = []
        for ride, buffer, box in options:
            fee = parking_fee(box, ctx.costs)
            stops, walks = ctx.box_stop_walks(
                box, to_stops=True, cache=not s.naive, weights=s.weights("walk")
            )
            for stop, walk in zip(stops.tolist(), walks.tolist(), strict=True):
                total = ride + buffer + st.park_bike_s + walk
                legs.append(
                    StopLeg(
                        stop,
                        total,
                        self._out_builder(query, box, stop, ride, buffer, walk),
                        effort_s=ride + walk,
                        cost_eur=fee,
                    )
                )
        if not legs:
            return ProviderAnswer(
                reason="no transit stop within walking distance of a reachable bike box"
            )
        return ProviderAnswer(legs)

    @staticmethod
    def _out_builder(
        query: ProviderQuery, box: Station, stop: int, ride: float, buffer: float, walk: float
    ) -> StopLegsBuilder:
        def build(start: dt.datetime) -> list[Leg]:
            s = query.searches
            park = query.context.settings.park_bike_s
            here = Place("Origin", *query.point)
            at_box = station_place(box)
            info = station_info(box, action="park_bike")
            parking: dict[str, Any] = {
                "stationId": box.id,
                "kind": box.kind.value,
                "lockSeconds": park,
            }
            if buffer:
                parking["availabilityBufferSeconds"] = buffer
            bike = road_leg(
                s,
                "bike",
                here,
                at_box,
                start,
                ride,
                extra={
                    "toStation": info,
                    "cost": cost(parking_fee(box, query.context.costs)),
                    "parking": parking,
                    **availability_flags(info),
                },
            )
            on_foot = road_leg(
                s,
                "walk",
                at_box,
                _stop_place(query, stop),
                bike.end + seconds(buffer + park),
                walk,
                extra={"fromStation": info, **availability_flags(info)},
            )
            return [bike, on_foot]

        return build

    # -- home: walk, unlock, ride -----------------------------------------------------
    def _egress(self, query: ProviderQuery) -> ProviderAnswer:
        ctx, req, s = query.context, query.request, query.searches
        if req.parked_bike_at is None:
            return ProviderAnswer(
                reason="no parked bike (set parked_bike_at to ride home from a bike box)"
            )
        box = ctx.stations.get(req.parked_bike_at) if ctx.stations is not None else None
        if box is None or box.kind not in PARKING_KINDS:
            return ProviderAnswer(
                reason=f"parked_bike_at {req.parked_bike_at!r} is not a known bike box or "
                "bike parking"
            )
        snap = s.place("bike", box.id, box.lat, box.lon)
        if snap is None:
            return ProviderAnswer(reason=f"bike box {box.name} is too far from any cycleable road")
        ride = s.between("bike", snap, s.end("bike", "destination"))
        if ride > req.max_bike_s:
            return ProviderAnswer(
                reason=f"the destination is more than {req.max_bike_s / 60:.0f} min by bike "
                f"from {box.name}"
            )
        stops, walks = ctx.box_stop_walks(
            box, to_stops=False, cache=not s.naive, weights=s.weights("walk")
        )
        if not stops.size:
            return ProviderAnswer(
                reason=f"no transit stop within walking distance of bike box {box.name}"
            )
        unpark = ctx.settings.unpark_bike_s
        legs = [
            StopLeg(
                stop,
                walk + unpark + ride,
                self._home_builder(query, box, stop, walk, ride),
                effort_s=walk + ride,
            )
            for stop, walk in zip(stops.tolist(), walks.tolist(), strict=True)
        ]
        return ProviderAnswer(legs)

    @staticmethod
    def _home_builder(
        query: ProviderQuery, box: Station, stop: int, walk: float, ride: float
    ) -> StopLegsBuilder:
        def build(start: dt.datetime) -> list[Leg]:
            s = query.searches
            at_box = station_place(box)
            info = station_info(box, action="pick_up_own_bike")
            on_foot = road_leg(
                s, "walk", _stop_place(query, stop), at_box, start, walk, extra={"toStation": info}
            )
            unpark = query.context.settings.unpark_bike_s
            bike = road_leg(
                s,
                "bike",
                at_box,
                Place("Destination", *query.point),
                on_foot.end + seconds(unpark),
                ride,
                extra={"fromStation": info},
            )
            return [on_foot, bike]

        return build


BUILTIN_PROVIDERS: dict[str, LegProvider] = {
    "walk": WalkProvider(),
    "bike_ride": BikeRideProvider(),
}
