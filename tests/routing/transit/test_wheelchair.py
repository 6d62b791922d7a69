"""Step-free trips: the wheelchair walk profile, GTFS accessibility and wheelchair-only RAPTOR."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import osmium
import pytest

from routing.build import build_road_graphs, build_wheelchair_graph
from routing.profiles import (
    ACCESS_EXPLICIT,
    ACCESS_INFERRED,
    ACCESS_UNKNOWN,
    WHEELCHAIR_KMH,
    get_profile,
    parse_incline,
    wheelchair_assessment,
)
from routing.road import load_wheelchair_network
from routing.transit.footpaths import straight_line_footpaths
from routing.transit.gtfs import read_gtfs
from routing.transit.raptor import run_raptor, wheelchair_cells
from routing.transit.timetable import build_timetable, load_timetable
from tests.support import transit_oracle as oracle
from tests.support.gtfs_samples import TINY_FEED, write_feed

TZ = "Europe/Berlin"
WHEEL = get_profile("wheelchair")


# --------------------------------------------------------------------------- profile rules


@pytest.mark.parametrize(
    ("tags", "allowed", "evidence"),
    [
        ({"highway": "footway"}, True, ACCESS_UNKNOWN),
        ({"highway": "footway", "wheelchair": "yes"}, True, ACCESS_EXPLICIT),
        ({"highway": "footway", "wheelchair": "no"}, False, ACCESS_EXPLICIT),
        ({"highway": "footway", "wheelchair": "limited"}, True, ACCESS_INFERRED),
        ({"highway": "steps"}, False, ACCESS_EXPLICIT),
        ({"highway": "steps", "ramp:wheelchair": "yes"}, True, ACCESS_EXPLICIT),
        ({"highway": "footway", "kerb": "raised"}, False, ACCESS_EXPLICIT),
        ({"highway": "footway", "kerb": "lowered"}, True, ACCESS_INFERRED),
        ({"highway": "footway", "incline": "10%"}, False, ACCESS_EXPLICIT),
        ({"highway": "footway", "incline": "-8%"}, False, ACCESS_EXPLICIT),
        ({"highway": "footway", "incline": "up"}, True, ACCESS_UNKNOWN),
        ({"highway": "path", "surface": "gravel"}, False, ACCESS_EXPLICIT),
        ({"highway": "footway", "smoothness": "very_bad"}, False, ACCESS_EXPLICIT),
        ({"highway": "residential", "surface": "asphalt"}, True, ACCESS_INFERRED),
        ({"highway": "motorway"}, False, ACCESS_UNKNOWN),
        ({"highway": "footway", "access": "private"}, False, ACCESS_UNKNOWN),
    ],
)
def test_wheelchair_rules(tags, allowed, evidence) -> None:
    fwd, bwd = WHEEL.speeds(tags)
    assert (fwd > 0 and bwd > 0) == allowed
    if get_profile("walk").speeds(tags)[0] > 0:
        assert wheelchair_assessment(tags)[1] == evidence


def test_penalties_slow_but_keep_ways() -> None:
    plain = WHEEL.speeds({"highway": "footway"})[0]
    assert plain == WHEELCHAIR_KMH
    for extra in ({"surface": "sett"}, {"incline": "5%"}, {"smoothness": "bad"},
                  {"wheelchair": "limited"}):  # fmt: skip
        assert 0 < WHEEL.speeds({"highway": "footway", **extra})[0] < plain


def test_parse_incline() -> None:
    assert parse_incline("8%") == 8.0
    assert parse_incline("-12 %") == 12.0
    assert parse_incline("5°") == pytest.approx(8.75, abs=0.01)
    assert parse_incline("up") is None
    assert parse_incline(None) is None


# --------------------------------------------------------------------------- import

STEPS_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="49.4000" lon="8.6000"/>
  <node id="2" lat="49.4000" lon="8.6010"/>
  <node id="3" lat="49.4010" lon="8.6010"/>
  <node id="4" lat="49.4010" lon="8.6000"/>
  <node id="5" lat="49.4005" lon="8.6000">
    <tag k="barrier" v="kerb"/>
    <tag k="kerb" v="raised"/></node>
  <node id="6" lat="49.4020" lon="8.6000"/>
  <node id="7" lat="49.4020" lon="8.6010"/>
  <way id="10"><nd ref="1"/><nd ref="2"/>
    <tag k="highway" v="footway"/>
    <tag k="surface" v="asphalt"/></way>
  <way id="11"><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="footway"/>
    <tag k="wheelchair" v="yes"/></way>
  <way id="12"><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="footway"/></way>
  <way id="13"><nd ref="1"/><nd ref="5"/><nd ref="4"/>
    <tag k="highway" v="footway"/></way>
  <way id="14"><nd ref="4"/><nd ref="6"/>
    <tag k="highway" v="steps"/></way>
  <way id="15"><nd ref="3"/><nd ref="7"/><nd ref="6"/>
    <tag k="highway" v="footway"/>
    <tag k="smoothness" v="good"/></way>
</osm>
"""


def test_import_drops_steps_and_kerbs_and_reports_evidence(tmp_path) -> None:
    path = tmp_path / "steps.osm"
    path.write_text(STEPS_OSM)
    walk = build_road_graphs(path, ("walk",))["walk"]
    graph, access = build_wheelchair_graph(path)
    assert {13, 14} <= set(walk.way_id.tolist())
    assert not {13, 14} & set(graph.way_id.tolist())  # kerb way and steps gone
    by_way = dict(zip(graph.way_id.tolist(), access.tolist(), strict=True))
    assert by_way == {10: ACCESS_INFERRED, 11: ACCESS_EXPLICIT, 12: ACCESS_UNKNOWN,
                      15: ACCESS_INFERRED}  # fmt: skip
    assert graph.n_nodes == 5 and graph.profile == "wheelchair"


# --------------------------------------------------------------------------- Heidelberg routes


@pytest.fixture(scope="module")
def steps_ways(hd_region, hd_data_dir) -> set[int]:
    """Way ids tagged highway=steps, read independently with osmium."""
    found = set()
    for way in osmium.FileProcessor(str(hd_region.source_file("osm", hd_data_dir)), osmium.osm.WAY):
        if way.tags.get("highway") == "steps":
            found.add(way.id)
    return found


@pytest.fixture(scope="module")
def wheelchair_net(hd_region, hd_data_dir, cache_dir):
    return load_wheelchair_network(hd_region, data_dir=hd_data_dir, cache_dir=cache_dir)


def test_step_free_routes_never_use_steps(wheelchair_net, hd_networks, steps_ways) -> None:
    assert steps_ways
    graph = wheelchair_net.graph
    assert not set(np.unique(graph.way_id).tolist()) & steps_ways
    walk = hd_networks["walk"]
    assert set(np.unique(walk.graph.way_id).tolist()) & steps_ways  # walkers do use steps
    rng = np.random.default_rng(4)
    checked = 0
    for _ in range(30):
        i, j = rng.integers(0, graph.n_nodes, size=2)
        a = (float(graph.lat[i]), float(graph.lon[i]))
        b = (float(graph.lat[j]), float(graph.lon[j]))
        try:
            route = wheelchair_net.route(a, b)
        except Exception:
            continue
        assert not set(graph.way_id[route.edges].tolist()) & steps_ways
        # unknown segments recounted independently: distinct roads (twins merged) with access 0
        sa, sb = wheelchair_net.snap(*a), wheelchair_net.snap(*b)
        edges = set(route.edges.tolist()) | {sa.edge, sb.edge}
        twin = wheelchair_net.snapper.reverse
        roads = {min(e, int(twin[e])) if twin[e] >= 0 else e for e in edges}
        assert route.unknown_access == sum(1 for e in roads if wheelchair_net.access[e] == 0)
        assert route.geojson()["properties"]["unknown_access_segments"] == route.unknown_access
        walk_route = walk.route(a, b)
        assert route.distance_m >= walk_route.distance_m * 0.999 - 1.0
        checked += 1
    assert checked >= 15


# --------------------------------------------------------------------------- GTFS


def accessible_feed() -> dict[str, str]:
    feed = dict(TINY_FEED)
    feed[
        "stops.txt"
    ] = """stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,wheelchair_boarding
STA,Central Station,49.4000,8.6000,1,,1
A,Central Station,49.4000,8.6001,0,STA,
A2,Central Station,49.4002,8.6003,0,STA,2
B,Market,49.4000,8.6100,,,1
C,Bridge,49.4000,8.6200,,,0
D,Zoo,49.4000,8.6300,,,1
E,Park,49.4100,8.6300,,,2
Z,Nowhere,49.4500,8.7000,,,maybe
"""
    feed["trips.txt"] = """route_id,service_id,trip_id,trip_headsign,shape_id,wheelchair_accessible
r1,WK,t1,Bridge,s1,2
r1,WK,t2,Bridge,s1,1
r2,WK,t3,Park,,1
r3,WK,t4,Zoo,,1
r1,WK,tn,Market,,
r2,WK,tf,Park,,0
r1,EXTRA,ts,Bridge,,1
"""
    return feed


def test_gtfs_accessibility_with_parent_inheritance(tmp_path) -> None:
    feed = read_gtfs(write_feed(tmp_path / "feed", accessible_feed()))
    codes = dict(zip(feed.stops["stop_id"], feed.stops["wheelchair"], strict=True))
    assert codes == {"A": 1, "A2": 2, "B": 1, "C": 0, "D": 1, "E": 2, "Z": 0}
    assert any("wheelchair_boarding" in w for w in feed.warnings)
    tt = build_timetable(feed, "2022-09-14", TZ)
    trips = dict(zip(tt.trip_ids.tolist(), tt.trip_wheelchair.tolist(), strict=True))
    assert trips["t1"] == 2 and trips["t2"] == 1 and trips["tf"] == 0
    assert tt.stop_wheelchair[tt.stop_index("A")] == 1


def test_wheelchair_raptor_uses_only_accessible_stops_and_trips(tmp_path) -> None:
    tt = build_timetable(
        read_gtfs(write_feed(tmp_path / "feed", accessible_feed())), "2022-09-14", TZ
    )
    fp = straight_line_footpaths(tt, max_walk_s=0)
    a, b, c = (tt.stop_index(s) for s in ("A", "B", "C"))
    one = np.array([0])
    info, rides = run_raptor(tt, fp, np.array([a]), one, np.array([b]), one, 8 * 3600 - 60)
    assert int(info[:, 3].min()) == 8 * 3600 + 10 * 60  # t1 (not accessible) is the fastest
    info, rides = run_raptor(
        tt, fp, np.array([a]), one, np.array([b]), one, 8 * 3600 - 60, wheelchair=True
    )
    assert int(info[:, 3].min()) == 8 * 3600 + 40 * 60  # t2 instead
    assert tt.trip_ids[rides[0, 0, 0]] == "t2"
    # C has no accessibility information: refused unless unknown is allowed
    info, _ = run_raptor(tt, fp, np.array([a]), one, np.array([c]), one, 8 * 3600, wheelchair=True)
    assert len(info) == 0
    info, _ = run_raptor(
        tt, fp, np.array([a]), one, np.array([c]), one, 8 * 3600,
        wheelchair=True, allow_unknown_access=True,
    )  # fmt: skip
    assert len(info) > 0


def test_wheelchair_raptor_matches_filtered_csa_on_vrn(hd_region, hd_data_dir, cache_dir) -> None:
    tt = load_timetable(
        hd_region.source_file("gtfs", hd_data_dir), "2022-09-14", timezone=TZ, cache_dir=cache_dir
    )
    rng = np.random.default_rng(9)
    # the VRN cut has no accessibility fields: give stops and trips random codes
    tt = replace(
        tt,
        stop_wheelchair=rng.choice([0, 1, 1, 1, 2], size=tt.n_stops).astype(np.int8),
        trip_wheelchair=rng.choice([0, 1, 1, 2], size=tt.n_trips).astype(np.int8),
    )
    fp = straight_line_footpaths(tt, max_walk_s=600)
    stop_ok = tt.stop_wheelchair == 1
    trip_ok = tt.trip_wheelchair == 1
    conns = [
        (d, r, x, y, slot, cb and stop_ok[x] and trip_ok[slot], ca and stop_ok[y] and trip_ok[slot])
        for d, r, x, y, slot, cb, ca in oracle.connections(tt)
    ]
    board, alight, _ = wheelchair_cells(tt)
    ok_stops = np.flatnonzero(stop_ok)
    checked = 0
    for _ in range(25):
        src, dst = (int(v) for v in rng.choice(ok_stops, 2, replace=False))
        t = int(rng.integers(6 * 3600, 20 * 3600))
        info, rides = run_raptor(
            tt, fp, np.array([src]), np.array([0]), np.array([dst]), np.array([0]), t,
            max_transfers=15, wheelchair=True,
        )  # fmt: skip
        got = int(info[:, 3].min()) if len(info) else oracle.INF
        want = oracle.csa_earliest_arrival(tt, fp, {src: 0}, {dst: 0}, t, conns)
        assert got == want
        for journey in rides:
            for slot, bpos, apos, _ in journey:
                if slot < 0:
                    continue
                stops = tt.slot_times(int(slot))[0]
                assert trip_ok[slot]
                assert stop_ok[stops[bpos]] and stop_ok[stops[apos]]
                assert board[tt.slot_cell(int(slot), int(bpos))]
                assert alight[tt.slot_cell(int(slot), int(apos))]
        checked += got < oracle.INF
    assert checked >= 5
