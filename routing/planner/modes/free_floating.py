"""Free-floating e-scooters and bikes: walk to a vehicle, ride it within the zones, park, walk.

Vehicles come from the context's :class:`~routing.stations.vehicle_store.VehicleStore`
(one immutable view per query): rentable (not reserved or disabled), of a
rideable form factor, in a system whose data is fresh, and standing where a
ride may start. The nearest few by walking time (the shared walk tree of the
origin) are tried.

Riding follows the system's geofencing zones, on the bike network:

* an edge whose midpoint lies where riding through is forbidden is closed;
* where a zone sets ``maximum_speed_kph`` (and up to the vehicle type's own
  ``max_permitted_speed``) an edge takes at least ``length / limit``;
* the ride ends where parking is allowed: at the destination when it is, else
  at the nearest few bike-network nodes with parking allowed around it, then a
  walk to the destination.

The ride may also end at a transit stop where parking is allowed, and the
trip go on by transit (:class:`FreeFloatingProvider`, an access provider for
RAPTOR; depart-at queries only: for arrive-by the direct rides are planned).

A vehicle is used only when its remaining range (``current_range_meters``, or
``current_fuel_percent`` x the type's ``max_range_meters``) covers the ride
as drawn; human-powered bikes have no range limit, and a motorised vehicle
without range data is used with ``rangeKnown: false`` on the leg. The weights
per (zones, graph, vehicle type) are computed once and kept with the zones
(zones with time windows are taken as always in force). One bounded Dijkstra
per tried vehicle gives the rides to every parking candidate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from routing.errors import NoRouteError, SnapError
from routing.geo import haversine_m
from routing.planner.context import PlanContext
from routing.planner.legs import Drawn, cost, drawn_leg, road_leg, seconds
from routing.planner.modes import Outcome
from routing.planner.options import Answers, Candidate, LegsBuilder
from routing.planner.providers import Direction, ProviderAnswer, ProviderQuery, StopLeg
from routing.planner.request import PlanRequest
from routing.planner.searches import Searches
from routing.search import dijkstra_settle, shortest_path
from routing.stations.free_floating import (
    RIDEABLE_FORM_FACTORS,
    SCOOTER_FORM_FACTORS,
    FreeFloatingSnapshot,
    Vehicle,
)
from routing.stations.vehicle_store import VehicleHit
from routing.transit.itinerary import Leg, Place

WALK_RADIUS_MPS = 1.4
_NO_TARGETS = np.empty(0, dtype=np.int32)


@dataclass(frozen=True)
class RideWeights:
    """Riding on the bike graph under one system's zones, for one vehicle type.

    ``seconds`` per edge (``inf`` = riding forbidden), ``limited`` = edges
    slowed by a speed limit, ``park`` / ``start`` per node.
    """

    seconds: np.ndarray
    limited: np.ndarray
    park: np.ndarray
    start: np.ndarray


def ride_weights(
    graph: Any,
    snapshot: FreeFloatingSnapshot,
    vehicle: Vehicle,
    live_seconds: np.ndarray | None = None,
) -> RideWeights:
    """Edge seconds and node parking/start rules for ``vehicle``'s type.

    The zone part is computed once per (zones, graph, type) and kept with the
    zones; ``live_seconds`` (the bike network's travel times under live
    closures and traffic, when any are in force) replaces the static times.
    """
    vtype = snapshot.vehicle_type(vehicle)
    type_id = vehicle.vehicle_type_id
    own_limit = vtype.max_permitted_speed_kph if vtype is not None else None

    def compute() -> tuple[np.ndarray, np.ndarray, RideWeights]:
        zones = snapshot.geofencing
        tails = graph.tail()
        mid_lat = (graph.lat[tails] + graph.lat[graph.head]) / 2
        mid_lon = (graph.lon[tails] + graph.lon[graph.head]) / 2
        edge = zones.rules_at(mid_lat, mid_lon, type_id)
        limit = np.minimum(edge.speed_kph, own_limit if own_limit else math.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            floor = np.where(np.isfinite(limit), graph.length_m / (limit / 3.6), 0.0)
        nodes = zones.rules_at(graph.lat, graph.lon, type_id)
        static = _combine(graph.travel_time, floor, edge.through, nodes.end, nodes.start)
        return floor, edge.through, static

    key = ("ride", id(graph), type_id, own_limit)
    floor, through, static = snapshot.geofencing.cached(key, compute)
    if live_seconds is None:
        base: RideWeights = static
        return base
    return _combine(live_seconds, floor, through, static.park, static.start)


def _live_seconds(s: Searches) -> np.ndarray | None:
    """The bike network's travel times under live closures and traffic, if any are in force."""
    live = s.weights("bike")
    return None if live is None else live.travel_time


def _combine(
    seconds: np.ndarray, floor: np.ndarray, through: np.ndarray, park: np.ndarray, start: np.ndarray
) -> RideWeights:
    secs = np.maximum(seconds, floor)
    limited = floor > seconds
    secs[~through] = np.inf
    return RideWeights(np.ascontiguousarray(secs, np.float64), limited, park, start)


@dataclass(frozen=True)
class _End:
    """Where a ride may end: the destination itself or a node with parking allowed."""

    lat: float
    lon: float
    node: int  # -1: the destination (snapped on the bike graph)
    walk_s: float


def _vehicles(req: PlanRequest, ctx: PlanContext, s: Searches) -> list[tuple[float, VehicleHit]]:
    """(walk seconds, hit) of the best rentable vehicles near the origin."""
    assert ctx.vehicles is not None
    radius = req.max_walk_s * WALK_RADIUS_MPS
    hits = ctx.vehicles.nearby(
        *req.origin,
        radius,
        now=req.availability_at,
        form_factors=RIDEABLE_FORM_FACTORS,
        limit=6 * ctx.settings.max_vehicle_candidates,
    )
    found = []
    for hit in hits:
        v = hit.vehicle
        if not hit.snapshot.geofencing.rule_at(v.lat, v.lon, v.vehicle_type_id).ride_start_allowed:
            continue
        try:
            wsnap = s.snap_point("walk", v.lat, v.lon)
            s.snap_point("bike", v.lat, v.lon)
        except SnapError:
            continue
        t, _ = s.from_origin("walk", wsnap, req.max_walk_s)
        if math.isfinite(t):
            found.append((t, hit))
    found.sort(key=lambda x: (x[0], x[1].vehicle.id))
    return found


def _out_of_date(req: PlanRequest, ctx: PlanContext) -> str:
    """Names the systems whose data is not used because it is out of date (or "")."""
    assert ctx.vehicles is not None
    notes = [
        snap.withdrawn or f"data of {sid} is out of date"
        for sid, snap in sorted(ctx.vehicles.view().snapshots.items())
        if snap.stale(req.availability_at)
    ]
    return f"; not offered: {'; '.join(notes)}" if notes else ""


def _ends(
    req: PlanRequest, ctx: PlanContext, s: Searches, hit: VehicleHit, w: RideWeights
) -> list[_End]:
    """Parking places for the ride: the destination if allowed, else nodes around it."""
    v = hit.vehicle
    lat, lon = req.destination
    if hit.snapshot.geofencing.rule_at(lat, lon, v.vehicle_type_id).parking_allowed:
        return [_End(lat, lon, -1, 0.0)]
    graph = s.network("bike").graph
    radius = min(req.max_walk_s * WALK_RADIUS_MPS, ctx.settings.max_parking_walk_m)
    d = haversine_m(lat, lon, graph.lat, graph.lon)
    nodes = np.flatnonzero(w.park & (d <= radius))
    nodes = nodes[np.argsort(d[nodes], kind="stable")][: ctx.settings.max_parking_candidates]
    ends = []
    for node in nodes.tolist():
        nlat, nlon = float(graph.lat[node]), float(graph.lon[node])
        try:
            wsnap = s.snap_point("walk", nlat, nlon)
        except SnapError:
            continue
        walk, _ = s.to_destination("walk", wsnap, req.max_walk_s)
        if math.isfinite(walk):
            ends.append(_End(nlat, nlon, node, walk))
    return ends


def free_floating(req: PlanRequest, ctx: PlanContext, s: Searches, answers: Answers) -> Outcome:
    """Free-floating vehicle to the destination, or to a transit stop and on by transit."""
    if req.wheelchair:
        from routing.planner.modes.direct import NOT_STEP_FREE

        return Outcome(reason=NOT_STEP_FREE)
    if ctx.vehicles is None or not ctx.vehicles.systems():
        return Outcome(
            reason="no free-floating vehicles loaded (add a free-floating GBFS source to "
            "the region)"
        )
    direct = _direct(req, ctx, s)
    if req.arrive_by or s.transit is None or s.transit.links is None:
        return direct
    from routing.planner.modes.transit import combine
    from routing.planner.providers import BUILTIN_PROVIDERS

    via = combine(req, ctx, s, PROVIDER, BUILTIN_PROVIDERS["walk"], "free_floating", answers)
    if direct.candidates or via.candidates:
        return Outcome(direct.candidates + via.candidates)
    return direct


def _direct(req: PlanRequest, ctx: PlanContext, s: Searches) -> Outcome:
    """The fastest walk-ride-walk over the nearest rentable free-floating vehicles."""
    mins = req.max_walk_s / 60
    vehicles = _vehicles(req, ctx, s)
    if not vehicles:
        return Outcome(
            reason=f"no rentable e-scooter or bike within {mins:.0f} min walk of the origin "
            f"(or none where a ride may start){_out_of_date(req, ctx)}"
        )
    st = ctx.settings
    graph = s.network("bike").graph
    best: dict[str, tuple[Any, ...]] = {}  # per form factor family: the fastest option
    short_range = no_parking = 0
    tried = 0
    for walk_v, hit in vehicles:
        if tried >= st.max_vehicle_candidates:
            break
        v, snap = hit.vehicle, hit.snapshot
        w = ride_weights(graph, snap, v, _live_seconds(s))
        ends = _ends(req, ctx, s, hit, w)
        if not ends:
            no_parking += 1
            continue
        tried += 1
        tree = _ride_tree(s, w, v, req.max_direct_bike_s)
        if tree is None:
            continue
        dist, length = tree
        range_m = snap.range_m(v)
        for end in ends:
            ride, metres = _ride_to(s, dist, length, w, end)
            if not math.isfinite(ride):
                continue
            if range_m is not None and metres > range_m:
                short_range += 1
                continue
            total = walk_v + st.unlock_vehicle_s + ride + st.park_vehicle_s + end.walk_s
            family = "scooter" if _is_scooter(hit) else "bike"
            if family not in best or total < best[family][0]:
                best[family] = (total, walk_v, hit, ride, end, w)
    if not best:
        why = []
        if short_range:
            why.append(f"{short_range} ride(s) beyond the vehicle's remaining range")
        if no_parking:
            why.append("no parking allowed near the destination")
        detail = "; ".join(why) or "no ride within the zones reaches a parking place"
        return Outcome(reason=f"no usable free-floating vehicle: {detail}")
    out = []
    start = req.depart_at
    for total, walk_v, hit, ride, end, w in best.values():
        price = _price(ctx, ride)
        # riding a bike (with or without assist) is effort, as on every BICYCLE leg
        effort = walk_v + end.walk_s + (0.0 if _is_scooter(hit) else ride)
        out.append(
            Candidate(
                "free_floating",
                start.timestamp(),
                start.timestamp() + total,
                0,
                effort,
                price,
                _builder(req, ctx, s, walk_v, hit, ride, end, w, price),
                3 if end.node >= 0 else 2,
            )
        )
    return Outcome(out)


def _is_scooter(hit: VehicleHit) -> bool:
    return hit.snapshot.form_factor(hit.vehicle) in SCOOTER_FORM_FACTORS


def _price(ctx: PlanContext, ride_s: float) -> float:
    costs = ctx.costs
    return costs.free_floating_unlock_eur + math.ceil(ride_s / 60) * costs.free_floating_per_min_eur


def _ride_tree(
    s: Searches, w: RideWeights, v: Vehicle, budget_s: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """(seconds, metres) of riding from the vehicle to every node within ``budget_s``."""
    graph = s.network("bike").graph
    n, c = s.snap_point("bike", v.lat, v.lon).source_seeds(w.seconds)
    keep = np.isfinite(c)
    if not keep.any():
        return None
    return dijkstra_settle(
        graph.first_out, graph.head, w.seconds, graph.length_m,
        n[keep], c[keep], _NO_TARGETS, float(budget_s),
    )  # fmt: skip


class FreeFloatingProvider:
    """Access legs to transit: walk to a free-floating vehicle, ride it to a stop, park there.

    Only stops where the vehicle's zones allow parking, within the request's
    ``max_bike_s`` of riding and the vehicle's remaining range, are offered.
    Egress is not offered (where a vehicle will stand at the arrival is not known).
    """

    mode = "free_floating"

    def stop_legs(self, query: ProviderQuery) -> ProviderAnswer:
        """Free-floating access legs (egress: none, with the reason)."""
        if query.direction is not Direction.ACCESS:
            return ProviderAnswer(reason="free-floating vehicles are only planned from the origin")
        req, ctx, s = query.request, query.context, query.searches
        if ctx.vehicles is None or s.transit is None:
            return ProviderAnswer(reason="no free-floating vehicles or no timetable loaded")
        tt = s.transit.timetable
        st = ctx.settings
        graph = s.network("bike").graph
        legs: list[StopLeg] = []
        for walk_v, hit in _vehicles(req, ctx, s)[: st.max_vehicle_candidates]:
            v, snap = hit.vehicle, hit.snapshot
            w = ride_weights(graph, snap, v, _live_seconds(s))
            tree = _ride_tree(s, w, v, req.max_bike_s)
            if tree is None:
                continue
            dist, length = tree
            range_m = snap.range_m(v)
            reach = req.max_bike_s * 8.0  # straight-line bound at up to 28 km/h
            parking = _stop_parking(snap, tt, v.vehicle_type_id)
            near = np.flatnonzero(
                parking & (haversine_m(v.lat, v.lon, tt.stop_lat, tt.stop_lon) <= reach)
            )
            for stop in near.tolist():
                lat, lon = float(tt.stop_lat[stop]), float(tt.stop_lon[stop])
                ssnap = ctx.place_snap("bike", f"stop:{stop}", lat, lon, cache=not s.naive)
                if ssnap is None:
                    continue
                tn, tc = ssnap.target_seeds(w.seconds)
                vals = dist[tn] + tc
                i = int(np.argmin(vals))
                ride = float(vals[i])
                if not ride <= req.max_bike_s:
                    continue
                metres = float(length[tn[i]]) + ssnap.distance_m
                if range_m is not None and metres > range_m:
                    continue
                total = walk_v + st.unlock_vehicle_s + ride + st.park_vehicle_s
                end = _End(lat, lon, -1, 0.0)
                price = _price(ctx, ride)
                legs.append(
                    StopLeg(
                        stop,
                        total,
                        self._builder(query, walk_v, hit, ride, end, w, price, stop),
                        effort_s=walk_v + (0.0 if _is_scooter(hit) else ride),
                        cost_eur=price,
                    )
                )
        if not legs:
            return ProviderAnswer(
                reason="no transit stop with parking allowed within reach of a rentable "
                "free-floating vehicle"
            )
        return ProviderAnswer(legs)

    @staticmethod
    def _builder(
        query: ProviderQuery,
        walk_v: float,
        hit: VehicleHit,
        ride: float,
        end: _End,
        w: RideWeights,
        price: float,
        stop: int,
    ) -> Callable[[Any], list[Leg] | None]:
        def build(start: Any) -> list[Leg] | None:
            from routing.transit.journeys import stop_place

            req, ctx, s = query.request, query.context, query.searches
            at_stop = stop_place(s.transit.timetable, stop)  # type: ignore[union-attr]
            moved = replace(req, depart_at=start)
            legs: list[Leg] | None = _builder(
                moved, ctx, s, walk_v, hit, ride, end, w, price, to=at_stop
            )()
            return legs

        return build


PROVIDER = FreeFloatingProvider()


def _stop_parking(snap: FreeFloatingSnapshot, tt: Any, type_id: str | None) -> np.ndarray:
    """Whether a ride of ``type_id`` may end at each transit stop (cached with the zones)."""
    zones = snap.geofencing
    ok: np.ndarray = zones.cached(
        ("stops", id(tt), type_id), lambda: zones.rules_at(tt.stop_lat, tt.stop_lon, type_id).end
    )
    return ok


def _ride_to(
    s: Searches, dist: np.ndarray, length: np.ndarray, w: RideWeights, end: _End
) -> tuple[float, float]:
    """(seconds, metres) of the ride from the settled tree to ``end``."""
    if end.node >= 0:
        return float(dist[end.node]), float(length[end.node])
    try:
        dsnap = s.snap_point("bike", end.lat, end.lon)
    except SnapError:
        return math.inf, math.inf
    tn, tc = dsnap.target_seeds(w.seconds)
    vals = dist[tn] + tc
    i = int(np.argmin(vals))
    metres = float(length[tn[i]]) + float(haversine_m(dsnap.lat, dsnap.lon, end.lat, end.lon))
    return float(vals[i]), metres


def _builder(
    req: PlanRequest,
    ctx: PlanContext,
    s: Searches,
    walk_v: float,
    hit: VehicleHit,
    ride: float,
    end: _End,
    w: RideWeights,
    price: float,
    *,
    to: Place | None = None,
) -> LegsBuilder:
    """Legs of one option: walk to the vehicle, ride, and walk on from a parking place.

    ``to``: the place the ride ends at when it is not the destination (a stop).
    """

    def build() -> list[Leg] | None:
        v, snap = hit.vehicle, hit.snapshot
        st = ctx.settings
        at_vehicle = Place(_vehicle_name(hit), v.lat, v.lon)
        if to is not None:
            parked = to
        elif end.node < 0:
            parked = Place("Destination", *req.destination)
        else:
            parked = Place("Parking (free-floating)", end.lat, end.lon)
        drawn = _draw_ride(s, w, v, end)
        if drawn is None:
            return None
        range_m = snap.range_m(v)
        if range_m is not None and drawn.metres > range_m:
            return None  # the drawn ride is longer than the vehicle can go
        info = vehicle_info(hit)
        w1 = road_leg(
            s,
            "walk",
            Place("Origin", *req.origin),
            at_vehicle,
            req.depart_at,
            walk_v,
            extra={"toVehicle": info, "reliesOnRealtime": True, "availability": "available"},
        )
        limited = float(np.sum(w.seconds[drawn.edges][w.limited[drawn.edges]]))
        mode = "SCOOTER" if _is_scooter(hit) else "BICYCLE"
        r = drawn_leg(
            mode,
            at_vehicle,
            parked,
            w1.end + seconds(st.unlock_vehicle_s),
            ride,
            drawn,
            {
                "rentedVehicle": info,
                "freeFloating": True,
                "cost": cost(price),
                "reliesOnRealtime": True,
                "availability": "available",
                "rangeKnown": range_m is not None,
                "geofencing": {
                    "parkingAllowedAtEnd": True,
                    "speedLimitedSeconds": round(limited, 1),
                },
            },
        )
        legs = [w1, r]
        if end.node >= 0:
            legs.append(
                road_leg(
                    s,
                    "walk",
                    parked,
                    Place("Destination", *req.destination),
                    r.end + seconds(st.park_vehicle_s),
                    end.walk_s,
                )
            )
        return legs

    return build


def _draw_ride(s: Searches, w: RideWeights, v: Vehicle, end: _End) -> Drawn | None:
    """The ride under the zone weights, drawn (None when no path exists after all)."""
    from routing.paths import path_polyline

    graph = s.network("bike").graph
    try:
        vsnap = s.snap_point("bike", v.lat, v.lon)
        sn, sc = vsnap.source_seeds(w.seconds)
        if end.node >= 0:
            tn, tc = np.array([end.node], np.int32), np.zeros(1)
        else:
            tn, tc = s.snap_point("bike", end.lat, end.lon).target_seeds(w.seconds)
        ks, kt = np.isfinite(sc), np.isfinite(tc)
        zoned = replace(graph, travel_time=w.seconds)
        path = shortest_path(zoned, sn[ks], sc[ks], tn[kt], tc[kt], method="dijkstra")
    except (SnapError, NoRouteError):
        return None
    lats, lons = path_polyline(graph, path.edges)
    lats = np.concatenate(([v.lat], lats, [end.lat]))
    lons = np.concatenate(([v.lon], lons, [end.lon]))
    keep = np.ones(lats.size, dtype=bool)
    keep[1:] = (np.diff(lats) != 0) | (np.diff(lons) != 0)
    lats, lons = lats[keep], lons[keep]
    metres = float(np.sum(haversine_m(lats[:-1], lons[:-1], lats[1:], lons[1:])))
    return Drawn(lats, lons, metres, np.asarray(path.edges, np.int64), "bike")


def _vehicle_name(hit: VehicleHit) -> str:
    vtype = hit.snapshot.vehicle_type(hit.vehicle)
    what = (vtype.name if vtype and vtype.name else None) or (
        "E-scooter" if _is_scooter(hit) else "Bike"
    )
    return f"{what} ({hit.snapshot.name})"


def vehicle_info(hit: VehicleHit) -> dict[str, Any]:
    """What the plan relies on about a vehicle: id, type, range, when it was reported."""
    v, snap = hit.vehicle, hit.snapshot
    vtype = snap.vehicle_type(v)
    return {
        "id": v.id,
        "systemId": snap.system_id,
        "system": snap.name,
        "vehicleTypeId": v.vehicle_type_id,
        "formFactor": snap.form_factor(v),
        "propulsion": vtype.propulsion_type if vtype else None,
        "rangeMeters": snap.range_m(v),
        "lat": v.lat,
        "lon": v.lon,
        "lastReported": v.last_reported.isoformat() if v.last_reported else None,
    }
