"""Planner under city operations: step-free trips, live closures, arrive-by, shuttle legs.

Every check is independent of the planner's own bookkeeping: steps are read
from the OSM file with osmium, closed edges come from the live state, travel
times under closures are recomputed with scipy's Dijkstra, arrive-by is
compared with a brute force over depart-at plans, and the time consistency of
legs is checked on the itineraries of many random plans of every mode
(including real shuttle quotes from the fleet's online dispatcher).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import replace

import numpy as np
import osmium
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from benchmarks.support.planner import DEPART, FIXTURE_NOW, fixture_chargers, fixture_stations
from fleet.online.dispatcher import Dispatcher, FleetSpec
from fleet.online.provider import ShuttleProvider
from fleet.online.travel import RoadTravel
from routing.live import LiveState
from routing.planner import EvSpec, PlanContext, PlanRequest, plan
from routing.planner.legs import RoadLeg
from routing.planner.modes.transit import NO_ARRIVE_BY
from routing.stations.loader import load_chargers, load_stations

TZ = "Europe/Berlin"
HANDSCHUHSHEIM = (49.4270, 8.6840)
ROHRBACH = (49.3790, 8.6890)
HBF = (49.4040, 8.6780)
BISMARCK = (49.4095, 8.6930)
BERGHEIM = (49.4085, 8.6850)
NEUENHEIM = (49.4160, 8.6930)
CHRISTUSKIRCHE = (49.4010, 8.6850)
PAIRS = [(HANDSCHUHSHEIM, ROHRBACH), (BERGHEIM, ROHRBACH), (NEUENHEIM, CHRISTUSKIRCHE)]
T0 = DEPART.replace(tzinfo=dt.timezone(dt.timedelta(hours=2))).timestamp()  # 08:00 CEST
LOW_EV = EvSpec(capacity_kwh=20.0, battery_percent=15, consumption_kwh_per_km=0.5)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def transit_net(hd_region, hd_data_dir, cache_dir):
    from routing.transit.door_to_door import load_transit_network

    return load_transit_network(hd_region, data_dir=hd_data_dir, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def wheelchair_net(hd_region, hd_data_dir, cache_dir):
    from routing.road import load_wheelchair_network

    return load_wheelchair_network(hd_region, data_dir=hd_data_dir, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def stores(hd_region, hd_data_dir):
    return (
        load_stations(hd_region, hd_data_dir).snapshot(),
        load_chargers(hd_region, hd_data_dir).snapshot(),
    )


def make_ctx(hd_networks, transit_net, wheelchair_net, stores, **kw) -> PlanContext:
    stations, chargers = stores
    return PlanContext(
        {**hd_networks, "wheelchair": wheelchair_net},
        transit_net,
        fixture_stations(stations),
        fixture_chargers(chargers),
        **kw,
    )


@pytest.fixture(scope="module")
def ctx(hd_networks, transit_net, wheelchair_net, stores):
    return make_ctx(hd_networks, transit_net, wheelchair_net, stores)


@pytest.fixture(scope="module")
def steps_ways(hd_region, hd_data_dir) -> set[int]:
    """Way ids tagged highway=steps, read independently with osmium."""
    found = set()
    for way in osmium.FileProcessor(str(hd_region.source_file("osm", hd_data_dir)), osmium.osm.WAY):
        if way.tags.get("highway") == "steps":
            found.add(way.id)
    return found


def request(a, b, modes=None, **kw) -> PlanRequest:
    kw.setdefault("availability_at", FIXTURE_NOW)
    return PlanRequest(a, b, kw.pop("at", DEPART), modes=modes, **kw)


def road_legs(result):
    return [leg for it in result.itineraries for leg in it.legs if isinstance(leg, RoadLeg)]


def city_pairs(ctx: PlanContext, n: int, seed: int):
    """Random walk-graph nodes of the city, 600 m to 6 km apart."""
    from routing.geo import haversine_m

    g = ctx.networks["walk"].graph
    lat, lon = np.asarray(g.lat), np.asarray(g.lon)
    inside = np.flatnonzero((lat > 49.37) & (lat < 49.43) & (lon > 8.64) & (lon < 8.72))
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        a, b = (int(inside[rng.randrange(inside.size)]) for _ in range(2))
        if 600 <= float(haversine_m(lat[a], lon[a], lat[b], lon[b])) <= 6000:
            out.append(((float(lat[a]), float(lon[a])), (float(lat[b]), float(lon[b]))))
    return out


def assert_time_consistent(result, req: PlanRequest) -> None:
    """Legs follow each other in time and place; nothing before the departure/after the deadline."""
    for it in result.itineraries:
        legs = it.legs
        for leg in legs:
            assert leg.end >= leg.start, (it.mode, leg.mode, leg.start, leg.end)
            assert leg.start.tzinfo is not None
        for prev, leg in itertools.pairwise(legs):
            assert leg.start >= prev.end, (
                f"{it.mode}: {leg.mode} starts {leg.start:%H:%M:%S} before the "
                f"{prev.mode} ends {prev.end:%H:%M:%S}"
            )
            assert (prev.to_place.lat, prev.to_place.lon) == pytest.approx(
                (leg.from_place.lat, leg.from_place.lon), abs=1e-6
            )
        if req.arrive_by:
            assert it.end <= req.depart_at + dt.timedelta(seconds=1), it.mode
        else:
            assert it.start >= req.depart_at - dt.timedelta(seconds=1), it.mode


# --------------------------------------------------------------------------- step-free


@pytest.mark.parametrize(("a", "b"), [*PAIRS, (HBF, BISMARCK), (CHRISTUSKIRCHE, HBF)])
def test_step_free_itineraries_never_use_steps(ctx, steps_ways, a, b):
    assert steps_ways
    req = request(a, b, wheelchair=True, ev=LOW_EV)
    result = plan(req, ctx)
    assert result.itineraries, result.reasons
    assert_time_consistent(result, req)
    walk_graph, wc = ctx.networks["walk"].graph, ctx.networks["wheelchair"]
    for it in result.itineraries:
        assert it.mode not in ("bike", "bike_ride", "bike_share")
        for leg in it.legs:
            if leg.mode == "WALK":
                assert isinstance(leg, RoadLeg)
                info = leg.extra["accessibility"]
                if info["stepFree"] is True:
                    assert leg.road_profile == "wheelchair"
                    ways = set(wc.graph.way_id[leg.road_edges].tolist())
                    assert not ways & steps_ways, ways & steps_ways
                    # unknown segments: at least the distinct untagged edges of the path
                    e = leg.road_edges
                    if e.size:
                        pairs = {
                            frozenset((int(t), int(h)))
                            for t, h in zip(
                                wc.graph.tail()[e], wc.graph.head[e], strict=True
                            )
                            if wc.access[int(np.flatnonzero(
                                (wc.graph.tail() == t) & (wc.graph.head == h)
                            )[0])] == 0
                        }  # fmt: skip
                        assert len(pairs) <= info["unknownSegments"] <= len(pairs) + 2
                else:
                    assert info["stepFree"] == "unknown"
            if leg.transit:
                acc = leg.extra["accessibility"]
                assert set(acc) >= {"boarding", "alighting", "vehicle"}
                assert "not accessible" not in acc.values()
                # Heidelberg publishes no wheelchair data: reported, not assumed
                assert acc["boarding"] == "unknown" and "note" in acc
    # walkers (not wheelchair users) do use steps somewhere in the city
    assert set(np.unique(walk_graph.way_id).tolist()) & steps_ways


def test_step_free_avoids_inaccessible_stops_and_trips(ctx, transit_net):
    plain = plan(request(HANDSCHUHSHEIM, ROHRBACH, modes="transit"), ctx)
    assert plain.itineraries
    tt = transit_net.timetable
    stop_index = {sid: i for i, sid in enumerate(tt.stop_ids.tolist())}
    trip_index = {tid: i for i, tid in enumerate(tt.trip_ids.tolist())}
    used_stops, used_trips = set(), set()
    for it in plain.itineraries:
        for leg in it.legs:
            if leg.transit:
                used_stops |= {stop_index[leg.from_place.stop_id], stop_index[leg.to_place.stop_id]}
                used_trips.add(trip_index[leg.trip_id])
    stops_wc = np.asarray(tt.stop_wheelchair).copy()
    trips_wc = np.asarray(tt.trip_wheelchair).copy()
    bad_stop = sorted(used_stops)[0]
    stops_wc[bad_stop] = 2
    trips_wc[sorted(used_trips)] = 2
    stops_wc[stops_wc == 0] = 1  # every other stop and trip published as accessible
    trips_wc[trips_wc == 0] = 1
    marked = replace(tt, stop_wheelchair=stops_wc, trip_wheelchair=trips_wc)
    local = PlanContext(
        ctx.networks, transit_net.with_timetable(marked), ctx.stations, ctx.chargers
    )
    for strict in (False, True):
        req = request(
            HANDSCHUHSHEIM,
            ROHRBACH,
            modes="transit",
            wheelchair=True,
            allow_unknown_access=not strict,
        )
        result = plan(req, local)
        assert result.itineraries, result.reasons
        assert_time_consistent(result, req)
        for it in result.itineraries:
            for leg in it.legs:
                if not leg.transit:
                    continue
                a, b = stop_index[leg.from_place.stop_id], stop_index[leg.to_place.stop_id]
                trip = trip_index[leg.trip_id]
                assert stops_wc[a] == 1 and stops_wc[b] == 1 and trips_wc[trip] == 1
                assert leg.extra["accessibility"] == {
                    "boarding": "accessible",
                    "alighting": "accessible",
                    "vehicle": "accessible",
                }


def test_step_free_strict_without_published_data_explains(ctx):
    req = request(HANDSCHUHSHEIM, ROHRBACH, modes="transit,bike,bike_share", wheelchair=True,
                  allow_unknown_access=False)  # fmt: skip
    result = plan(req, ctx)
    assert result.itineraries == []
    assert "step-free transit" in result.reasons["transit"]
    assert "wheelchair" in result.reasons["bike"] and "wheelchair" in result.reasons["bike_share"]


def test_step_free_without_network_is_a_reason_and_loads_lazily(
    hd_networks, transit_net, wheelchair_net, stores
):
    stations, chargers = stores
    bare = PlanContext(dict(hd_networks), transit_net, fixture_stations(stations),
                       fixture_chargers(chargers))  # fmt: skip
    result = plan(request(HBF, ROHRBACH, modes="walk,transit,car", wheelchair=True), bare)
    assert "wheelchair" in result.reasons["walk"] and "wheelchair" in result.reasons["transit"]
    assert [it.mode for it in result.itineraries] == ["car"]
    calls = []

    def loader():
        calls.append(1)
        return wheelchair_net

    lazy = PlanContext(dict(hd_networks), transit_net, fixture_stations(stations),
                       fixture_chargers(chargers), wheelchair_loader=loader)  # fmt: skip
    plan(request(HBF, ROHRBACH, modes="walk"), lazy)
    assert calls == []  # not needed for ordinary plans
    for _ in range(2):
        got = plan(request(HBF, ROHRBACH, modes="walk,transit", wheelchair=True), lazy)
        assert "transit" in {it.mode for it in got.itineraries}, got.reasons
    assert calls == [1]


def test_wheelchair_shuttle_needs_a_wheelchair_place(ctx, hd_networks):
    far = (49.3700, 8.7000)
    for places, expect in ((0, False), (1, True)):
        local = PlanContext(ctx.networks, ctx.transit, ctx.stations, ctx.chargers)
        provider = shuttle_provider(hd_networks["car"], wheelchairs=places)
        local.add_provider(provider)
        req = request(far, HANDSCHUHSHEIM, modes="shuttle", wheelchair=True)
        result = plan(req, local)
        assert bool(result.itineraries) is expect, result.reasons
        if not expect:
            assert "shuttle" in result.reasons["shuttle"]
            continue
        assert_time_consistent(result, req)
        for it in result.itineraries:
            for leg in (x for x in it.legs if x.mode == "ODM"):
                offer = leg.extra["booking"]["offerId"]
                trip, _ = provider._offers[offer]
                assert trip.wheelchairs == 1 and trip.passengers == 0
                assert leg.extra["accessibility"] == {"wheelchairPlace": True}


# --------------------------------------------------------------------------- live closures


def shuttle_provider(car, *, wheelchairs: int = 1, vehicles: int = 6) -> ShuttleProvider:
    travel = RoadTravel.from_network(car)
    depot = travel.locate(49.4040, 8.6780)
    fleet = FleetSpec(n_vehicles=vehicles, seats=8, wheelchairs=wheelchairs, depots=(depot,),
                      shift=(0.0, 1e9))  # fmt: skip
    origin = dt.datetime(2022, 9, 14, tzinfo=dt.timezone(dt.timedelta(hours=2))).timestamp()
    d = Dispatcher(travel, fleet, seed=0)
    return ShuttleProvider(d, origin_unix=origin, now=lambda: T0 - origin - 600)


def live_oracle(graph, weights, src_nodes, src_costs, dst_nodes, dst_costs) -> float:
    """Seconds between seed sets on ``weights`` with scipy's Dijkstra (parallel edges: min)."""
    tail, head = graph.tail().astype(np.int64), graph.head.astype(np.int64)
    ok = np.isfinite(weights)
    tail, head, w = tail[ok], head[ok], np.asarray(weights)[ok]
    order = np.lexsort((w, head, tail))
    tail, head, w = tail[order], head[order], w[order]
    first = np.ones(tail.size, bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    m = csr_matrix((w[first] + 1e-9, (tail[first], head[first])), shape=(graph.n_nodes,) * 2)
    best = np.inf
    for s, cs in zip(src_nodes, src_costs, strict=True):
        if not np.isfinite(cs):
            continue
        d = dijkstra(m, indices=int(s))
        for t, ct in zip(dst_nodes, dst_costs, strict=True):
            best = min(best, cs + d[int(t)] + ct)
    return best


@pytest.fixture(scope="module")
def closure_case(hd_networks, transit_net, wheelchair_net, stores):
    """A context with a live state, and a closure of ways the static plans use."""
    clock = [T0]
    base_ctx = make_ctx(hd_networks, transit_net, wheelchair_net, stores)
    graphs = {p: n.graph for p, n in base_ctx.networks.items()}
    live = LiveState(graphs, clock=lambda: clock[0])
    ctx = make_ctx(hd_networks, transit_net, wheelchair_net, stores, live=live)
    base = {}
    ways: set[int] = set()
    for a, b in PAIRS[:2]:
        res = plan(request(a, b, modes="walk,bike,car"), base_ctx)
        for leg in road_legs(res):
            base[(a, b, leg.mode)] = leg
            g = base_ctx.networks[leg.road_profile].graph
            mid = leg.road_edges[leg.road_edges.size // 3 : 2 * leg.road_edges.size // 3]
            ways |= set(g.way_id[mid[:: max(1, mid.size // 3)]].tolist())
    closure = live.add_closure(way_ids=sorted(ways), start=T0 - 3600, end=T0 + 3600,
                               reason="Elster flood")  # fmt: skip
    return ctx, live, closure, base, clock


def closed_edges(live, closure, profile: str) -> set[int]:
    return set(live.closure_edges(closure.id, profile).tolist())


def test_closed_roads_are_never_used_while_closed(closure_case):
    ctx, live, closure, base, _ = closure_case
    for (_a, _b, mode), leg in base.items():
        assert set(leg.road_edges.tolist()) & closed_edges(live, closure, leg.road_profile), mode
    for a, b in PAIRS:
        for extra in ({"ev": LOW_EV}, {"wheelchair": True}):
            req = request(a, b, **extra)
            result = plan(req, ctx)
            assert result.itineraries, result.reasons
            assert_time_consistent(result, req)
            legs = road_legs(result)
            assert legs
            for leg in legs:
                used = set(leg.road_edges.tolist())
                assert not used & closed_edges(live, closure, leg.road_profile), (
                    f"{leg.mode} leg on {leg.road_profile} uses a closed road"
                )


def test_times_under_closure_match_dijkstra_on_the_live_graph(closure_case):
    ctx, live, _, _, _ = closure_case
    for a, b in PAIRS[:2]:
        for profile, mode in (("car", "car"), ("bike", "bike"), ("walk", "walk")):
            res = plan(request(a, b, modes=mode), ctx)
            if not res.itineraries:
                continue
            it = res.itineraries[0]
            net = ctx.networks[profile]
            w = live.weights(profile, at=T0).travel_time
            sa, sb = net.snap(*a), net.snap(*b)
            want = live_oracle(net.graph, w, *sa.source_seeds(w), *sb.target_seeds(w))
            if profile == "walk":
                want += (sa.distance_m + sb.distance_m) / 1.2
            got = (it.end - it.start).total_seconds()
            assert got == pytest.approx(want, abs=1.0), (profile, a, b)


def test_closed_roads_are_used_again_after_the_window(closure_case):
    ctx, _, _, base, _ = closure_case
    later = DEPART + dt.timedelta(hours=2)
    for (a, b, mode), leg in base.items():
        res = plan(request(a, b, modes={"WALK": "walk", "BICYCLE": "bike", "CAR": "car"}[mode],
                           at=later), ctx)  # fmt: skip
        again = road_legs(res)[0]
        assert np.array_equal(again.road_edges, leg.road_edges), mode


def test_live_tables_follow_changes(hd_networks, transit_net, wheelchair_net, stores):
    """Charger matrices and box walks computed under a closure are dropped when it changes."""
    live = LiveState({p: n.graph for p, n in hd_networks.items()}, clock=lambda: T0)
    ctx = make_ctx(hd_networks, transit_net, wheelchair_net, stores, live=live)
    spec = EvSpec(capacity_kwh=20.0, battery_kwh=3.0, consumption_kwh_per_km=0.5)
    req = request(HANDSCHUHSHEIM, ROHRBACH, modes="ev", ev=spec)
    first = plan(req, ctx).itineraries[0]
    charge = next(leg for leg in first.legs if leg.mode == "CHARGING")
    # close the roads into the charger used: the next plan must not drive there the same way
    car = ctx.networks["car"].graph
    into = next(leg for leg in first.legs if leg.mode == "CAR")
    ways = sorted(set(car.way_id[into.road_edges[-3:]].tolist()))
    c = live.add_closure(way_ids=ways, profiles=("car",))
    assert ctx._live_tables == {}
    second = plan(req, ctx)
    blocked = set(live.closure_edges(c.id, "car").tolist())
    for leg in road_legs(second):
        assert not set(leg.road_edges.tolist()) & blocked
    live.remove_closure(c.id)
    assert ctx._live_tables == {}
    third = plan(req, ctx).itineraries[0]
    assert (
        next(x for x in third.legs if x.mode == "CHARGING").extra["charger"]["id"]
        == (charge.extra["charger"]["id"])
    )


def test_dispatcher_respects_closures_and_reopens(hd_networks):
    car = hd_networks["car"]
    clock = [T0]
    live = LiveState({"car": car.graph}, clock=lambda: clock[0])
    travel = RoadTravel.from_network(car.with_live(live))
    assert travel.live is live
    a, b = travel.locate(*HANDSCHUHSHEIM), travel.locate(*ROHRBACH)
    base_path = travel.path(a, b)
    base_time = travel.time(a, b)
    g = car.graph
    # edges of the base path (consecutive node pairs), and ways from its middle third
    tail, head = g.tail(), g.head
    nodes = base_path.locations
    path_edges = [
        int(np.flatnonzero((tail == u) & (head == v))[0])
        for u, v in itertools.pairwise(nodes.tolist())
    ]
    mid = path_edges[len(path_edges) // 3 : 2 * len(path_edges) // 3]
    closure = live.add_closure(way_ids=sorted(set(g.way_id[mid].tolist())), start=T0 - 60,
                               end=T0 + 3600)  # fmt: skip
    closed = set(live.closure_edges(closure.id, "car").tolist())
    w = live.weights("car").travel_time

    def open_hops(path) -> bool:
        for u, v in itertools.pairwise(path.locations.tolist()):
            hops = np.flatnonzero((tail == u) & (head == v))
            if not np.isfinite(w[hops]).any():
                return False
        return True

    detour = travel.path(a, b)
    assert open_hops(detour) and not open_hops(base_path)
    want = live_oracle(g, w, [a], [0.0], [b], [0.0])
    assert travel.time(a, b) == pytest.approx(want, abs=0.01) and want > base_time
    sec, _ = travel.matrix([a, b], [b, a])
    assert sec[0, 0] == pytest.approx(want, abs=0.01)
    # the dispatcher quotes, schedules and drives with the live times (open roads only)
    origin = T0 - 8 * 3600
    d = Dispatcher(travel, FleetSpec(n_vehicles=2, depots=(a,), shift=(0.0, 1e9)), seed=0)
    prov = ShuttleProvider(d, origin_unix=origin, now=lambda: clock[0] - origin)
    trip, promise = prov._quote(HANDSCHUHSHEIM, ROHRBACH, clock[0] - origin)
    assert promise.accepted and promise.direct_s == pytest.approx(want, abs=0.01)
    prov.book(trip.id)
    d.advance_to(clock[0] - origin + 3000)
    driven = [leg for leg in d.legs if leg.origin != leg.destination]
    assert driven
    for leg in driven:
        oracle = live_oracle(g, w, [leg.origin], [0.0], [leg.destination], [0.0])
        assert leg.arrive - leg.depart == pytest.approx(oracle, abs=0.01)
        assert open_hops(travel.path(leg.origin, leg.destination))
    assert closed
    # after the window the road is used again
    clock[0] = T0 + 3700
    assert travel.time(a, b) == pytest.approx(base_time, abs=0.01)
    assert np.array_equal(travel.path(a, b).locations, base_path.locations)


# --------------------------------------------------------------------------- arrive-by


@pytest.mark.parametrize(("a", "b"), PAIRS)
@pytest.mark.parametrize(
    "deadline", [dt.datetime(2022, 9, 14, 8, 30), dt.datetime(2022, 9, 14, 9, 7)]
)
def test_arrive_by_transit_matches_brute_force(ctx, a, b, deadline):
    tz = dt.timezone(dt.timedelta(hours=2))
    d = deadline.replace(tzinfo=tz)
    req = request(a, b, modes="transit", at=deadline, arrive_by=True)
    result = plan(req, ctx)
    assert_time_consistent(result, req)
    # brute force: depart-at plans every minute of the two hours before the deadline
    brute = None
    for minutes in range(120, 0, -1):
        t = d - dt.timedelta(minutes=minutes)
        for it in plan(request(a, b, modes="transit", at=t), ctx).itineraries:
            if it.end <= d and (brute is None or it.start > brute):
                brute = it.start
    if brute is None:
        assert result.itineraries == [] and "arriving by" in result.reasons["transit"]
        return
    best = max(it.start for it in result.itineraries)
    # the planner's latest departure is feasible and no earlier than any grid departure ...
    assert best >= brute
    again = plan(request(a, b, modes="transit", at=best), ctx).itineraries
    assert again and min(it.end for it in again) <= d
    # ... and the grid found one within its minute
    assert best - brute < dt.timedelta(seconds=60)


def test_arrive_by_direct_modes_and_shuttle(ctx, hd_networks):
    deadline = DEPART + dt.timedelta(minutes=45)
    dep = plan(request(BERGHEIM, ROHRBACH, modes="walk,bike,car,ev", ev=LOW_EV), ctx)
    durations = {it.mode: it.end - it.start for it in dep.itineraries}
    req = request(BERGHEIM, ROHRBACH, modes="walk,bike,car,ev", ev=LOW_EV, at=deadline,
                  arrive_by=True)  # fmt: skip
    arr = plan(req, ctx)
    assert arr.itineraries
    assert_time_consistent(arr, req)
    d = req.depart_at
    for it in arr.itineraries:
        assert abs((it.end - d).total_seconds()) <= 1
        if it.mode in durations:
            assert abs((it.end - it.start) - durations[it.mode]) <= dt.timedelta(seconds=1)
    local = PlanContext(ctx.networks, ctx.transit, ctx.stations, ctx.chargers)
    local.add_provider(shuttle_provider(hd_networks["car"]))
    res = plan(request(BERGHEIM, ROHRBACH, modes="shuttle", at=deadline, arrive_by=True), local)
    assert res.reasons["shuttle"] == NO_ARRIVE_BY


# --------------------------------------------------------------------------- time consistency


def test_all_modes_are_time_consistent_over_random_plans(ctx, hd_networks):
    local = PlanContext(ctx.networks, ctx.transit, ctx.stations, ctx.chargers)
    local.add_provider(shuttle_provider(hd_networks["car"], vehicles=10))
    rng = random.Random(7)
    seen_modes: set[str] = set()
    odm_then_walk = 0
    for i, (a, b) in enumerate(city_pairs(local, 40, seed=11)):
        ev = EvSpec(capacity_kwh=20.0, battery_percent=rng.uniform(5, 60),
                    consumption_kwh_per_km=0.5)  # fmt: skip
        modes = None if i % 4 else "walk,transit,shuttle,bike_ride,car"
        at = DEPART + dt.timedelta(minutes=rng.randrange(0, 90))
        for kw in ({}, {"arrive_by": True}, {"wheelchair": True}):
            if kw.get("arrive_by") and modes and "shuttle" in modes:
                continue
            req = request(a, b, modes=modes, ev=ev, at=at, **kw)
            result = plan(req, local)
            assert_time_consistent(result, req)
            for it in result.itineraries:
                seen_modes.add(it.mode)
                names = [leg.mode for leg in it.legs]
                odm_then_walk += any(
                    x == "ODM" and y == "WALK" for x, y in itertools.pairwise(names)
                )
    assert {"walk", "transit", "bike", "car", "ev", "shuttle"} <= seen_modes, seen_modes
    assert odm_then_walk  # the shuttle-then-walk case (the old overlap bug) was exercised
