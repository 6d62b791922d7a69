"""Oracle tests of the point-to-point searches (Dijkstra, bidirectional Dijkstra, A*).

Oracles: networkx Dijkstra and scipy.sparse.csgraph.dijkstra on the same arrays.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse.csgraph as csg
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.errors import NoRouteError, RequestError
from routing.paths import check_path, path_polyline
from routing.search import (
    METHODS,
    cost_between,
    dijkstra_bounded,
    max_speed_mps,
    path_between,
    reverse_graph_arrays,
    shortest_path,
    shortest_path_cost,
)
from tests.support.graph_factories import (
    dead_end_graph,
    graph_from_edges,
    heidelberg_graphs,
    random_geometric_graph,
    to_networkx,
    to_scipy,
)

REL = 1e-9

VARIANTS = {
    "plain": {},
    "ties": {"integer_times": True},
    "zero-times": {"zero_share": 0.1},
    "one-way-heavy": {"oneway_share": 0.7},
}


def close(a: float, b: float) -> bool:
    """Equal costs up to float summation order (inf == inf)."""
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= REL * max(abs(a), abs(b), 1.0)


def assert_valid_path(graph, path, cost, source=None, target=None):
    check_path(graph, path.edges)
    assert close(float(graph.travel_time[path.edges].sum()), cost)
    assert path.nodes.size == path.edges.size + 1
    if path.edges.size:
        assert np.array_equal(path.nodes[1:], graph.head[path.edges])
    if source is not None:
        assert path.source == source
    if target is not None:
        assert path.target == target


@pytest.fixture(scope="module", params=list(VARIANTS))
def synthetic(request):
    graph = random_geometric_graph(250, seed=len(request.param), **VARIANTS[request.param])
    return graph, dict(nx.all_pairs_dijkstra_path_length(to_networkx(graph), weight="weight"))


@pytest.mark.parametrize("method", METHODS)
def test_point_to_point_matches_networkx(synthetic, method):
    graph, oracle = synthetic
    rng = np.random.default_rng(7)
    unreachable = 0
    for s, t in rng.integers(0, graph.n_nodes, (150, 2)).tolist():
        expected = oracle[s].get(t, math.inf)
        cost = cost_between(graph, s, t, method=method)
        assert close(cost, expected), (s, t, cost, expected)
        if math.isinf(expected):
            unreachable += 1
            with pytest.raises(NoRouteError):
                path_between(graph, s, t, method=method)
        else:
            assert_valid_path(graph, path_between(graph, s, t, method=method), expected, s, t)
    assert unreachable < 150


def test_scipy_agrees_with_networkx_oracle(synthetic):
    graph, oracle = synthetic
    dist = csg.dijkstra(to_scipy(graph), indices=[0, 5])
    for row, s in enumerate((0, 5)):
        for t in range(graph.n_nodes):
            expected = oracle[s].get(t, math.inf)
            # to_scipy lifts zero weights to 1e-300; compare with an absolute slack.
            assert math.isinf(expected) == math.isinf(dist[row, t])
            if not math.isinf(expected):
                assert abs(dist[row, t] - expected) <= REL * max(expected, 1.0)


@pytest.mark.parametrize("method", METHODS)
def test_seeds_with_costs_match_brute_force(method):
    graph = random_geometric_graph(200, seed=11)
    full = csg.dijkstra(to_scipy(graph))
    rng = np.random.default_rng(3)
    for _ in range(40):
        src = rng.integers(0, graph.n_nodes, rng.integers(1, 4))
        dst = rng.integers(0, graph.n_nodes, rng.integers(1, 4))
        sc = rng.uniform(0, 60, src.size)
        dc = rng.uniform(0, 60, dst.size)
        expected = (sc[:, None] + full[np.ix_(src, dst)] + dc[None, :]).min()
        assert close(shortest_path_cost(graph, src, sc, dst, dc, method=method), expected)
        if math.isfinite(expected):
            path = shortest_path(graph, src, sc, dst, dc, method=method)
            assert close(path.cost, expected)
            i = np.flatnonzero(src == path.source)
            j = np.flatnonzero(dst == path.target)
            assert i.size
            assert j.size
            assert close(
                float(sc[i].min() + graph.travel_time[path.edges].sum() + dc[j].min()), expected
            )
            check_path(graph, path.edges)


@pytest.mark.parametrize("method", METHODS)
def test_dead_end_is_unreachable(method):
    graph = dead_end_graph()
    assert cost_between(graph, 0, 5, method=method) == pytest.approx(40.0 + 5.0 + 7.0)
    for s, t in ((5, 0), (4, 3), (0, 6), (6, 0)):
        assert cost_between(graph, s, t, method=method) == math.inf
        with pytest.raises(NoRouteError, match="not reachable"):
            path_between(graph, s, t, method=method)


@pytest.mark.parametrize("method", METHODS)
def test_same_node_is_an_empty_path(method):
    graph = dead_end_graph()
    path = path_between(graph, 2, 2, method=method)
    assert path.cost == 0.0
    assert path.edges.size == 0
    assert path.nodes.tolist() == [2]
    assert path.length_m == 0.0


def test_bad_requests_are_rejected():
    graph = dead_end_graph()
    with pytest.raises(RequestError, match="out of range"):
        cost_between(graph, 0, 99)
    with pytest.raises(RequestError, match="unknown method"):
        cost_between(graph, 0, 1, method="bfs")
    with pytest.raises(RequestError, match="no source"):
        shortest_path_cost(graph, [], None, [1], None)
    with pytest.raises(RequestError, match=">= 0"):
        shortest_path_cost(graph, [0], [-1.0], [1], None)
    with pytest.raises(RequestError, match="one cost per node"):
        shortest_path_cost(graph, [0, 1], [1.0], [2], None)
    with pytest.raises(RequestError, match="integer"):
        shortest_path_cost(graph, [0.5], None, [2], None)
    with pytest.raises(RequestError, match="budget"):
        dijkstra_bounded(graph, [0], None, -1.0)


def test_reverse_graph_is_consistent_and_cached():
    graph = random_geometric_graph(100, seed=4)
    rev = reverse_graph_arrays(graph)
    assert rev is reverse_graph_arrays(graph)
    heads = np.repeat(np.arange(graph.n_nodes), np.diff(rev.first_in))
    assert np.array_equal(graph.head[rev.edge], heads)
    assert np.array_equal(graph.tail()[rev.edge], rev.tail)
    assert np.array_equal(graph.travel_time[rev.edge], rev.travel_time)
    assert np.array_equal(np.sort(rev.edge), np.arange(graph.n_edges))


def test_astar_speed_bound_is_admissible():
    graph = random_geometric_graph(100, seed=5)
    speed = max_speed_mps(graph)
    assert 0 < speed < math.inf
    tails = graph.tail()
    from routing.geo import haversine_kernel as haversine_m

    for e in range(graph.n_edges):
        u, v = tails[e], graph.head[e]
        assert haversine_m(graph.lat[u], graph.lon[u], graph.lat[v], graph.lon[v]) <= (
            speed * graph.travel_time[e] * (1 + 1e-12)
        )


@pytest.mark.parametrize("reverse", [False, True])
def test_dijkstra_bounded_matches_scipy(reverse):
    graph = random_geometric_graph(300, seed=9, oneway_share=0.4)
    matrix = to_scipy(graph)
    src = np.array([3, 77, 150])
    sc = np.array([0.0, 30.0, 5.0])
    full = csg.dijkstra(matrix.T if reverse else matrix, indices=src)
    expected = (full + sc[:, None]).min(axis=0)
    for budget in (0.0, 60.0, 240.0, math.inf):
        dist = dijkstra_bounded(graph, src, sc, budget, reverse=reverse)
        inside = np.isfinite(expected) & (expected <= budget)
        assert np.array_equal(np.isfinite(dist), inside)
        assert np.allclose(dist[inside], expected[inside], rtol=REL, atol=0)


def test_path_polyline_runs_through_shape_points():
    graph = random_geometric_graph(150, seed=2)
    path = path_between(graph, 0, 100)
    lat, lon = path_polyline(graph, path.edges)
    shape = graph.geom_first[path.edges + 1] - graph.geom_first[path.edges]
    assert lat.size == path.edges.size + 1 + shape.sum()
    assert (lat[0], lon[0]) == (graph.lat[0], graph.lon[0])
    assert (lat[-1], lon[-1]) == (graph.lat[100], graph.lon[100])
    # Every edge contributes its tail, then its own shape points, in order.
    k = 0
    for e in path.edges:
        pts_lat, pts_lon = graph.edge_points(int(e))
        assert np.array_equal(lat[k : k + pts_lat.size], pts_lat)
        assert np.array_equal(lon[k : k + pts_lon.size], pts_lon)
        k += pts_lat.size - 1


@st.composite
def small_graphs(draw):
    n = draw(st.integers(2, 9))
    m = draw(st.integers(0, 30))
    tails = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    heads = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    times = draw(
        st.lists(st.sampled_from([0.0, 1.0, 2.0, 2.5, 7.0, 100.0]), min_size=m, max_size=m)
    )
    return graph_from_edges(n, tails, heads, times, np.ones(m))


@settings(max_examples=60, deadline=None)
@given(small_graphs(), st.data())
def test_small_graphs_match_networkx(graph, data):
    oracle = dict(nx.all_pairs_dijkstra_path_length(to_networkx(graph), weight="weight"))
    s = data.draw(st.integers(0, graph.n_nodes - 1))
    t = data.draw(st.integers(0, graph.n_nodes - 1))
    expected = oracle[s].get(t, math.inf)
    for method in METHODS:
        assert close(cost_between(graph, s, t, method=method), expected)
        if math.isfinite(expected):
            assert_valid_path(graph, path_between(graph, s, t, method=method), expected, s, t)


# ------------------------------------------------------------------- Heidelberg


@pytest.fixture(scope="module")
def hd_graphs(hd_data_dir, cache_dir):
    return heidelberg_graphs(hd_data_dir, cache_dir)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["car", "bike", "walk"])
def test_heidelberg_methods_match_scipy(hd_graphs, profile):
    graph = hd_graphs[profile]
    rng = np.random.default_rng(42)
    sources = rng.integers(0, graph.n_nodes, 12)
    targets = rng.integers(0, graph.n_nodes, 10)
    expected = csg.dijkstra(to_scipy(graph), indices=sources)[:, targets]
    for i, s in enumerate(sources.tolist()):
        for j, t in enumerate(targets.tolist()):
            for method in METHODS:
                assert close(cost_between(graph, s, t, method=method), expected[i, j])
    path = path_between(graph, int(sources[0]), int(targets[0]), method="astar")
    assert_valid_path(graph, path, expected[0, 0], int(sources[0]), int(targets[0]))


@pytest.mark.slow
def test_heidelberg_car_matches_networkx(hd_graphs):
    graph = hd_graphs["car"]
    g = to_networkx(graph)
    rng = np.random.default_rng(5)
    for s, t in rng.integers(0, graph.n_nodes, (8, 2)).tolist():
        try:
            expected = nx.shortest_path_length(g, s, t, weight="weight")
        except nx.NetworkXNoPath:
            expected = math.inf
        assert close(cost_between(graph, s, t, method="bidijkstra"), expected)
