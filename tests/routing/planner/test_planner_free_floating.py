"""The free_floating mode on Heidelberg: e-scooters (GBFS v3) and dockless bikes (GBFS v2.3).

Checks are made against the feed and the zones, not the planner's own
bookkeeping: which vehicle is used is looked up in the feed, the ride's
vertices are tested against the zone polygons, its duration against the
speed limits of the zones its road edges lie in, its length against the
vehicle's remaining range.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import replace

import pytest
import shapely

from routing.geo import haversine_m
from routing.planner import PlanContext, PlanRequest, plan
from routing.stations.free_floating import load_free_floating
from routing.stations.geofencing import Geofencing, ZoneRule
from routing.stations.vehicle_store import VehicleStore
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
NOW = dt.datetime(2022, 9, 14, 6, 0, tzinfo=dt.UTC)
DEPART = dt.datetime(2022, 9, 14, 8, 0)  # local = NOW + 2 min after the feeds' stamps
HBF = (49.4043, 8.6785)
BISMARCK = (49.4095, 8.6930)  # inside the no-parking, 10 km/h zone
BERGHEIM = (49.4087, 8.6845)
NEUENHEIM_MARKT = (49.4160, 8.6930)  # inside the station-parking-only zone


@pytest.fixture(scope="module")
def scooters():
    return load_free_floating(FIXTURES / "gbfs_free_v3", now=NOW)


@pytest.fixture(scope="module")
def bikes():
    return load_free_floating(FIXTURES / "gbfs_free_v23", now=NOW)


@pytest.fixture(scope="module")
def networks(hd_networks):
    return hd_networks


def context(networks, *snapshots) -> PlanContext:
    return PlanContext(networks, vehicles=VehicleStore(snapshots))


def request(a, b, modes="free_floating", **kw) -> PlanRequest:
    kw.setdefault("availability_at", NOW)
    return PlanRequest(a, b, DEPART, modes=modes, **kw)


def ride_of(result):
    its = [it for it in result.itineraries if it.mode == "free_floating"]
    assert its, result.reasons
    it = its[0]
    rides = [leg for leg in it.legs if leg.extra.get("freeFloating")]
    assert len(rides) == 1
    return it, rides[0]


def vertices(leg) -> list[shapely.Point]:
    return [shapely.Point(lon, lat) for lat, lon in zip(leg.lats, leg.lons, strict=True)]


def test_scooter_trip_follows_zones_range_and_availability(networks, scooters) -> None:
    ctx = context(networks, scooters)
    it, ride = ride_of(plan(request(HBF, BISMARCK), ctx))
    assert [leg.mode for leg in it.legs] == ["WALK", "SCOOTER", "WALK"]
    vid = ride.extra["rentedVehicle"]["id"]
    feed = {v.id: v for v in scooters.vehicles}
    vehicle = feed[vid]
    # rentable, an e-scooter, standing where a ride may start, with enough range
    assert vehicle.rentable
    assert scooters.vehicle_type(vehicle).form_factor == "scooter_standing"
    zones = scooters.geofencing
    assert zones.rule_at(vehicle.lat, vehicle.lon, "escooter").ride_start_allowed
    assert ride.distance_m <= scooters.range_m(vehicle)
    assert (ride.from_place.lat, ride.from_place.lon) == (vehicle.lat, vehicle.lon)
    # never through the construction site
    works = zones.zones[1].geometry
    assert not any(works.covers(p) for p in vertices(ride))
    # parked where parking is allowed (not on Bismarckplatz), then walked on
    end = ride.to_place
    assert zones.rule_at(end.lat, end.lon, "escooter").parking_allowed
    assert not zones.rule_at(*BISMARCK, "escooter").parking_allowed
    assert it.legs[2].to_place.name == "Destination"
    assert ride.extra["reliesOnRealtime"] is True
    assert ride.extra["rangeKnown"] is True
    assert ride.extra["cost"]["amount"] > 0
    # legs in order, the ride starts after walking there and unlocking
    assert ride.start >= it.legs[0].end
    assert it.legs[2].start >= ride.end


def test_forbidden_zone_changes_the_route(networks, scooters) -> None:
    # Same vehicles, same parking ban; only the construction-site zone differs.
    zones = scooters.geofencing
    works = zones.zones[1].geometry
    without = replace(scooters, geofencing=Geofencing((zones.zones[2],), zones.global_rules))
    _, free_ride = ride_of(plan(request(HBF, BISMARCK), context(networks, without)))
    assert any(works.covers(p) for p in vertices(free_ride))
    with_site = replace(scooters, geofencing=Geofencing(zones.zones[1:], zones.global_rules))
    _, ride = ride_of(plan(request(HBF, BISMARCK), context(networks, with_site)))
    assert ride.extra["rentedVehicle"]["id"] == free_ride.extra["rentedVehicle"]["id"]
    assert not any(works.covers(p) for p in vertices(ride))
    assert (ride.end - ride.start) > (free_ride.end - free_ride.start)  # the detour costs time


def test_speed_limits_bound_the_ride_time(networks, scooters) -> None:
    ctx = context(networks, scooters)
    _, ride = ride_of(plan(request(HBF, BISMARCK), ctx))
    graph = networks["bike"].graph
    tails = graph.tail()
    zones = scooters.geofencing
    bound = 0.0
    for e in ride.road_edges.tolist():
        lat = (graph.lat[tails[e]] + graph.lat[graph.head[e]]) / 2
        lon = (graph.lon[tails[e]] + graph.lon[graph.head[e]]) / 2
        rule = zones.rule_at(float(lat), float(lon), "escooter")
        limit = min(rule.maximum_speed_kph or math.inf, 20.0)  # the scooter's own 20 km/h
        assert rule.ride_through_allowed
        bound += float(graph.length_m[e]) / (limit / 3.6)
    duration = (ride.end - ride.start).total_seconds()
    assert duration >= bound - 1.0
    assert ride.extra["geofencing"]["speedLimitedSeconds"] > 0  # the 10 km/h square


def test_reserved_disabled_low_range_and_cars_are_never_used(networks, scooters) -> None:
    keep = {"scoot-low", "scoot-reserved", "scoot-disabled", "scoot-nostart", "car-1"}
    only_bad = replace(
        scooters, vehicles=tuple(v for v in scooters.vehicles if v.id.rsplit(":", 1)[1] in keep)
    )
    result = plan(request(HBF, BISMARCK), context(networks, only_bad))
    assert result.itineraries == []
    assert "range" in result.reasons["free_floating"]
    none_left = replace(
        only_bad, vehicles=tuple(v for v in only_bad.vehicles if not v.id.endswith("low"))
    )
    result = plan(request(HBF, BISMARCK), context(networks, none_left))
    assert "no rentable e-scooter or bike" in result.reasons["free_floating"]


def test_no_parking_anywhere_near_the_destination(networks, scooters) -> None:
    big = shapely.Point(BISMARCK[1], BISMARCK[0]).buffer(0.03)  # ~2-3 km all around
    shapely.prepare(big)
    from routing.stations.geofencing import Zone

    no_park = Zone("no parking", big, (ZoneRule(None, ride_end_allowed=False),))
    snap = replace(scooters, geofencing=Geofencing((no_park,)))
    result = plan(request(HBF, BISMARCK), context(networks, snap))
    assert result.itineraries == []
    assert "no parking allowed near the destination" in result.reasons["free_floating"]


def test_stale_feed_is_not_used_and_updates_are_followed(networks, scooters) -> None:
    store = VehicleStore([scooters])
    ctx = PlanContext(networks, vehicles=store)
    later = NOW + dt.timedelta(minutes=30)
    stale = plan(request(HBF, BISMARCK, availability_at=later), ctx)
    assert stale.itineraries == []
    assert "no rentable" in stale.reasons["free_floating"]
    # a poller applies the next vehicle_status: scoot-ok has been taken
    doc = json.loads((FIXTURES / "gbfs_free_v3" / "vehicle_status.json").read_text())
    doc["last_updated"] = "2022-09-14T05:59:00Z"
    doc["data"]["vehicles"] = [v for v in doc["data"]["vehicles"] if v["vehicle_id"] != "scoot-ok"]
    store.apply_vehicle_status("hd_scoot", doc, now=NOW)
    result = plan(request(HBF, BISMARCK), ctx)
    for it in result.itineraries:
        for leg in it.legs:
            assert leg.extra.get("rentedVehicle", {}).get("id") != "gbfs:hd_scoot:vehicle:scoot-ok"
    # a malformed update changes nothing, and planning goes on
    with pytest.raises(ValueError):
        store.apply_vehicle_status("hd_scoot", b"\x00garbage", now=NOW)
    assert plan(request(HBF, BISMARCK), ctx).reasons == result.reasons


def test_dockless_bikes_v23_end_outside_station_parking_zone(networks, bikes) -> None:
    ctx = context(networks, bikes)
    it, ride = ride_of(plan(request(BERGHEIM, NEUENHEIM_MARKT), ctx))
    assert ride.mode == "BICYCLE"
    vid = ride.extra["rentedVehicle"]["id"]
    assert vid in ("gbfs:hd_rad:vehicle:rad-1", "gbfs:hd_rad:vehicle:rad-2")  # not the flat e-bike
    zones = bikes.geofencing
    assert not zones.rule_at(*NEUENHEIM_MARKT, "bike").parking_allowed
    assert zones.rule_at(ride.to_place.lat, ride.to_place.lon, "bike").parking_allowed
    assert ride.extra["rangeKnown"] is False  # a human-powered bike has no range limit
    # riding a pedal bike is effort
    assert it.effort_s >= (ride.end - ride.start).total_seconds()


def test_both_systems_and_other_modes_together(networks, scooters, bikes) -> None:
    ctx = context(networks, scooters, bikes)
    result = plan(request(HBF, BISMARCK, modes=None), ctx)
    assert "free_floating" in {it.mode for it in result.itineraries} | set(result.reasons)
    direct = plan(request(HBF, BISMARCK, modes="walk,free_floating"), ctx)
    assert {it.mode for it in direct.itineraries} == {"walk", "free_floating"}
    walk = next(it for it in direct.itineraries if it.mode == "walk")
    scoot = next(it for it in direct.itineraries if it.mode == "free_floating")
    assert scoot.end < walk.end  # faster than walking 1.4 km, or it would be dominated
    # arrive-by: the same trip moved to arrive by the deadline
    by = plan(request(HBF, BISMARCK, arrive_by=True), ctx)
    it, _ = ride_of(by)
    deadline = DEPART.replace(tzinfo=it.end.tzinfo)
    assert it.end <= deadline + dt.timedelta(seconds=1)


def test_no_vehicles_wheelchair_and_outside(networks, scooters) -> None:
    empty = plan(request(HBF, BISMARCK), PlanContext(networks))
    assert "no free-floating vehicles loaded" in empty.reasons["free_floating"]
    ctx = context(networks, scooters)
    assert (
        "step-free" in plan(request(HBF, BISMARCK, wheelchair=True), ctx).reasons["free_floating"]
    )
    far = plan(request((49.46, 8.60), (49.47, 8.61)), ctx)
    assert far.itineraries == []
    assert far.reasons["free_floating"]


def test_walk_to_vehicle_is_short(networks, scooters) -> None:
    it, ride = ride_of(plan(request(HBF, BISMARCK), context(networks, scooters)))
    walk = it.legs[0]
    straight = float(haversine_m(*HBF, ride.from_place.lat, ride.from_place.lon))
    assert walk.distance_m >= straight - 1
    assert (walk.end - walk.start).total_seconds() <= 900


@pytest.fixture(scope="module")
def transit(hd_region, hd_data_dir, cache_dir):
    from routing.transit.door_to_door import load_transit_network

    return load_transit_network(hd_region, data_dir=hd_data_dir, cache_dir=cache_dir)


def test_scooter_to_a_transit_stop_then_tram(networks, transit, scooters) -> None:
    ctx = PlanContext(networks, transit, vehicles=VehicleStore([scooters]))
    edingen = (49.4460, 8.6040)
    result = plan(request(HBF, edingen), ctx)
    via = [
        it
        for it in result.itineraries
        if any(leg.transit for leg in it.legs) and any(leg.mode == "SCOOTER" for leg in it.legs)
    ]
    assert via, (result.reasons, [[leg.mode for leg in it.legs] for it in result.itineraries])
    it = via[0]
    modes = [leg.mode for leg in it.legs]
    assert modes[:2] == ["WALK", "SCOOTER"]
    ride = it.legs[1]
    first_ride = next(leg for leg in it.legs if leg.transit)
    # parked at the stop where the tram is boarded, where parking is allowed, in time
    assert (ride.to_place.lat, ride.to_place.lon) == pytest.approx(
        (first_ride.from_place.lat, first_ride.from_place.lon), abs=1e-6
    )
    assert scooters.geofencing.rule_at(
        ride.to_place.lat, ride.to_place.lon, "escooter"
    ).parking_allowed
    assert ride.end <= first_ride.start
    assert (ride.end - ride.start).total_seconds() <= request(HBF, edingen).max_bike_s
    assert ride.distance_m <= 6000
    for a, b in zip(it.legs, it.legs[1:], strict=False):
        assert b.start >= a.end - dt.timedelta(seconds=1)
    # arrive-by plans the direct rides only (where a vehicle stands later is not known)
    by = plan(request(HBF, BISMARCK, arrive_by=True), ctx)
    for it in by.itineraries:
        assert not any(leg.transit for leg in it.legs)


def test_scooter_rides_respect_live_road_closures(networks, scooters) -> None:
    from routing.live import LiveState

    at = PlanRequest(HBF, BISMARCK, DEPART).at_unix
    live = LiveState({p: n.graph for p, n in networks.items()}, clock=lambda: at)
    ctx = PlanContext(networks, vehicles=VehicleStore([scooters]), live=live)
    _, before = ride_of(plan(request(HBF, BISMARCK), ctx))
    graph = networks["bike"].graph
    mid = before.road_edges[before.road_edges.size // 3 : 2 * before.road_edges.size // 3]
    closure = live.add_closure(
        way_ids=sorted(set(graph.way_id[mid].tolist())), start=at - 600, end=at + 600
    )
    closed = set(live.closure_edges(closure.id, "bike").tolist())
    assert set(before.road_edges.tolist()) & closed
    _, after = ride_of(plan(request(HBF, BISMARCK), ctx))
    assert not set(after.road_edges.tolist()) & closed
    works = scooters.geofencing.zones[1].geometry
    assert not any(works.covers(p) for p in vertices(after))  # zones still hold


def test_ride_time_matches_a_scipy_dijkstra_on_independently_zoned_weights(
    networks, scooters
) -> None:
    """Oracle: the zone rules applied edge by edge here (first zone wins), then scipy."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    _, ride = ride_of(plan(request(HBF, BISMARCK), context(networks, scooters)))
    assert ride.to_place.name.startswith("Parking")
    graph = networks["bike"].graph
    tails = graph.tail()
    lat = (graph.lat[tails] + graph.lat[graph.head]) / 2
    lon = (graph.lon[tails] + graph.lon[graph.head]) / 2
    through = np.ones(graph.n_edges, bool)
    limit = np.full(graph.n_edges, 20.0)  # global rule and the scooter's own limit
    decided = np.zeros(graph.n_edges, bool)
    for zone in scooters.geofencing.zones:
        inside = shapely.intersects_xy(zone.geometry, lon, lat) & ~decided
        rule = zone.rules[0]
        through[inside] = rule.ride_through_allowed
        if rule.maximum_speed_kph is not None:
            limit[inside] = np.minimum(limit[inside], rule.maximum_speed_kph)
        decided |= inside
    w = np.maximum(graph.travel_time, graph.length_m / (limit / 3.6))
    w[~through] = np.inf
    ok = np.isfinite(w)
    m = csr_matrix((w[ok], (tails[ok], graph.head[ok])), shape=(graph.n_nodes, graph.n_nodes))
    vehicle = networks["bike"].snap(ride.from_place.lat, ride.from_place.lon)
    seeds, costs = vehicle.source_seeds(w)
    end = int(
        np.flatnonzero((graph.lat == ride.to_place.lat) & (graph.lon == ride.to_place.lon))[0]
    )
    d = dijkstra(m, indices=seeds[np.isfinite(costs)])
    best = float(np.min(costs[np.isfinite(costs)] + d[:, end]))
    assert (ride.end - ride.start).total_seconds() == pytest.approx(best, abs=0.5)
