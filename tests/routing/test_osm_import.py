"""Road graph import: profiles, the tiny hand-written network, Heidelberg, cache, bad files.

The tiny network (tests/fixtures/tiny.osm), lat grows to the north::

    31 --- 30          roundabout 109: 4 -> 30 -> 31 -> 32 -> 4 (tertiary, DE:urban)
    |       |
    32 ---- 4
    1 - 2 - 3 - 4      way 100: residential, maxspeed 30 (3 is a shape point)
        |       |
        5       6      way 101: 2 -> 5 -> 7, oneway, cycleway=opposite_lane
        |       |      way 102: 4 <- 6 <- 9, primary, oneway=-1, maxspeed 50
        7 - 8 - 9 - 10 way 103: 7 - 8 - 9, residential, 20 mph; 104: 9 - 10 footway
            |       |
            11      12 way 105: 8 - 11 service, access=private; 110: 10 - 12 cycleway
    20 - 21: way 107 far away (disconnected); way 111 is a building (not a road).
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from routing import build as build_module
from routing.build import (
    FORMAT_VERSION,
    build_road_graphs,
    check_graph_shapes,
    road_graph,
    road_graphs,
)
from routing.cache import is_memory_mapped
from routing.errors import DataError
from routing.geo import haversine_m, polyline_length_m
from routing.graph import PROFILES, RoadGraph
from routing.osm import read_ways
from routing.profiles import get_profile, parse_maxspeed
from routing.regions import Region, Source
from tests.support.road_fixtures import (  # noqa: F401
    TINY_OSM,
    hd_graphs,
    hd_node_graphs,
    tiny_graphs,
    tiny_node_coords,
)

MPH = 1.609344

# ----------------------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    ("value", "highway", "expected"),
    [
        ("50", "", 50.0),
        ("30 km/h", "", 30.0),
        ("50 mph", "", 50 * MPH),
        ("20mph", "", 20 * MPH),
        ("DE:urban", "", 50.0),
        ("DE:rural", "", 100.0),
        ("de:zone30", "", 30.0),
        ("walk", "", 7.0),
        ("none", "motorway", 130.0),
        ("none", "residential", None),
        ("50;30", "", 30.0),
        ("signals", "primary", None),
        ("fast", "", None),
        ("0", "", None),
        (None, "", None),
    ],
)
def test_parse_maxspeed(value, highway, expected):
    got = parse_maxspeed(value, highway=highway)
    assert got == pytest.approx(expected) if expected is not None else got is None


@pytest.mark.parametrize(
    ("tags", "walk", "bike", "car"),
    [
        ({"highway": "residential"}, (4.8, 4.8), (15, 15), (25, 25)),
        ({"highway": "residential", "access": "private"}, (0, 0), (0, 0), (0, 0)),
        ({"highway": "residential", "access": "no", "foot": "yes"}, (4.8, 4.8), (0, 0), (0, 0)),
        ({"highway": "service", "motor_vehicle": "no"}, (4.8, 4.8), (15, 15), (0, 0)),
        (
            {"highway": "service", "motor_vehicle": "no", "motorcar": "yes"},
            (4.8, 4.8),
            (15, 15),
            (15, 15),
        ),
        ({"highway": "track", "vehicle": "agricultural"}, (4.8, 4.8), (0, 0), (0, 0)),
        ({"highway": "footway"}, (4.8, 4.8), (0, 0), (0, 0)),
        ({"highway": "footway", "bicycle": "yes"}, (4.8, 4.8), (15, 15), (0, 0)),
        ({"highway": "pedestrian", "bicycle": "dismount"}, (4.8, 4.8), (4.8, 4.8), (0, 0)),
        ({"highway": "cycleway"}, (0, 0), (15, 15), (0, 0)),
        ({"highway": "cycleway", "foot": "designated"}, (4.8, 4.8), (15, 15), (0, 0)),
        ({"highway": "steps"}, (4.8, 4.8), (0, 0), (0, 0)),
        ({"highway": "motorway"}, (0, 0), (0, 0), (90, 0)),
        ({"highway": "motorway", "maxspeed": "none"}, (0, 0), (0, 0), (104, 0)),
        ({"highway": "trunk", "motorroad": "yes"}, (0, 0), (0, 0), (85, 85)),
        ({"highway": "primary", "oneway": "yes"}, (4.8, 4.8), (15, 0), (65, 0)),
        ({"highway": "primary", "oneway": "-1"}, (4.8, 4.8), (0, 15), (0, 65)),
        ({"highway": "primary", "oneway": "true"}, (4.8, 4.8), (15, 0), (65, 0)),
        ({"highway": "primary", "oneway": "1"}, (4.8, 4.8), (15, 0), (65, 0)),
        ({"highway": "primary", "oneway": "no"}, (4.8, 4.8), (15, 15), (65, 65)),
        ({"highway": "primary", "oneway": "reversible"}, (4.8, 4.8), (0, 0), (0, 0)),
        ({"highway": "tertiary", "junction": "roundabout"}, (4.8, 4.8), (15, 0), (40, 0)),
        (
            {"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"},
            (4.8, 4.8),
            (15, 15),
            (25, 0),
        ),
        (
            {"highway": "residential", "oneway": "yes", "cycleway:left": "opposite_lane"},
            (4.8, 4.8),
            (15, 15),
            (25, 0),
        ),
        (
            {"highway": "secondary", "maxspeed:forward": "50", "maxspeed:backward": "30"},
            (4.8, 4.8),
            (15, 15),
            (40, 24),  # tagged limits times the realism factor 0.8
        ),
        ({"highway": "living_street", "maxspeed": "walk"}, (4.8, 4.8), (15, 15), (5.6, 5.6)),
        ({"highway": "pedestrian", "area": "yes"}, (4.8, 4.8), (0, 0), (0, 0)),
        ({"highway": "bus_stop"}, (0, 0), (0, 0), (0, 0)),
        ({"highway": "construction"}, (0, 0), (0, 0), (0, 0)),
        ({"building": "yes"}, (0, 0), (0, 0), (0, 0)),
    ],
)
def test_profile_speeds(tags, walk, bike, car):
    for name, expected in (("walk", walk), ("bike", bike), ("car", car)):
        assert get_profile(name).speeds(tags) == pytest.approx(expected), name


def test_unknown_profile_is_rejected():
    with pytest.raises(ValueError, match="walk, bike, car, shuttle"):
        get_profile("plane")


# ----------------------------------------------------------------------------- tiny network

TWO_WAY = lambda *polys: [p for poly in polys for p in (poly, poly[::-1])]  # noqa: E731

# Expected edges as {(tail, head, way): OSM node sequence incl. both ends}.
EXPECTED = {
    "car": [
        *TWO_WAY((1, 2), (2, 3, 4), (7, 8, 9)),
        (2, 5, 7),
        (9, 6, 4),
        (4, 30),
        (30, 31),
        (31, 32),
        (32, 4),
    ],
    "bike": [
        *TWO_WAY((1, 2), (2, 3, 4), (7, 8, 9), (2, 5, 7)),
        (9, 6, 4),
        (4, 30),
        (30, 31),
        (31, 32),
        (32, 4),
    ],
    "walk": [
        *TWO_WAY((1, 2), (2, 3, 4), (7, 8, 9), (2, 5, 7), (9, 6, 4), (9, 10)),
        *TWO_WAY((4, 30), (30, 31), (31, 32), (32, 4)),
    ],
}
WAY_OF_SEGMENT = {
    frozenset(p): w
    for w, nodes in {
        100: (1, 2, 3, 4),
        101: (2, 5, 7),
        102: (4, 6, 9),
        103: (7, 8, 9),
        104: (9, 10),
        109: (4, 30, 31, 32, 4),
    }.items()
    for p in itertools.pairwise(nodes)
}
# Tagged limits times the realism factor 0.8; untagged residential 25 km/h (speed_model).
EXPECTED_AS = {"shuttle": "car"}  # no bus-only ways in the fixture
CAR_KMH = {100: 24.0, 101: 25.0, 102: 40.0, 103: 0.8 * 20 * MPH, 109: 40.0}


def _edges_by_osm(graph: RoadGraph) -> dict[tuple[int, int], int]:
    tail = graph.tail()
    return {
        (int(graph.osm_node_id[t]), int(graph.osm_node_id[h])): e
        for e, (t, h) in enumerate(zip(tail, graph.head, strict=True))
    }


def _check_contract(graph: RoadGraph) -> None:
    """Dtypes, CSR order, no self loops, no parallel edges, consistent geometry offsets."""
    check_graph_shapes(graph)
    assert graph.first_out.dtype == np.int64
    assert graph.head.dtype == np.int32
    assert graph.osm_node_id.dtype == np.int64
    assert graph.way_id.dtype == np.int64
    for name in ("travel_time", "length_m", "lat", "lon", "geom_lat", "geom_lon"):
        assert getattr(graph, name).dtype == np.float64, name
    assert graph.geom_first.dtype == np.int64
    assert np.all(np.diff(graph.first_out) >= 0)
    assert np.all(np.diff(graph.geom_first) >= 0)
    tail = graph.tail()
    assert np.all(tail != graph.head), "self loop"
    pairs = tail.astype(np.int64) * graph.n_nodes + graph.head
    assert np.unique(pairs).shape[0] == graph.n_edges, "parallel edges"
    assert np.all(np.diff(graph.osm_node_id) > 0)
    # Zero only where two OSM nodes share a location (it happens in real data).
    assert np.all(graph.travel_time >= 0)
    assert np.all((graph.length_m > 0) | (graph.travel_time == 0))
    assert np.mean(graph.length_m > 0) > 0.999


@pytest.mark.parametrize("profile", PROFILES)
def test_tiny_network_exact_graph(tiny_graphs, profile):  # noqa: F811
    graph = tiny_graphs[profile]
    _check_contract(graph)
    coords = tiny_node_coords()
    expected = {(poly[0], poly[-1]): poly for poly in EXPECTED[EXPECTED_AS.get(profile, profile)]}
    got = _edges_by_osm(graph)
    assert set(got) == set(expected)
    assert set(graph.osm_node_id.tolist()) == {n for pair in expected for n in pair}
    speed = {"walk": 4.8, "bike": 15.0}
    for pair, poly in expected.items():
        e = got[pair]
        way = WAY_OF_SEGMENT[frozenset(poly[:2])]
        assert graph.way_id[e] == way
        lats, lons = graph.edge_points(e)
        want = np.array([coords[n] for n in poly])
        np.testing.assert_allclose(np.column_stack((lats, lons)), want, atol=1e-9)
        length = polyline_length_m(want[:, 0], want[:, 1])
        assert graph.length_m[e] == pytest.approx(length, rel=1e-9)
        kmh = CAR_KMH[way] if profile in ("car", "shuttle") else speed[profile]
        assert graph.travel_time[e] == pytest.approx(length / (kmh / 3.6), rel=1e-9)


def test_tiny_network_scc_drops_disconnected_parts(tiny_graphs, caplog):  # noqa: F811
    assert 20 not in tiny_graphs["walk"].osm_node_id
    # Node 10 is reached by a footway: walkers keep it, cyclists only have the cycleway
    # 10-12, which is cut off from the rest, so it is dropped.
    assert 10 in tiny_graphs["walk"].osm_node_id
    assert 10 not in tiny_graphs["bike"].osm_node_id
    for graph in tiny_graphs.values():
        assert 11 not in graph.osm_node_id
        assert 40 not in graph.osm_node_id
    with caplog.at_level(logging.INFO, logger="routing.build"):
        build_road_graphs(TINY_OSM, ("bike",), turns=False)
    assert "built bike graph: 8 nodes, 13 edges" in caplog.text
    assert "dropped 4 nodes, 4 edges outside the largest SCC" in caplog.text


def test_tiny_network_bbox_clip():
    # Cuts off node 10 and the roundabout's east side (31, 32): what is left of way 109
    # is the stub 4 - 30, which ends at the box edge.
    bbox = (8.689, 49.398, 8.6955, 49.4035)
    graph = build_road_graphs(TINY_OSM, ("walk",), bbox=bbox, buffer_m=0.0)["walk"]
    _check_contract(graph)
    assert sorted(graph.osm_node_id.tolist()) == [1, 2, 4, 7, 9, 30]
    edges = _edges_by_osm(graph)
    assert (4, 30) in edges
    assert (30, 4) in edges
    assert graph.n_edges == 12
    assert graph.lat.max() <= 49.4035
    assert graph.lon.max() <= 8.6955


def _write_pbf(src: Path, dst: Path) -> None:
    writer = osmium.SimpleWriter(str(dst))
    try:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    finally:
        writer.close()


def test_xml_compressed_and_pbf_imports_agree(tiny_graphs, tmp_path):  # noqa: F811
    data = TINY_OSM.read_bytes()
    (tmp_path / "tiny.osm.gz").write_bytes(gzip.compress(data))
    (tmp_path / "tiny.osm.bz2").write_bytes(bz2.compress(data))
    _write_pbf(TINY_OSM, tmp_path / "tiny.osm.pbf")
    for name in ("tiny.osm.gz", "tiny.osm.bz2", "tiny.osm.pbf"):
        other = build_road_graphs(tmp_path / name, turns=False)
        for profile in PROFILES:
            _assert_same_graph(tiny_graphs[profile], other[profile])


def _assert_same_graph(a: RoadGraph, b: RoadGraph) -> None:
    assert a.profile == b.profile
    fa, fb = a.array_fields(), b.array_fields()
    assert fa.keys() == fb.keys()
    for name in fa:
        np.testing.assert_array_equal(np.asarray(fa[name]), np.asarray(fb[name]), err_msg=name)


# ----------------------------------------------------------------------------- Heidelberg


def test_heidelberg_graph_sizes(hd_node_graphs, hd_region):  # noqa: F811
    from routing.build import buffered_bbox

    walk, bike, car = (hd_node_graphs[p] for p in ("walk", "bike", "car"))
    for graph in (walk, bike, car):
        _check_contract(graph)
        # The clip buffer keeps roads leaving the bbox and coming back, nothing farther.
        min_lon, min_lat, max_lon, max_lat = buffered_bbox(hd_region.bbox)
        assert min_lat <= graph.lat.min()
        assert graph.lat.max() <= max_lat
        assert min_lon <= graph.lon.min()
        assert graph.lon.max() <= max_lon
    # A city of 160,000 people and its surroundings: tens of thousands of junctions.
    assert 15_000 < walk.n_nodes < 80_000
    assert 40_000 < walk.n_edges < 200_000
    assert 10_000 < bike.n_nodes < walk.n_nodes
    assert 5_000 < car.n_nodes < bike.n_nodes
    # Directed road length: a few thousand km of roads.
    assert 1_000_000 < car.length_m.sum() < walk.length_m.sum() < 20_000_000


@pytest.mark.parametrize("profile", PROFILES)
def test_heidelberg_travel_times_and_geometry(hd_node_graphs, profile):  # noqa: F811
    graph = hd_node_graphs[profile]
    moving = graph.length_m > 0
    kmh = graph.length_m[moving] / graph.travel_time[moving] * 3.6
    if profile == "walk":
        np.testing.assert_allclose(kmh, 4.8, rtol=1e-9)
    elif profile == "bike":
        assert np.all(np.isclose(kmh, 15.0) | np.isclose(kmh, 4.8))
        assert np.mean(np.isclose(kmh, 15.0)) > 0.95
    else:
        # Node delays (signals, stops) slow short edges below the driven speed.
        assert kmh.min() >= 0.5
        assert kmh.max() <= 105.0
        assert 15 < np.median(kmh) < 60
    # Every edge's geometry length equals its length (independent polyline sum).
    rng = np.random.default_rng(7)
    for e in rng.choice(graph.n_edges, size=2000, replace=False):
        lats, lons = graph.edge_points(int(e))
        assert polyline_length_m(lats, lons) == pytest.approx(graph.length_m[e], rel=1e-6)
    # Shape points are never far from the road's ends' bounding box (no garbage geometry).
    assert np.all(np.isfinite(graph.geom_lat))
    assert np.all(np.isfinite(graph.geom_lon))


@pytest.mark.parametrize("profile", PROFILES)
def test_heidelberg_single_strong_component(hd_graphs, profile):  # noqa: F811
    graph = hd_graphs[profile]
    adj = csr_matrix(
        (np.ones(graph.n_edges), np.asarray(graph.head), np.asarray(graph.first_out)),
        shape=(graph.n_nodes, graph.n_nodes),
    )
    n_comp, _ = connected_components(adj, directed=True, connection="strong")
    assert n_comp == 1


def test_heidelberg_car_compression_preserves_distances(hd_region, hd_data_dir):
    """Oracle: an uncompressed segment graph in networkx gives the same travel times."""
    from dataclasses import replace

    from routing.build import assemble_graph, buffered_bbox

    table = read_ways(hd_region.source_file("osm", hd_data_dir), ("car",))
    table = replace(table, controls=None)  # pure compression: no node delays
    clip = buffered_bbox(hd_region.bbox)
    graph = assemble_graph(table, "car", bbox=clip)[0]
    min_lon, min_lat, max_lon, max_lat = clip
    inside = (table.lat >= min_lat) & (table.lat <= max_lat)
    inside &= (table.lon >= min_lon) & (table.lon <= max_lon)
    oracle = nx.DiGraph()
    for w in range(table.n_ways):
        fwd, bwd = table.speed_fwd["car"][w], table.speed_bwd["car"][w]
        for p in range(int(table.way_first[w]), int(table.way_first[w + 1]) - 1):
            a, b = int(table.node_id[p]), int(table.node_id[p + 1])
            if a == b or not (inside[p] and inside[p + 1]):
                continue
            d = float(haversine_m(table.lat[p], table.lon[p], table.lat[p + 1], table.lon[p + 1]))
            for u, v, kmh in ((a, b, fwd), (b, a, bwd)):
                if kmh > 0:
                    t = d / (kmh / 3.6)
                    if not oracle.has_edge(u, v) or oracle[u][v]["t"] > t:
                        oracle.add_edge(u, v, t=t, d=d)
    largest = max(nx.strongly_connected_components(oracle), key=len)
    assert set(graph.osm_node_id.tolist()) <= largest
    core = oracle.subgraph(largest)
    assert graph.length_m.sum() == pytest.approx(core.size(weight="d"), rel=1e-6)

    adj = csr_matrix(
        (np.asarray(graph.travel_time), np.asarray(graph.head), np.asarray(graph.first_out)),
        shape=(graph.n_nodes, graph.n_nodes),
    )
    rng = np.random.default_rng(3)
    sources = rng.choice(graph.n_nodes, size=3, replace=False)
    fast = dijkstra(adj, directed=True, indices=sources)
    ids = graph.osm_node_id
    for row, s in enumerate(sources):
        slow = nx.single_source_dijkstra_path_length(core, int(ids[s]), weight="t")
        want = np.array([slow[int(i)] for i in ids])
        np.testing.assert_allclose(fast[row], want, rtol=1e-9, atol=1e-6)


# ----------------------------------------------------------------------------- cache


def test_cache_round_trip_is_identical_and_mmapped(hd_region, hd_data_dir, tmp_path, caplog):
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="routing.build"):
        built = road_graphs(hd_region, data_dir=hd_data_dir, cache_dir=cache)
    assert f"built and cached {len(PROFILES)} road graphs" in caplog.text
    entries = sorted(p.name.split("-")[1] for p in cache.glob("graph-*"))
    assert entries == sorted(PROFILES)
    for profile in PROFILES:
        loaded = road_graph(hd_region, profile, data_dir=hd_data_dir, cache_dir=cache)
        assert is_memory_mapped(loaded.head)
        assert is_memory_mapped(loaded.travel_time)
        _assert_same_graph(loaded, built[profile])
    assert (cache / "file-digests.json").is_file()


def test_digest_sidecar_avoids_rehashing(hd_region, tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "t").mkdir(parents=True)
    osm = data / "t" / "tiny.osm"
    shutil.copy(TINY_OSM, osm)
    region = _region_with_osm(hd_region, "t/tiny.osm", clip=False)
    cache = tmp_path / "cache"
    first = road_graph(region, "car", data_dir=data, cache_dir=cache)

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(build_module, "file_digest", no_hashing)
    _assert_same_graph(first, road_graph(region, "car", data_dir=data, cache_dir=cache))
    monkeypatch.undo()
    # A changed file (other size and mtime) is hashed again and rebuilt.
    osm.write_bytes(TINY_OSM.read_bytes().replace(b'k="maxspeed" v="30"', b'k="maxspeed" v="5"'))
    changed = road_graph(region, "car", data_dir=data, cache_dir=cache)
    assert changed.travel_time.sum() > first.travel_time.sum()
    assert len(list(cache.glob("graph-car-*"))) == 2


def _region_with_osm(base: Region, path: str, *, clip: bool = True) -> Region:
    options = {} if clip else {"clip_to_bbox": False}
    return replace(base, sources={"osm": Source(key="osm", kind="osm", path=path, options=options)})


@pytest.mark.parametrize("damage", ["delete_array", "truncate_array", "bad_meta", "wrong_shape"])
def test_damaged_cache_entry_is_rebuilt(hd_region, tmp_path, damage, caplog):
    data = tmp_path / "data"
    (data / "t").mkdir(parents=True)
    shutil.copy(TINY_OSM, data / "t" / "tiny.osm")
    region = _region_with_osm(hd_region, "t/tiny.osm", clip=False)
    cache = tmp_path / "cache"
    good = road_graph(region, "car", data_dir=data, cache_dir=cache)
    (entry,) = cache.glob("graph-car-*")
    if damage == "delete_array":
        (entry / "head.npy").unlink()
    elif damage == "truncate_array":
        raw = (entry / "travel_time.npy").read_bytes()
        (entry / "travel_time.npy").write_bytes(raw[: len(raw) // 2])
    elif damage == "bad_meta":
        (entry / "meta.json").write_text("{not json", encoding="utf-8")
    else:  # consistent dtype/shape record, but arrays that do not fit together
        np.save(entry / "first_out.npy", np.array([0, 1], dtype=np.int64))
        record = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        record["arrays"]["first_out"]["shape"] = [2]
        (entry / "meta.json").write_text(json.dumps(record), encoding="utf-8")
    with caplog.at_level(logging.INFO):
        again = road_graph(region, "car", data_dir=data, cache_dir=cache)
    assert "rebuilding" in caplog.text
    _assert_same_graph(good, again)
    assert road_graph(region, "car", data_dir=data, cache_dir=cache).n_edges == good.n_edges


def test_cache_key_includes_format_version_and_bbox(hd_region, tmp_path):
    key_a = build_module._graph_key("d" * 64, "car", hd_region.bbox)
    key_b = build_module._graph_key("d" * 64, "car", None)
    key_c = build_module._graph_key("d" * 64, "walk", hd_region.bbox)
    assert len({key_a, key_b, key_c}) == 3
    assert FORMAT_VERSION >= 1


# ----------------------------------------------------------------------------- bad input


def _bad_files(tmp_path: Path, hd_osm: Path) -> dict[str, Path]:
    files = {}
    raw = hd_osm.read_bytes()
    files["truncated"] = tmp_path / "half.osm.pbf"
    files["truncated"].write_bytes(raw[: len(raw) // 2])
    files["garbage"] = tmp_path / "garbage.osm.pbf"
    files["garbage"].write_bytes(np.random.default_rng(0).bytes(4096))
    files["empty"] = tmp_path / "empty.osm.pbf"
    files["empty"].write_bytes(b"")
    files["broken_xml"] = tmp_path / "broken.osm"
    files["broken_xml"].write_text('<osm version="0.6"><node id="1" lat="49.4"', encoding="utf-8")
    files["garbage_bz2"] = tmp_path / "garbage.osm.bz2"
    files["garbage_bz2"].write_bytes(b"BZh9" + np.random.default_rng(1).bytes(512))
    files["no_roads"] = tmp_path / "noroads.osm"
    files["no_roads"].write_text(
        '<osm version="0.6"><node id="1" version="1" lat="49.4" lon="8.6"/>'
        '<node id="2" version="1" lat="49.41" lon="8.6"/>'
        '<way id="5" version="1"><nd ref="1"/><nd ref="2"/><tag k="building" v="yes"/></way>'
        "</osm>",
        encoding="utf-8",
    )
    files["missing"] = tmp_path / "missing.osm.pbf"
    return files


@pytest.mark.parametrize(
    "kind",
    ["truncated", "garbage", "empty", "broken_xml", "garbage_bz2", "no_roads", "missing"],
)
def test_bad_files_raise_data_error(kind, tmp_path, hd_region, hd_data_dir):
    path = _bad_files(tmp_path, hd_region.source_file("osm", hd_data_dir))[kind]
    with pytest.raises(DataError) as info:
        build_road_graphs(path)
    message = str(info.value)
    assert str(path) in message or path.name in message
    assert "elster fetch" in message


def test_no_ways_for_one_profile(tmp_path):
    osm = tmp_path / "footonly.osm"
    osm.write_text(
        '<osm version="0.6"><node id="1" version="1" lat="49.4" lon="8.6"/>'
        '<node id="2" version="1" lat="49.401" lon="8.6"/>'
        '<way id="5" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way>'
        "</osm>",
        encoding="utf-8",
    )
    assert build_road_graphs(osm, ("walk",))["walk"].n_edges == 2
    with pytest.raises(DataError, match="car profile"):
        build_road_graphs(osm, ("walk", "car"))


def test_region_with_broken_file_leaves_no_cache(hd_region, hd_data_dir, tmp_path):
    data = tmp_path / "data"
    (data / "heidelberg").mkdir(parents=True)
    raw = hd_region.source_file("osm", hd_data_dir).read_bytes()
    (data / "heidelberg" / "heidelberg.osm.pbf").write_bytes(raw[: len(raw) // 3])
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="elster fetch heidelberg"):
        road_graph(hd_region, "car", data_dir=data, cache_dir=cache)
    assert not list(cache.glob("graph-*"))
    assert not list(cache.glob(".graph-*"))
    with pytest.raises(DataError, match=r"does not exist.*elster fetch heidelberg"):
        road_graph(hd_region, "car", data_dir=tmp_path / "nowhere", cache_dir=cache)


def test_way_with_a_node_missing_from_the_file(tmp_path, caplog):
    osm = tmp_path / "hole.osm"
    nodes = {1: (49.40, 8.60), 2: (49.40, 8.601), 3: (49.40, 8.603), 4: (49.40, 8.604)}
    nodes[5] = (49.401, 8.602)
    osm.write_text(
        '<osm version="0.6">'
        + "".join(
            f'<node id="{i}" version="1" lat="{a}" lon="{o}"/>' for i, (a, o) in nodes.items()
        )
        + '<way id="7" version="1"><nd ref="1"/><nd ref="2"/><nd ref="99"/><nd ref="3"/>'
        '<nd ref="4"/><tag k="highway" v="residential"/></way>'
        '<way id="8" version="1"><nd ref="1"/><nd ref="5"/><nd ref="4"/>'
        '<tag k="highway" v="residential"/></way></osm>',
        encoding="utf-8",
    )
    with caplog.at_level(logging.INFO, logger="routing.osm"):
        graph = build_road_graphs(osm, ("car",))["car"]
    assert "1 without location" in caplog.text
    assert set(_edges_by_osm(graph)) == {(1, 2), (2, 1), (3, 4), (4, 3), (1, 4), (4, 1)}
    assert np.all(np.isfinite(graph.geom_lat))


def test_bbox_prefilter_skips_far_ways(caplog):
    bbox = (8.689, 49.398, 8.6955, 49.4035)
    with caplog.at_level(logging.INFO, logger="routing.osm"):
        table = read_ways(TINY_OSM, ("walk",), bbox=bbox)
    assert 107 not in table.way_id  # the far-away street 20 - 21
    assert 109 in table.way_id  # partly inside: kept, clipped later
    assert "ways outside the bbox skipped" in caplog.text


def test_only_a_oneway_fragment_is_not_a_network(tmp_path):
    osm = tmp_path / "oneway.osm"
    osm.write_text(
        '<osm version="0.6"><node id="1" version="1" lat="49.4" lon="8.6"/>'
        '<node id="2" version="1" lat="49.401" lon="8.6"/>'
        '<way id="5" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/>'
        '<tag k="oneway" v="yes"/></way></osm>',
        encoding="utf-8",
    )
    assert build_road_graphs(osm, ("walk",))["walk"].n_edges == 2
    with pytest.raises(DataError, match="no connected car road network"):
        build_road_graphs(osm, ("car",))
