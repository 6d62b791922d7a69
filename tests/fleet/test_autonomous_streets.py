"""The autonomous shuttle's allowed streets: an explicit set of OSM ways, checked independently.

The oracle reads the OSM file itself (pyosmium, no Elster code), decides which
ways the rules allow, and walks every driven leg arc by arc: each road segment
a leg passes must be on an allowed way and inside the operating area. A point
on a street cut off from the others by forbidden streets is found with a
plain breadth-first search over the allowed segments and must be refused.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np
import osmium
import pytest
from shapely import contains_xy

from fleet.concepts.autonomous import (
    RULE_KEYS,
    StreetRules,
    allowed_way_ids,
    build_autonomous_network,
)
from fleet.concepts.backend import buffered, load_concept_context, serve
from fleet.concepts.settings import AV_HIGHWAYS
from routing.errors import DataError, SnapError
from routing.osm import read_way_tags
from tests.support.concepts import SMALL, comparison_of, run_of

NUMBER = re.compile(r"^\s*(\d+)\s*$")
#: Stricter rules than the default: no primary roads and no service roads, so that the
#: zone holds forbidden streets and allowed streets cut off by them.
STRICT_CLASSES = tuple(h for h in AV_HIGHWAYS if not h.startswith("primary") and h != "service")
STRICT = (
    SMALL
    + f"""
[autonomous]
highway = {list(STRICT_CLASSES)}
min_connected_share = 0.0
"""
)


def _oracle_allowed(osm: Path, classes, max_kmh: float, unsigned_kmh: float = 50.0) -> set[int]:
    """Ways the rules allow, read straight from the file (numeric or DE: zone limits)."""
    zone_kmh = {"de:urban": 50, "de:zone30": 30, "de:zone:30": 30, "de:zone20": 20,
                "de:living_street": 7, "de:rural": 100, "walk": 7}  # fmt: skip
    out = set()
    for way in osmium.FileProcessor(str(osm), osmium.osm.WAY):
        tags = dict(way.tags)
        if tags.get("highway") not in classes:
            continue
        limits = []
        for part in (tags.get("maxspeed") or "").split(";"):
            m = NUMBER.match(part)
            if m:
                limits.append(float(m.group(1)))
            elif part.strip().lower() in zone_kmh:
                limits.append(float(zone_kmh[part.strip().lower()]))
        if not limits:
            src = (tags.get("source:maxspeed") or tags.get("zone:traffic") or "").lower()
            if src in zone_kmh:
                limits.append(float(zone_kmh[src]))
        daytime = r"^\s*(\d+)\s*@\s*\((?:Mo-Fr\s+)?\d\d:\d\d-\d\d:\d\d\)"
        cond = re.match(daytime, tags.get("maxspeed:conditional") or "")
        if cond:
            limits.append(float(cond.group(1)))  # a daytime limit lowers it (school zones)
        if (min(limits) if limits else unsigned_kmh) <= max_kmh:
            out.add(way.id)
    return out


@pytest.fixture(scope="module")
def small(hd_data_dir, cache_dir):
    comparison = comparison_of()
    ctx = load_concept_context(comparison.scenario, data_dir=hd_data_dir, cache_dir=cache_dir)
    return comparison, ctx


@pytest.fixture(scope="module")
def osm(hd_region, hd_data_dir) -> Path:
    return hd_region.source_file("osm", hd_data_dir)


def _segment_ways(graph) -> np.ndarray:
    """The way of each node (a directed road segment): the way of the arcs driving onto it."""
    way = np.full(graph.n_nodes, -1, dtype=np.int64)
    way[np.asarray(graph.head, dtype=np.int64)] = graph.way_id
    return way


def _segment_inside(graph, area) -> np.ndarray:
    """Whether each segment's both ends lie in ``area`` (its start is its predecessors' end)."""
    inside_pt = contains_xy(area, graph.lon, graph.lat)
    head = np.asarray(graph.head, dtype=np.int64)
    tail = np.repeat(np.arange(graph.n_nodes), np.diff(graph.first_out))
    start_in = np.ones(graph.n_nodes, dtype=bool)
    np.logical_and.at(start_in, head, inside_pt[tail])
    return inside_pt & start_in


@pytest.mark.parametrize("rules", ["default", "strict"])
@pytest.mark.parametrize("concept", ["door_to_door", "fixed", "flex"])
def test_every_leg_drives_only_allowed_streets(small, osm, concept, rules):
    _, ctx = small
    comparison = comparison_of(STRICT if rules == "strict" else SMALL)
    s = comparison.settings
    a = s.autonomous
    allowed = _oracle_allowed(osm, a.highway, a.maxspeed_kmh, a.unsigned_maxspeed_kmh)
    travel = ctx.travel(s, True)
    graph = ctx.sim.network.graph  # the full shuttle graph: the oracle walks its arcs
    seg_way = _segment_ways(graph)
    inside = _segment_inside(graph, buffered(ctx.zone, a.area_buffer_m))
    arcs = {}
    for v in range(graph.n_nodes):
        for e in range(graph.first_out[v], graph.first_out[v + 1]):
            arcs[(v, int(graph.head[e]))] = e
    riders, legs, _, _ = serve(run_of(comparison, concept, True), ctx)
    assert (riders["status"] == "served").any()
    driven = 0
    for leg in legs.itertuples():
        path = travel.path(int(leg.origin), int(leg.destination))
        assert path.seconds[-1] == pytest.approx(leg.arrive - leg.depart, abs=1e-6)
        nodes = path.locations.tolist()
        for u, v in itertools.pairwise(nodes):
            assert (u, v) in arcs, "the path is not a walk over the graph's arcs"
        for v in nodes:
            assert seg_way[v] in allowed, f"leg drives way {seg_way[v]}, not an allowed street"
            assert inside[v], f"leg leaves the operating area at segment {v}"
            driven += 1
    assert driven > 0


def _cut_off_point(ctx, osm, classes):
    """A point on an allowed street of the zone that only forbidden streets connect."""
    graph = ctx.sim.network.graph
    allowed = _oracle_allowed(osm, classes, 50.0)
    seg_ok = np.isin(_segment_ways(graph), list(allowed)) & _segment_inside(
        graph, buffered(ctx.zone, 300.0)
    )
    # reachability over allowed segments from the biggest allowed part, both ways (BFS)
    head = np.asarray(graph.head, dtype=np.int64)
    tail = np.repeat(np.arange(graph.n_nodes), np.diff(graph.first_out))
    ok = seg_ok[head] & seg_ok[tail]
    fwd = [[] for _ in range(graph.n_nodes)]
    bwd = [[] for _ in range(graph.n_nodes)]
    for t, h in zip(tail[ok].tolist(), head[ok].tolist(), strict=True):
        fwd[t].append(h)
        bwd[h].append(t)

    def reach(start, adj):
        seen = {start}
        todo = deque([start])
        while todo:
            for w in adj[todo.popleft()]:
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    in_zone = contains_xy(ctx.zone, graph.lon, graph.lat)
    seeds = np.flatnonzero(seg_ok & in_zone)
    best = max((reach(int(v), fwd) & reach(int(v), bwd) for v in seeds[::50]), key=len)
    manned = ctx.sim.travel()
    for v in seeds.tolist():
        if v in best:
            continue
        # the middle of the segment: where a point is placed on it
        arc = int(np.flatnonzero(head == v)[0])
        lat, lon = graph.edge_points(arc)
        plat, plon = float(np.mean(lat[:2])), float(np.mean(lon[:2]))
        if manned.locate(plat, plon) == v:
            return (plat, plon), v
    raise AssertionError("the zone has no cut-off allowed street")


def test_point_behind_a_forbidden_street_is_not_served(small, osm):
    from fleet.simulation import SimulationConfig, run_simulation
    from fleet.simulation.events import TripStream

    _, ctx = small
    comparison = comparison_of(STRICT)
    s = comparison.settings
    (lat, lon), seg = _cut_off_point(ctx, osm, STRICT_CLASSES)
    travel = ctx.travel(s, True)
    assert not travel.net.usable[seg]
    with pytest.raises(SnapError, match="only through streets it may not use"):
        travel.locate(lat, lon)
    assert travel.locate_many(np.array([lat]), np.array([lon]))[0] == -1
    # through the dispatcher: refused with the reason; the manned shuttle serves the same trip
    run = run_of(comparison, "door_to_door", True)
    from fleet.concepts.backend import _stream

    trips, _ = _stream(run, ctx, s, travel)
    base = next(t for t in trips.trips if t.origin_loc >= 0 and t.destination_loc >= 0)
    cut = replace(base, id="cut-off", origin=(lat, lon), origin_loc=-1)
    config = SimulationConfig(n_vehicles=2, capacity=4, shift_start_s=0.0)
    for model, served in ((travel, False), (ctx.sim.travel(), True)):
        t = replace(cut, origin_loc=model.locate_many(np.array([lat]), np.array([lon]))[0])
        result = run_simulation(
            TripStream([base, t], trips.origin_unix, trips.timezone, ["", ""]),
            config=config,
            travel=model,
        )
        row = result.requests.set_index("request_id").loc["cut-off"]
        assert (row["status"] == "done") == served, row["reason"]
        if not served:
            assert "may not use" in row["reason"]


def test_a_door_on_a_forbidden_street_is_refused_with_its_way(small):
    _, ctx = small
    s = comparison_of(STRICT).settings
    travel = ctx.travel(s, True)
    graph = ctx.sim.network.graph
    manned = ctx.sim.travel()
    # a primary or service road of the zone
    net = travel.net
    closed = np.flatnonzero(~net.segment_open & contains_xy(ctx.zone, graph.lon, graph.lat))
    head = np.asarray(graph.head, dtype=np.int64)
    for v in closed.tolist():
        arc = int(np.flatnonzero(head == v)[0])
        lat, lon = graph.edge_points(arc)
        p = float(np.mean(lat[:2])), float(np.mean(lon[:2]))
        if manned.locate(*p) == v:
            with pytest.raises(
                SnapError, match=rf"way {graph.way_id[arc]} \(highway=.*may not use"
            ):
                travel.locate(*p)
            assert travel.locate_many(np.array([p[0]]), np.array([p[1]]))[0] == -1
            return
    raise AssertionError("no closed street in the zone")


# ------------------------------------------------------------------ the street set


def test_ways_file_is_the_street_set_or_adds_to_it(small, osm, tmp_path):
    _, ctx = small
    graph = ctx.sim.network.graph
    tags = read_way_tags(osm, graph.way_id, RULE_KEYS)
    some = [int(w) for w in np.unique(graph.way_id)[:3]]
    path = tmp_path / "ways.txt"
    url = f"https://www.openstreetmap.org/way/{some[1]}"
    path.write_text(f"# approved\nw{some[0]}\n{url}\n{some[2]}  # a comment\n")
    rules = StreetRules(highway=("living_street",), maxspeed_kmh=50, ways_file=path)
    only, _ = allowed_way_ids(graph, tags, rules)
    assert only.tolist() == sorted(some)
    added, _ = allowed_way_ids(graph, tags, replace(rules, ways_file_mode="add"))
    living = {w for w, t in tags.items() if t.get("highway") == "living_street"}
    assert set(added.tolist()) == set(some) | living
    csv_path = tmp_path / "ways.csv"
    csv_path.write_text("way_id,name\n" + "".join(f"{w},x\n" for w in some))
    from_csv, _ = allowed_way_ids(graph, tags, replace(rules, ways_file=csv_path))
    assert from_csv.tolist() == sorted(some)


def test_unknown_way_ids_are_named(small, osm, tmp_path):
    _, ctx = small
    graph = ctx.sim.network.graph
    tags = read_way_tags(osm, graph.way_id, RULE_KEYS)
    path = tmp_path / "ways.txt"
    path.write_text(f"{int(graph.way_id[0])}\n999999999999\n")
    rules = StreetRules(highway=AV_HIGHWAYS, maxspeed_kmh=50, ways_file=path)
    with pytest.raises(
        DataError,
        match=r"\[autonomous\] allowed_ways_file: .*1 of 2 way ids are not streets of the "
        r"shuttle network: 999999999999 \(line 2\); remove them",
    ):
        allowed_way_ids(graph, tags, rules)
    path.write_text("4046371\nHauptstraße\n")
    with pytest.raises(DataError, match=r"line 2: 'Hauptstraße' is not an OSM way id"):
        allowed_way_ids(graph, tags, rules)


def test_ways_leaving_the_zone_unconnected_are_refused(small, osm, tmp_path):
    _, ctx = small
    network = ctx.sim.network
    graph = network.graph
    tags = read_way_tags(osm, graph.way_id, RULE_KEYS)
    # two residential streets at opposite ends of the zone, nothing between them
    in_zone = contains_xy(ctx.zone, graph.lon, graph.lat)[np.asarray(graph.head)]
    res = [w for w in np.unique(graph.way_id[in_zone]).tolist()
           if tags.get(w, {}).get("highway") == "residential"]  # fmt: skip
    path = tmp_path / "ways.txt"
    path.write_text(f"{res[0]}\n{res[-1]}\n")
    rules = StreetRules(highway=AV_HIGHWAYS, maxspeed_kmh=50, ways_file=path)
    with pytest.raises(
        DataError,
        match=r"\[autonomous\] allowed_ways_file: the allowed streets leave the zone "
        r"unconnected: .*allow the streets that join the parts",
    ):
        build_autonomous_network(
            network, tags, rules=rules, area=buffered(ctx.zone, 300), zone=ctx.zone,
            max_speed_kmh=20,
        )  # fmt: skip


def test_cli_bad_ways_file_is_one_line(tmp_path, capsys, monkeypatch, hd_data_dir):
    from api import cli

    (tmp_path / "ways.txt").write_text("123\nnot-a-way\n")
    cases = {
        "renamed key": (
            SMALL + "\n[autonomous]\nmax_street_kmh = 40\n",
            r"\[autonomous\].*max_street_kmh is replaced by the street set",
        ),
        "bad class": (
            SMALL + '\n[autonomous]\nhighway = ["motorways"]\n',
            r"\[autonomous\] highway.*unknown highway class",
        ),
        "bad ways file": (
            SMALL + '\n[autonomous]\nallowed_ways_file = "ways.txt"\n',
            r"\[autonomous\] allowed_ways_file: .*line 2: 'not-a-way' is not an OSM way id",
        ),
    }
    for name, (text, pattern) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.toml"
        path.write_text(text)
        argv = ["elster", "publish", str(path), "--autonomous", "--out", str(tmp_path / "out"),
                "--data-dir", str(hd_data_dir)]  # fmt: skip
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as exc:
            cli.main()
        err = capsys.readouterr().err
        assert exc.value.code == 2, (name, err)
        assert "Traceback" not in err
        assert re.search(pattern, err, re.S), (name, err)
