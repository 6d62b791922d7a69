# ruff: noqa: E501  (the bad-input table reads best one case per line)
"""Service concepts on the same demand: determinism, oracles, audits, bad input, publishing.

A small zone (Bergheim/Weststadt, 1.5 km), one morning hour and ~30 requests
keep every test fast; the Heidelberg shuttle network and demand model are
loaded once per module.
"""

from __future__ import annotations

import itertools
import math
import zipfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fleet.concepts import CONCEPTS
from fleet.concepts.backend import hub_point, load_concept_context, run_concept, serve
from fleet.concepts.line import build_line, build_timetable
from fleet.simulation.audit import audit
from fleet.simulation.simulator import SimulationConfig, SimulationResult
from routing.errors import DataError
from tests.support.concepts import SMALL, comparison_of, run_of


@pytest.fixture(scope="module")
def small(hd_data_dir, cache_dir):
    comparison = comparison_of()
    ctx = load_concept_context(comparison.scenario, data_dir=hd_data_dir, cache_dir=cache_dir)
    return comparison, ctx


VARIANTS = [(c, av) for c in CONCEPTS for av in (False, True)]


@pytest.mark.parametrize(("concept", "autonomous"), VARIANTS)
def test_same_seed_same_kpis(small, concept, autonomous):
    comparison, ctx = small
    run = run_of(comparison, concept, autonomous)
    a = run_concept(run, ctx)
    b = run_concept(run, ctx)
    assert a.keys() == b.keys()
    for k in a:
        assert (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k], k
    assert a["requests_simulated"] > 0
    if not autonomous:
        assert a["served_share"] > 0, f"{concept} served nobody"


def test_same_riders_meet_every_concept(small):
    comparison, ctx = small
    counts = {
        run_concept(run_of(comparison, c, False), ctx)["requests_simulated"] for c in CONCEPTS
    }
    assert len(counts) == 1


@pytest.mark.parametrize("headway_min", [5, 15])
def test_timetable_recomputed_from_cycle_time_and_headway(small, headway_min):
    comparison, ctx = small
    s = comparison.settings
    line = ctx.line(s, False, False)
    travel = ctx.travel(s, False)
    headway = headway_min * 60.0
    start, end = 8 * 3600.0, 9.5 * 3600.0
    tt = build_timetable(line, headway_s=headway, start_s=start, end_s=end)
    # the oracle: road times between the consecutive street sides of the round, out to the
    # far end and back; a dwell at every stop between the ends, a layover at each end
    k = line.n_stops - 1
    out_locs = [int(x) for x in line.loc[: k + 1]]
    in_locs = [int(x) for x in line.loc[k:]]
    assert out_locs[0] == in_locs[-1], "a round starts and ends at the hub"
    runs = {}
    for d, locs in ((0, out_locs), (1, in_locs)):
        runs[d] = [
            math.ceil(travel.time(a, b) * (1 + line.slack_share))
            for a, b in itertools.pairwise(locs)
        ]
    dwell, layover = s.line.dwell_s, s.line.layover_min * 60
    run_time = {d: sum(r) + dwell * (len(r) - 1) for d, r in runs.items()}
    cycle = run_time[0] + layover + run_time[1] + layover
    assert tt.n_vehicles == math.ceil(cycle / headway)
    # hub departures every headway from the start while before the end, plus the rounds
    # that must leave earlier so that the far end is served from the start too
    lead = math.floor((run_time[0] + layover) / headway)
    hub_departures = [start + i * headway for i in range(-lead, 100) if start + i * headway < end]
    assert tt.n_trips == len(hub_departures)
    far_departures = [t + run_time[0] + layover for t in hub_departures]
    assert start <= min(x for x in far_departures if x >= start) < start + headway
    assert min(far_departures) < start + headway
    names = list(line.stop_ids)
    for j in range(tt.n_trips):
        for d, t in ((0, hub_departures[j]), (1, far_departures[j])):
            stops, arr, dep = tt.direction(j, d)
            order = list(range(k + 1)) if d == 0 else list(range(k, -1, -1))
            assert [names[i] for i in stops] == [names[i] for i in order]
            assert dep[0] == pytest.approx(t)
            for p, r in enumerate(runs[d]):
                t += r
                assert arr[p + 1] == pytest.approx(t)
                if p + 1 < len(runs[d]):
                    t += dwell
                    assert dep[p + 1] == pytest.approx(t)
    # a vehicle's next round leaves the hub no earlier than its return plus the layover
    for j in range(tt.n_trips - tt.n_vehicles):
        back = tt.direction(j, 1)[1][-1]
        assert tt.vehicle_of(j + tt.n_vehicles) == tt.vehicle_of(j)
        assert tt.departures[j + tt.n_vehicles] >= back + layover - 1e-9


def test_street_sides_are_the_fastest_round_by_brute_force():
    from fleet.concepts.line import choose_sides

    class Matrix:  # an asymmetric road: location ids index a random time matrix
        def __init__(self, seconds):
            self.seconds = seconds

        def matrix(self, a, b):
            sec = self.seconds[np.ix_(np.asarray(a), np.asarray(b))]
            return sec, sec

    rng = np.random.default_rng(16)
    for _ in range(20):
        travel = Matrix(rng.uniform(10, 100, size=(12, 12)))
        options = [np.array([1, 2]), np.array([3, 4, 5]), np.array([5, 6]), np.array([7, 8])]
        got = choose_sides(travel, 0, options)
        # every choice of a side per position: out 1..4 (4 is the far end), back 3..1
        best = math.inf
        for out in itertools.product(*options):
            for back in itertools.product(*options[-2::-1]):
                round_ = [0, *out, *back, 0]
                if any(a == b for a, b in itertools.pairwise(round_)):
                    continue
                best = min(best, sum(travel.seconds[a, b] for a, b in itertools.pairwise(round_)))
        cost = sum(travel.seconds[a, b] for a, b in itertools.pairwise(got.tolist()))
        assert cost == pytest.approx(best)
        assert [int(v) in o for v, o in zip(got[1:5], options, strict=True)] == [True] * 4


def test_generated_line_is_a_trunk_on_the_road_network(small):
    comparison, ctx = small
    s = comparison.settings
    line = ctx.line(s, False, False)
    travel = ctx.travel(s, False)
    k = line.n_stops - 1
    assert k >= 2
    # out and back over the same stops, the far end once, the hub at both ends
    assert [line.stop_at(p) for p in range(2 * k + 1)] == [*range(k + 1), *range(k - 1, -1, -1)]
    # each run is a road path between the street sides, the shape the vehicles drive
    for p in range(2 * k):
        path = travel.path(line.position_loc(p), line.position_loc(p + 1))
        assert path.seconds[-1] == pytest.approx(line.run_s[p])
        assert path.metres[-1] == pytest.approx(line.run_m[p])
    # a stop every spacing along the road (the far end may come after half a spacing)
    assert (line.run_m[:k] >= s.line.stop_spacing_m / 2).all()
    assert line.run_m[: k - 1].mean() >= s.line.stop_spacing_m * 0.8


# ------------------------------------------------------------------ walks on the streets


def _oracle_haversine_m(lat, lon, lat2, lon2):
    """Great-circle metres (the oracle's own formula, mean Earth radius 6,371,008.8 m)."""
    p1, p2 = np.radians(lat), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon) / 2) ** 2
    )
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


class WalkOracle:
    """Slow, obvious walks: networkx Dijkstra on the walk graph rebuilt from its CSR arrays.

    A point walks in a straight line to its nearest node of the largest connected part
    (brute force over every node), then along the streets.
    """

    def __init__(self, graph):
        import networkx as nx

        from tests.support.graph_factories import to_networkx

        self.graph = graph
        self.g = to_networkx(graph, weight="length_m")
        main = max(nx.weakly_connected_components(self.g), key=len)
        self.main = np.array(sorted(main))

    def snap(self, lat, lon):
        d = _oracle_haversine_m(lat, lon, self.graph.lat[self.main], self.graph.lon[self.main])
        k = int(np.argmin(d))
        return int(self.main[k]), float(d[k])

    def to_nearest(self, stops_lat, stops_lon, *, towards: bool):
        """Walk metres from every node to its nearest stop (``towards``) or from it."""
        import networkx as nx

        g = self.g.reverse(copy=True) if towards else self.g.copy()
        for la, lo in zip(stops_lat, stops_lon, strict=True):
            node, off = self.snap(la, lo)
            if not g.has_edge("S", node) or g["S"][node]["weight"] > off:
                g.add_edge("S", node, weight=off)
        return nx.single_source_dijkstra(g, "S")[0]

    def walk(self, a, b):
        import networkx as nx

        (na, oa), (nb, ob) = self.snap(*a), self.snap(*b)
        return oa + nx.single_source_dijkstra(self.g, na, nb)[0] + ob


@pytest.fixture(scope="module")
def walk_oracle(hd_region, hd_data_dir, cache_dir):
    from routing.build import road_graphs

    graph = road_graphs(hd_region, ("walk",), data_dir=hd_data_dir, cache_dir=cache_dir)["walk"]
    return WalkOracle(graph)


def test_routed_walks_equal_the_networkx_oracle(small, walk_oracle):
    comparison, ctx = small
    s = comparison.settings
    walks = ctx.walks(s)
    assert walks.routed and "walk network" in walks.description
    stops = ctx.stops(s, False)
    lat, lon = ctx.residents()
    # every resident's walk to its nearest stop, all of them
    _, fast = stops.nearest(lat, lon)
    truth = walk_oracle.to_nearest(stops.lat, stops.lon, towards=True)
    want = np.array([truth.get(int(v), math.inf) for v in ctx.sim.model.walk_snapper.node])
    np.testing.assert_allclose(fast, want, rtol=1e-9, atol=1e-6)
    # the promise on the streets: every resident but those with no street near (parks)
    assert (want <= s.stops.walk_m).mean() >= 0.95
    # a sample of whole-trip walks, and of the bounded searches behind the set cover
    rng = np.random.default_rng(16)
    o, d = rng.choice(lat.size, 12), rng.choice(lat.size, 12)
    got = walks.pairs(lat[o], lon[o], lat[d], lon[d])
    for k in range(o.size):
        a, b = (lat[o[k]], lon[o[k]]), (lat[d[k]], lon[d[k]])
        assert got[k] == pytest.approx(walk_oracle.walk(a, b), rel=1e-9, abs=1e-6)
    pick = rng.choice(stops.n, 4, replace=False)
    near = walks.within(stops.lat[pick], stops.lon[pick], lat, lon, s.stops.walk_m)
    for k, c in enumerate(pick):
        one = walk_oracle.to_nearest(stops.lat[c : c + 1], stops.lon[c : c + 1], towards=False)
        w = np.array([one.get(int(v), math.inf) for v in ctx.sim.model.walk_snapper.node])
        inside = set(near[k].tolist())
        assert set(np.flatnonzero(w <= s.stops.walk_m - 1e-6).tolist()) <= inside
        assert inside <= set(np.flatnonzero(w <= s.stops.walk_m + 1e-6).tolist())


def test_no_stop_based_rider_walks_farther_than_the_stop_distance(small, walk_oracle):
    from fleet.concepts.backend import _stream

    comparison, ctx = small
    s = comparison.settings
    run = run_of(comparison, "stop_based", False)
    stops = ctx.stops(s, False)
    riders, *_ = serve(run, ctx)
    trips, _ = _stream(run, ctx, s, ctx.travel(s, False))
    to_stop = walk_oracle.to_nearest(stops.lat, stops.lon, towards=True)
    from_stop = walk_oracle.to_nearest(stops.lat, stops.lon, towards=False)
    served = np.flatnonzero(riders["status"] == "served")
    assert served.size > 0
    for i in served:
        trip = trips.trips[i]
        node, off = walk_oracle.snap(*trip.origin)
        access = off + to_stop[node]
        node, off = walk_oracle.snap(*trip.destination)
        egress = off + from_stop[node]
        # the rider walks to the stop with the shortest walk on the streets, never farther
        assert access <= s.stops.walk_m and egress <= s.stops.walk_m, i
        assert riders["access_walk_m"].iloc[i] == pytest.approx(access, rel=1e-9, abs=1e-6)
        assert riders["egress_walk_m"].iloc[i] == pytest.approx(egress, rel=1e-9, abs=1e-6)


def test_nobody_walks_farther_than_the_stop_distance(small):
    comparison, ctx = small
    s = comparison.settings
    stops = ctx.stops(s, False)
    lat, lon = ctx.residents()
    _, walk = stops.nearest(lat, lon)
    # every walk location is covered but those with no street in the zone within the
    # walk at all (footpaths through parks), which may be at most 5 %
    assert (walk <= s.stops.walk_m).mean() >= 0.95
    riders, *_ = serve(run_of(comparison, "stop_based", False), ctx)
    served = riders[riders["status"] == "served"]
    assert len(served) > 0
    assert served["access_walk_m"].max() <= s.stops.walk_m
    assert served["egress_walk_m"].max() <= s.stops.walk_m


def _as_result(outcome, timetable, rules) -> SimulationResult:
    config = SimulationConfig(
        n_vehicles=timetable.n_vehicles,
        capacity=rules.capacity,
        wheelchair_places=rules.wheelchair_places,
        boarding_s=rules.boarding_s,
        alighting_s=rules.alighting_s,
        shift_start_s=0.0,
    )
    return SimulationResult(
        config=config, kpis={}, requests=outcome.requests, legs=outcome.legs,
        stops=outcome.stops, charges=pd.DataFrame(), soc=pd.DataFrame(),
        history=outcome.history, timing={}, stats={}, origin_unix=0.0, timezone="UTC",
        depots=outcome.depots,
    )  # fmt: skip


@pytest.mark.parametrize(("concept", "autonomous"), VARIANTS)
def test_every_ride_passes_the_independent_audit(small, concept, autonomous):
    from fleet.concepts.timetabled import LineRules

    comparison, ctx = small
    s = comparison.settings
    run = run_of(comparison, concept, autonomous)
    riders, _, _, raw = serve(run, ctx)
    travel = ctx.travel(s, autonomous)
    if concept in ("door_to_door", "stop_based"):
        result = raw
    else:
        outcome, tt = raw
        rules = LineRules(
            capacity=s.line.capacity or int(run.params["capacity"]),
            wheelchair_places=int(run.params["wheelchair_places"]),
            boarding_s=s.line.boarding_s,
            alighting_s=s.line.boarding_s,
        )
        result = _as_result(outcome, tt, rules)
    report = audit(result, travel)
    assert report.ok, report.summary()
    assert report.served == int((riders["status"] == "served").sum())


def test_flex_route_deviates_within_the_slack(small):
    from fleet.concepts.timetabled import LineRules

    # the trunk's runs between stops 400 m apart are short (about a minute): a door detour
    # fits only a slack of twice the run; every such ride passes the audit
    _, ctx = small
    comparison = comparison_of(
        SMALL.replace("corridor_m = 700", "corridor_m = 700\nflex_slack_share = 2.0")
    )
    s = comparison.settings
    run = run_of(comparison, "flex", False)
    riders, _, _, (outcome, tt) = serve(run, ctx)
    assert riders.loc[riders["status"] == "served", "door"].any(), "no door service at all"
    rules = LineRules(
        capacity=int(run.params["capacity"]),
        wheelchair_places=int(run.params["wheelchair_places"]),
        boarding_s=s.line.boarding_s,
        alighting_s=s.line.boarding_s,
    )
    report = audit(_as_result(outcome, tt, rules), ctx.travel(s, False))
    assert report.ok, report.summary()


def test_autonomous_is_slower_and_has_no_driver(small):
    comparison, ctx = small
    s = comparison.settings
    manned, av = ctx.travel(s, False), ctx.travel(s, True)
    hub = hub_point(s)
    a = manned.locate(*hub)
    b = int(ctx.stops(s, False).loc[0])
    a2, b2 = av.locate(*hub), av.locate(*manned.coords(b))
    assert av.time(a2, b2) >= manned.time(a, b) * 0.95
    # 20 km/h cap: never faster than the length at that speed
    finite = np.isfinite(av.graph.travel_time)
    assert (av.graph.travel_time[finite] >= av.graph.length_m[finite] / (20 / 3.6) - 1e-6).all()


# ------------------------------------------------------------------ bad input


def test_line_leaving_the_zone_is_named(small, tmp_path):
    comparison, ctx = small
    s = comparison.settings
    far = [("A", "Altstadt", 49.4114, 8.7060)]  # 1 km east of the zone
    with pytest.raises(DataError, match=r"\[line\] stops_file: stop 'A'.*outside the zone"):
        build_line(
            ctx.travel(s, False), hub=hub_point(s), stops=far, zone=ctx.zone, dwell_s=20,
            slack_share=0, layover_s=180, max_snap_m=100, zone_tolerance_m=300, keep_inside=True,
        )  # fmt: skip


def test_stop_off_the_network_is_named(small):
    comparison, ctx = small
    s = comparison.settings
    travel = ctx.travel(s, False)
    # a point in the zone, 60 m from its nearest street, with a 10 m limit
    lat, lon = 49.4040, 8.6800
    with pytest.raises(DataError, match=r"\[line\] .*not on|\[line\] max_snap_m"):
        build_line(
            travel, hub=hub_point(s), stops=[("B", "Park", lat, lon)], zone=ctx.zone,
            dwell_s=20, slack_share=0, layover_s=180, max_snap_m=0.5, zone_tolerance_m=300,
            keep_inside=True,
        )  # fmt: skip


def test_headway_impossible_with_the_vehicles(small):
    comparison, ctx = small
    line = ctx.line(comparison.settings, False, False)
    with pytest.raises(
        DataError, match=r"\[line\] headway_min = 2 with vehicles = 1.*set vehicles"
    ):
        build_timetable(line, headway_s=120, start_s=0, end_s=3600, n_vehicles=1)


def test_empty_zone_is_named():
    from fleet.concepts.walking import CrowFlyWalks, virtual_stops

    with pytest.raises(DataError, match=r"\[area\].*no resident"):
        virtual_stops(None, np.zeros(0), np.zeros(0), walk_m=300, walks=CrowFlyWalks(1.3))


def test_cli_bad_input_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    import sys

    from api import cli

    cases = {
        "unknown key": (SMALL.replace("walk_m = 250", "walk_metres = 250"), r"\[stops\] walk_metres"),
        "no hub": (SMALL.replace('location = [8.6760, 49.4047]', ""), r"\[hub\] location is missing"),
        "bad concept": (SMALL.replace("headway_min = [15]", 'concepts = ["taxi"]'), r"\[compare\] concepts"),
        "bad headway": (SMALL.replace("headway_min = [15]", "headway_min = [0]"), r"\[compare\] headway_min"),
    }  # fmt: skip
    import re

    for name, (text, pattern) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.toml"
        path.write_text(text)
        monkeypatch.setattr(sys, "argv", ["elster", "compare", str(path), "--dry-run"])
        with pytest.raises(SystemExit) as exc:
            cli.main()
        err = capsys.readouterr().err
        assert exc.value.code == 2, name
        assert "Traceback" not in err
        assert re.search(pattern, err), (name, err)


# ------------------------------------------------------------------ publishing


def test_exports_validate_and_round_trip_into_the_trams(small, tmp_path, hd_region, hd_data_dir):
    from fleet.concepts.publish import (
        export_line_gtfs,
        export_zone_flex,
        merge_feeds,
        validate_flex,
        validate_gtfs,
    )
    from routing.regions import Source
    from routing.transit.door_to_door import load_transit_network, plan_transit

    comparison, ctx = small
    s = comparison.settings
    travel = ctx.travel(s, False)
    line = ctx.line(s, False, False)
    tt = build_timetable(line, headway_s=600, start_s=7 * 3600.0, end_s=10 * 3600.0)
    day = comparison.scenario.day
    feed = export_line_gtfs(tt, travel, tmp_path / "line.zip", route_name="F1", start=day)
    report = validate_gtfs(feed, today=day)
    assert report.errors == [], [f.describe() for f in report.errors]
    # both directions: a trip each way per round, on its own shape, the stops reversed
    with zipfile.ZipFile(feed) as z:
        trips = pd.read_csv(z.open("trips.txt"), dtype=str)
        times = pd.read_csv(z.open("stop_times.txt"), dtype=str)
        shapes = pd.read_csv(z.open("shapes.txt"), dtype=str)
    assert (trips["direction_id"].value_counts() == tt.n_trips).all()
    assert set(trips["direction_id"]) == {"0", "1"}
    assert trips.groupby("direction_id")["shape_id"].nunique().tolist() == [1, 1]
    assert set(shapes["shape_id"]) == set(trips["shape_id"])
    names = [f"feeder:{sid}" for sid in line.stop_ids]
    for trip in trips.itertuples():
        seq = times[times["trip_id"] == trip.trip_id].sort_values(
            "stop_sequence", key=lambda c: c.astype(int)
        )
        assert seq["stop_id"].tolist() == (names if trip.direction_id == "0" else names[::-1])
    flex = export_zone_flex(
        ctx.zone, tmp_path / "zone.zip", name="Weststadt", start=day, service=(25200, 36000)
    )
    assert validate_flex(flex, today=day).errors == []
    merged = merge_feeds(hd_region.source_file("gtfs", hd_data_dir), feed, tmp_path / "merged.zip")
    src = hd_region.source("gtfs")
    region = replace(
        hd_region,
        sources={**hd_region.sources, "gtfs": Source(key="gtfs", kind="gtfs", path=str(merged),
                                                     options=src.options)},
    )  # fmt: skip
    net = load_transit_network(region, day, data_dir=hd_data_dir, cache_dir=None)
    tt_ = net.timetable
    assert "F1" in set(tt_.route_short_names), "the importer dropped the feeder line"
    # from the feeder stop farthest from every other stop of the region's feed to a tram
    # stop beyond the hub: the planner has to take the feeder, then a tram
    own = np.array([sid.startswith("feeder:") for sid in tt_.stop_ids])
    others = np.column_stack((tt_.stop_lat[~own], tt_.stop_lon[~own]))
    gaps = [
        np.min(np.hypot(others[:, 0] - la, (others[:, 1] - lo) * 0.65))
        for la, lo in zip(line.lat[1:], line.lon[1:], strict=True)
    ]
    far = 1 + int(np.argmax(gaps))
    origin = (float(line.lat[far]), float(line.lon[far]))
    # a stop only trams serve, far from the hub
    modes: dict[int, set[str]] = {}
    for slot in range(tt_.n_trips):
        for stop in tt_.slot_times(slot)[0]:
            modes.setdefault(int(stop), set()).add(tt_.slot_mode(slot))
    x0, y0, x1, y1 = hd_region.bbox
    tram_only = [
        k
        for k, m in modes.items()
        if m == {"TRAM"}
        and x0 + 0.03 < tt_.stop_lon[k] < x1 - 0.03
        and y0 + 0.03 < tt_.stop_lat[k] < y1 - 0.03
    ]
    hub = (line.lat[0], line.lon[0])
    dist = [math.dist((tt_.stop_lat[k], tt_.stop_lon[k]), hub) for k in tram_only]
    target = tram_only[int(np.argmax(dist))]
    dest = (float(tt_.stop_lat[target]), float(tt_.stop_lon[target]))
    itins = plan_transit(net, origin, dest, "2022-09-14T07:50", window_min=30, max_walk_s=300)
    rides = [[(leg.mode, leg.route_short_name) for leg in it.legs if leg.transit] for it in itins]
    assert any(r and r[0][1] == "F1" and any(m == "TRAM" for m, _ in r[1:]) for r in rides), rides


def test_cli_line_leaving_the_zone_is_one_line(tmp_path, capsys, monkeypatch, hd_data_dir):
    import sys

    from api import cli

    stops = tmp_path / "line.csv"
    stops.write_text("stop_id,stop_name,stop_lat,stop_lon\nA,Altstadt,49.4114,8.7060\n")
    path = tmp_path / "bad-line.toml"
    path.write_text(SMALL.replace("[line]\n", '[line]\nstops_file = "line.csv"\n'))
    monkeypatch.setattr(
        sys, "argv",
        ["elster", "publish", str(path), "--out", str(tmp_path), "--data-dir", str(hd_data_dir)],
    )  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        cli.main()
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "Traceback" not in err
    assert "[line] stops_file: stop 'A'" in err and "outside the zone" in err


def test_cli_publish_refuses_a_feed_breaking_a_rule_and_names_it(
    tmp_path, capsys, monkeypatch, hd_data_dir, cache_dir
):
    import csv
    import io
    import sys
    import zipfile

    from api import cli
    from fleet.concepts import publish

    export = publish.export_line_gtfs

    def export_with_time_going_backwards(*args, **kwargs):
        path = export(*args, **kwargs)
        with zipfile.ZipFile(path) as z:
            files = {n: z.read(n).decode() for n in z.namelist()}
        rows = list(csv.DictReader(io.StringIO(files["stop_times.txt"])))
        rows[2]["arrival_time"] = rows[2]["departure_time"] = "00:00:01"
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        files["stop_times.txt"] = buf.getvalue()
        with zipfile.ZipFile(path, "w") as z:
            for n, text in files.items():
                z.writestr(n, text)
        return path

    monkeypatch.setattr(publish, "export_line_gtfs", export_with_time_going_backwards)
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    argv = ["elster", "publish", str(path), "--out", str(tmp_path / "out"),
            "--data-dir", str(hd_data_dir), "--cache-dir", str(cache_dir)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    out, err = capsys.readouterr()
    assert exc.value.code == 1
    assert "Traceback" not in err
    assert "line.zip: refused" in err
    assert "stop_time_with_arrival_before_previous_departure_time" in err and "fix:" in err
    assert "zone-flex.zip (valid: 0 errors" in out
    assert (tmp_path / "out" / "hd-concepts-small-line-report" / "report.html").exists()


def test_compare_on_dask_gives_the_in_process_kpis(small, tmp_path, hd_data_dir, cache_dir):
    import distributed

    from fleet.concepts.compare import run_compare

    text = SMALL.replace(
        "[compare]\n", '[compare]\nconcepts = ["door_to_door", "fixed"]\nautonomous = [false]\n'
    )
    comparison = comparison_of(text)
    _, ctx = small
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        outcome = run_compare(
            comparison, client=client, out_dir=tmp_path / "out", progress=False,
            data_dir=hd_data_dir, cache_dir=cache_dir,
        )  # fmt: skip
    assert outcome.computed == 2 and not outcome.failed
    frame = outcome.table.frame.set_index("concept")
    for run in comparison.runs():
        want = run_concept(run, ctx)
        got = frame.loc[run.params["concept"]]
        for k, v in want.items():
            assert (math.isnan(v) and math.isnan(got[k])) or got[k] == pytest.approx(v), k
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Recommendation per demand level" in summary
    assert "routed on the region's walk network" in summary
    assert (tmp_path / "out" / "cost_per_trip_eur.png").is_file()


def test_cycling_times_are_routed_on_the_bike_network(small, hd_region, hd_data_dir, cache_dir):
    """Against networkx Dijkstra on the bike graph (turns expanded) between the same nodes."""
    import networkx as nx

    from fleet.concepts.walking import WALK_MPS
    from routing.build import road_graphs
    from tests.support.graph_factories import to_networkx

    _, ctx = small
    lat, lon = ctx.residents()
    rng = np.random.default_rng(5)
    o, d = rng.choice(lat.size, 10), rng.choice(lat.size, 10)
    origin = np.column_stack((lat[o], lon[o]))
    destination = np.column_stack((lat[d], lon[d]))
    got = ctx.bike_seconds(origin, destination)
    graph = road_graphs(hd_region, ("bike",), data_dir=hd_data_dir, cache_dir=cache_dir)["bike"]
    g = to_networkx(graph, weight="travel_time")
    snapper = ctx._get(("bike",), lambda: None).snapper  # the network bike_seconds used
    a, off_a = snapper.snap_many(origin[:, 0], origin[:, 1])
    b, off_b = snapper.snap_many(destination[:, 0], destination[:, 1])
    for k in range(o.size):
        want = nx.single_source_dijkstra(g, int(a[k]), int(b[k]))[0]
        assert got[k] == pytest.approx(want + (off_a[k] + off_b[k]) / WALK_MPS, rel=1e-9)
    # cycling is not a crow-fly guess any more: streets make it longer than the beeline
    crow = _oracle_haversine_m(origin[:, 0], origin[:, 1], destination[:, 0], destination[:, 1])
    assert (got >= crow / 12.0).all()
