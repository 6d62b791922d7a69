"""Live network state: closures and traffic respected by routes, matrices and isochrones, exactly.

Oracles are scipy's Dijkstra on an independently built matrix of the modified
weights (closed edges left out), never the code under test.
"""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra as sp_dijkstra

from routing.errors import DataError, NoRouteError, RequestError
from routing.live import LiveState, parse_time, traffic_records
from routing.road import RoadNetwork

T0 = 1_700_000_000.0


class Clock:
    """A settable clock for time windows and traffic expiry."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def oracle_matrix(graph, weights: np.ndarray, sources) -> np.ndarray:
    """All distances from ``sources`` on ``weights`` (inf edges removed) with scipy."""
    tails = graph.tail()
    keep = np.isfinite(weights)
    # scipy drops explicit zeros: add a tiny epsilon (far below the test tolerance)
    matrix = csr_matrix(
        (weights[keep] + 1e-9, (tails[keep], np.asarray(graph.head)[keep])),
        shape=(graph.n_nodes, graph.n_nodes),
    )
    return sp_dijkstra(matrix, directed=True, indices=np.asarray(sources))


def oracle_route(network: RoadNetwork, weights: np.ndarray, a, b) -> float:
    """Best of every seed pair joined by scipy Dijkstra, or along the shared edge."""
    sa, sb = network.snap(*a), network.snap(*b)
    src, src_cost = sa.source_seeds(weights)
    dst, dst_cost = sb.target_seeds(weights)
    dist = oracle_matrix(network.graph, weights, src)
    best = sa.direct_cost_to(sb, weights)
    best = best if math.isfinite(best) else math.inf
    for i, sc in enumerate(src_cost):
        for t, tc in zip(dst, dst_cost, strict=True):
            if math.isfinite(sc) and math.isfinite(tc):
                best = min(best, sc + dist[i, t] + tc)
    return best


def busy_edges(network: RoadNetwork, rng, n_pairs: int, n_edges: int) -> np.ndarray:
    """Edges on base shortest paths between random node pairs (closures that matter)."""
    graph = network.graph
    found: list[int] = []
    while len(found) < n_edges:
        s, t = rng.integers(0, graph.n_nodes, size=2)
        try:
            path = network.hierarchy.path_between(int(s), int(t))
        except NoRouteError:
            continue
        if path.edges.size > 4:
            middle = path.edges[path.edges.size // 3 : path.edges.size // 3 + 2]
            found.extend(int(e) for e in middle)
    return np.unique(np.asarray(found[:n_edges], dtype=np.int64))


def random_points(graph, rng, n: int):
    nodes = rng.integers(0, graph.n_nodes, size=n)
    return [(float(graph.lat[v]) + 1e-5, float(graph.lon[v]) - 1e-5) for v in nodes]


@pytest.fixture(scope="module")
def car(hd_networks) -> RoadNetwork:
    return hd_networks["car"]


# --------------------------------------------------------------------------- closures


def test_closed_way_is_never_used_and_returns_after_its_window(car: RoadNetwork) -> None:
    clock = Clock()
    live = LiveState({"car": car.graph}, clock=clock)
    network = car.with_live(live)
    a, b = (49.4094, 8.6937), (49.3925, 8.6890)
    before = network.route(a, b)
    used_ways = np.unique(car.graph.way_id[before.edges])
    assert used_ways.size > 3
    closed_ways = used_ways[used_ways.size // 2 : used_ways.size // 2 + 2]
    live.add_closure(way_ids=closed_ways.tolist(), start=T0 + 60, end=T0 + 3600, reason="works")

    assert network.route(a, b).duration_s == pytest.approx(before.duration_s)  # not yet active
    clock.now = T0 + 120
    during = network.route(a, b)
    assert not np.isin(car.graph.way_id[during.edges], closed_ways).any()
    weights = live.weights("car").travel_time
    assert np.isinf(weights[np.isin(car.graph.way_id, closed_ways)]).all()
    assert during.duration_s == pytest.approx(oracle_route(car, np.asarray(weights), a, b))
    assert during.duration_s >= before.duration_s
    clock.now = T0 + 3600  # the window is [start, end)
    after = network.route(a, b)
    assert after.duration_s == pytest.approx(before.duration_s)
    assert np.array_equal(after.edges, before.edges)


def test_routes_right_after_closing_50_edges_are_exact(car: RoadNetwork) -> None:
    rng = np.random.default_rng(11)
    live = LiveState({"car": car.graph}, clock=Clock())
    network = car.with_live(live)
    closed = busy_edges(car, rng, 200, 50)
    live.add_closure(edges=closed.tolist(), edge_profile="car")
    weights = np.asarray(live.weights("car").travel_time)
    points = random_points(car.graph, rng, 80)
    checked = 0
    for a, b in zip(points[::2], points[1::2], strict=True):
        expected = oracle_route(car, weights, a, b)
        if not math.isfinite(expected):
            with pytest.raises(NoRouteError):
                network.route(a, b)
            continue
        found = network.route(a, b)
        assert found.duration_s == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert not np.isin(found.edges, closed).any()
        assert np.isfinite(weights[found.edges]).all()
        assert float(weights[found.edges].sum()) <= found.duration_s + 1e-6
        checked += 1
    assert checked >= 30
    # answered on the hierarchy customized once for the closure (no Dijkstra fallback)
    assert network.stats.customizations == 1
    assert network.stats.live_queries >= checked


def test_speed_up_stays_exact(car: RoadNetwork) -> None:
    rng = np.random.default_rng(5)
    live = LiveState({"car": car.graph}, clock=Clock())
    network = car.with_live(live)
    faster = busy_edges(car, rng, 100, 30)
    live.add_closure(kind="speed", factor=3.0, edges=faster.tolist(), edge_profile="car")
    weights = live.weights("car")
    assert not weights.increased_only
    for a, b in zip(*[iter(random_points(car.graph, rng, 20))] * 2, strict=True):
        expected = oracle_route(car, np.asarray(weights.travel_time), a, b)
        if math.isfinite(expected):
            assert network.route(a, b).duration_s == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert network.stats.customizations == 1


def test_matrix_under_closures_matches_oracle(car: RoadNetwork) -> None:
    rng = np.random.default_rng(3)
    live = LiveState({"car": car.graph}, clock=Clock())
    network = car.with_live(live)
    closed = busy_edges(car, rng, 100, 50)
    live.add_closure(edges=closed.tolist(), edge_profile="car")
    sources = rng.integers(0, car.graph.n_nodes, size=25)
    targets = rng.integers(0, car.graph.n_nodes, size=30)
    seconds, metres = network.matrix(sources, targets)
    weights = np.asarray(live.weights("car").travel_time)
    expected = oracle_matrix(car.graph, weights, sources)[:, targets]
    assert np.array_equal(np.isinf(seconds), np.isinf(expected))
    finite = np.isfinite(expected)
    assert np.allclose(seconds[finite], expected[finite], rtol=1e-9, atol=1e-5)
    assert np.all(metres[finite] >= 0)
    # the base matrix differs somewhere, else the closure tested nothing
    base, _ = car.matrix(sources, targets)
    assert (base[finite] < seconds[finite] - 1e-6).any() or np.isinf(seconds).sum() > np.isinf(
        base
    ).sum()
    assert network.stats.customizations == 1


def test_isochrone_never_crosses_a_closed_road(car: RoadNetwork) -> None:
    rng = np.random.default_rng(2)
    live = LiveState({"car": car.graph}, clock=Clock())
    network = car.with_live(live)
    origin = (49.4094, 8.6937)
    budget = 300.0
    open_reach = network.isochrone_edges(origin, budget)
    closed = rng.choice(open_reach.edges[open_reach.fraction >= 1.0], size=40, replace=False)
    live.add_closure(edges=closed.tolist(), edge_profile="car")
    reach = network.isochrone_edges(origin, budget)
    fully = reach.edges[reach.fraction > 0]
    assert not np.isin(fully, closed).any()
    weights = np.asarray(live.weights("car").travel_time)
    start = car.snap(*origin)
    src, cost = start.source_seeds(weights)
    dist = oracle_matrix(car.graph, weights, src)
    best = np.min(dist + cost[: len(src), None], axis=0)
    tails = car.graph.tail()
    expected = np.flatnonzero(best[tails] <= budget)
    assert np.array_equal(np.sort(reach.edges), expected)


def test_polygon_closes_every_intersecting_edge(tiny_graphs) -> None:
    from shapely.geometry import LineString, shape

    graph = tiny_graphs["walk"]
    lat0, lon0 = float(np.median(graph.lat)), float(np.median(graph.lon))
    d = 0.0008
    polygon = {
        "type": "Polygon",
        "coordinates": [
            [[lon0 - d, lat0 - d], [lon0 + d, lat0 - d], [lon0 + d, lat0 + d], [lon0 - d, lat0 + d],
             [lon0 - d, lat0 - d]]
        ],
    }  # fmt: skip
    live = LiveState({"walk": graph}, clock=Clock())
    closure = live.add_closure(polygon=polygon, reason="flood")
    area = shape(polygon)
    expected = [
        e
        for e in range(graph.n_edges)
        if LineString(np.column_stack(graph.edge_points(e)[::-1])).intersects(area)
    ]
    assert expected, "the polygon should touch some edge of the fixture"
    assert live.closure_edges(closure.id, "walk").tolist() == expected
    weights = live.weights("walk").travel_time
    assert np.isinf(weights[expected]).all()
    assert np.isfinite(np.delete(weights, expected)).all()
    collection = live.geojson()
    kinds = [f["geometry"]["type"] for f in collection["features"]]
    assert kinds == ["MultiLineString", "Polygon"]
    assert collection["features"][0]["properties"]["edges"] == len(expected)


@pytest.mark.parametrize("seed", range(4))
def test_area_lookup_matches_every_edge_tested_one_by_one(tiny_graphs, seed: int) -> None:
    """Concave and two-part areas: the bounding-box prefilter drops no intersecting edge."""
    from shapely.geometry import LineString, MultiPolygon, Polygon, mapping

    graph = tiny_graphs["walk"]
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(2):
        lat0, lon0 = float(rng.choice(graph.lat)), float(rng.choice(graph.lon))
        r = rng.uniform(0.0003, 0.002)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
        radius = r * rng.uniform(0.2, 1.0, 9)  # a jagged, concave outline
        parts.append(
            Polygon(
                np.column_stack((lon0 + radius * np.cos(angles), lat0 + radius * np.sin(angles)))
            )
        )
    area = MultiPolygon(parts).buffer(0) if seed % 2 else parts[0].buffer(0)
    live = LiveState({"walk": graph}, clock=Clock())
    closure = live.add_closure(polygon=mapping(area))
    expected = [
        e
        for e in range(graph.n_edges)
        if LineString(np.column_stack(graph.edge_points(e)[::-1])).intersects(area)
    ]
    assert expected, "the area should touch some edge of the fixture"
    assert live.closure_edges(closure.id, "walk").tolist() == expected


def test_bad_closures_are_refused(tiny_graphs) -> None:
    live = LiveState({"walk": tiny_graphs["walk"]}, clock=Clock())
    with pytest.raises(RequestError, match="way_ids, a polygon"):
        live.add_closure()
    with pytest.raises(RequestError, match="edge_profile"):
        live.add_closure(edges=[1])
    with pytest.raises(RequestError, match=r"0\.\."):
        live.add_closure(edges=[10**9], edge_profile="walk")
    with pytest.raises(RequestError, match="Polygon"):
        live.add_closure(polygon={"type": "Point", "coordinates": [8.7, 49.4]})
    with pytest.raises(RequestError, match="end must be after start"):
        live.add_closure(way_ids=[1], start="2024-06-01T10:00", end="2024-06-01T09:00")
    with pytest.raises(RequestError, match="exactly one"):
        live.add_closure(way_ids=[1], kind="speed")
    with pytest.raises(RequestError, match="unknown profile"):
        live.add_closure(way_ids=[1], profiles=["boat"])
    assert live.version == 0
    assert live.closures() == []


# --------------------------------------------------------------------------- traffic


def test_traffic_readings_slow_roads_and_expire(car: RoadNetwork) -> None:
    clock = Clock()
    live = LiveState({"car": car.graph}, clock=clock, traffic_ttl_s=600)
    graph = car.graph
    base = np.asarray(graph.travel_time)
    way = int(graph.way_id[np.argmax(graph.length_m)])
    edges = np.flatnonzero(graph.way_id == way)
    far_way = int(graph.way_id[0])
    csv_text = (
        "way_id,speed_kmh,timestamp\n"
        f"{way},10,{T0 - 60}\n"
        f"{far_way},5,{T0 - 4000}\n"  # stale: ignored
        "999999999999,20,{T0}\n".replace("{T0}", str(T0))
    )
    result = live.add_traffic(traffic_records(csv_text))
    assert result["applied"] == 1
    assert result["stale"] == 1
    assert len(result["ignored"]) == 1
    weights = np.asarray(live.weights("car").travel_time)
    # A reading slows the driving part; the turn onto the segment costs the same.
    expected = np.maximum(base[edges], graph.length_m[edges] / (10 / 3.6) + graph.turn_cost[edges])
    assert np.allclose(weights[edges], expected)
    untouched = np.ones(graph.n_edges, bool)
    untouched[edges] = False
    assert np.array_equal(weights[untouched], base[untouched])
    clock.now = T0 + 600  # the reading (taken at T0 - 60) is now older than the TTL
    assert not live.weights("car").changed


def test_traffic_by_coordinates_and_json(car: RoadNetwork) -> None:
    live = LiveState({"car": car.graph}, clock=Clock(), snapper=car.snapper)
    graph = car.graph
    e = int(np.argmax(graph.length_m))
    lats, lons = graph.edge_points(e)
    mid = len(lats) // 2
    payload = json.dumps(
        {
            "readings": [
                {
                    "lat": lats[mid],
                    "lon": lons[mid],
                    "speed": 7,
                    "timestamp": "2023-11-14T23:13:00+01:00",
                }
            ]
        }
    )
    result = live.add_traffic(traffic_records(payload))
    assert result["applied"] == 1
    reading = live.traffic()[0]
    assert reading.way_id == int(graph.way_id[e])
    assert live.weights("car").travel_time[e] >= graph.length_m[e] / (7 / 3.6) - 1e-9


def test_malformed_traffic_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="lacks columns"):
        traffic_records("a,b\n1,2\n")
    with pytest.raises(DataError, match="not valid JSON"):
        traffic_records("[{")
    with pytest.raises(RequestError, match="ISO 8601"):
        parse_time("yesterday")


# --------------------------------------------------------------------------- persistence


def test_state_survives_a_restart(tmp_path, car: RoadNetwork) -> None:
    path = tmp_path / "live" / "heidelberg.json"
    clock = Clock()
    live = LiveState({"car": car.graph}, path=path, clock=clock)
    ways = car.graph.way_id[:3].tolist()
    closure = live.add_closure(way_ids=ways, end=T0 + 7200, reason="flood")
    live.add_traffic([{"way_id": int(car.graph.way_id[100]), "speed_kmh": 12, "timestamp": T0}])
    assert json.loads(path.read_text())["closures"][0]["id"] == closure.id
    again = LiveState({"car": car.graph}, path=path, clock=clock)
    assert [c.id for c in again.closures()] == [closure.id]
    assert np.array_equal(
        np.asarray(again.weights("car").travel_time), np.asarray(live.weights("car").travel_time)
    )
    assert again.remove_closure(closure.id)
    assert not again.remove_closure(closure.id)
    assert LiveState({"car": car.graph}, path=path, clock=clock).closures() == []
    assert not list(path.parent.glob(".*"))  # no temporary files left behind


def test_damaged_state_file_is_reported(tmp_path, tiny_graphs) -> None:
    path = tmp_path / "live.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match=r"live\.json"):
        LiveState({"walk": tiny_graphs["walk"]}, path=path)
    assert path.read_text() == "{not json"  # left untouched for the operator


def test_concurrent_changes_and_queries(tiny_graphs) -> None:
    graph = tiny_graphs["walk"]
    live = LiveState({"walk": graph}, clock=Clock())
    errors: list[Exception] = []

    def writer(k: int) -> None:
        try:
            for i in range(20):
                c = live.add_closure(edges=[(k * 20 + i) % graph.n_edges], edge_profile="walk")
                live.remove_closure(c.id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(100):
                w = live.weights("walk")
                assert int(np.isinf(w.travel_time).sum()) <= 4
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert live.version == 160
    assert not live.weights("walk").changed
