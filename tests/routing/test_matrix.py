"""Matrices: CH buckets and per-source Dijkstra against oracles and single queries."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse.csgraph as csg

from routing.ch import build_ch
from routing.errors import RequestError
from routing.matrix import many_to_many, one_to_many, travel_matrices
from routing.search import path_between
from tests.support.graph_factories import (
    dead_end_graph,
    heidelberg_ch,
    heidelberg_graphs,
    random_geometric_graph,
    to_scipy,
)

REL = 1e-9


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal matrices up to float summation order, with inf in the same cells."""
    if not np.array_equal(np.isinf(a), np.isinf(b)):
        return False
    finite = np.isfinite(a)
    return bool(np.allclose(a[finite], b[finite], rtol=REL, atol=1e-12))


@pytest.fixture(scope="module", params=[{}, {"zero_share": 0.1}, {"oneway_share": 0.7}])
def synthetic(request):
    graph = random_geometric_graph(260, seed=31, **request.param)
    rng = np.random.default_rng(4)
    sources = rng.integers(0, graph.n_nodes, 40)
    targets = rng.integers(0, graph.n_nodes, 55)
    oracle = csg.dijkstra(to_scipy(graph), indices=sources)[:, targets]
    return graph, build_ch(graph), sources, targets, oracle


def test_ch_and_dijkstra_matrices_match_scipy(synthetic):
    graph, ch, sources, targets, oracle = synthetic
    by_ch = many_to_many(ch, sources, targets)
    by_graph = many_to_many(graph, sources, targets)
    assert by_ch.shape == (sources.size, targets.size)
    assert by_ch.dtype == np.float64
    assert same(by_ch, oracle)
    assert same(by_graph, oracle)


def test_matrix_equals_repeated_single_queries(synthetic):
    _, ch, sources, targets, _ = synthetic
    matrix = many_to_many(ch, sources, targets)
    single = np.array([[ch.cost_between(s, t) for t in targets] for s in sources])
    assert same(matrix, single)


def test_one_to_many_rows(synthetic):
    graph, _, sources, targets, oracle = synthetic
    for i in range(0, sources.size, 9):
        assert same(one_to_many(graph, int(sources[i]), targets), oracle[i])


def test_lengths_follow_the_fastest_route():
    # Continuous random times: the fastest route is unique, so its length is too.
    graph = random_geometric_graph(200, seed=12)
    ch = build_ch(graph)
    rng = np.random.default_rng(9)
    sources = rng.integers(0, graph.n_nodes, 15)
    targets = rng.integers(0, graph.n_nodes, 12)
    seconds, metres = travel_matrices(ch, sources, targets)
    g_seconds, g_metres = travel_matrices(graph, sources, targets)
    assert same(seconds, g_seconds)
    assert same(metres, g_metres)
    assert same(many_to_many(ch, sources, targets, weight="length"), metres)
    for i, s in enumerate(sources.tolist()):
        assert same(one_to_many(graph, s, targets, weight="length"), metres[i])
        for j, t in enumerate(targets.tolist()):
            if math.isfinite(seconds[i, j]):
                path = path_between(graph, s, t)
                assert metres[i, j] == pytest.approx(path.length_m, rel=REL)


def test_unreachable_duplicates_and_bad_input():
    graph = dead_end_graph()
    ch = build_ch(graph)
    sources = [0, 5, 5, 6]
    targets = [5, 0, 5, 6, 6]
    expected = np.array(
        [
            [52.0, 0.0, 52.0, np.inf, np.inf],
            [0.0, np.inf, 0.0, np.inf, np.inf],
            [0.0, np.inf, 0.0, np.inf, np.inf],
            [np.inf, np.inf, np.inf, 0.0, 0.0],
        ]
    )
    assert same(many_to_many(ch, sources, targets), expected)
    assert same(many_to_many(graph, sources, targets), expected)
    with pytest.raises(RequestError, match="weight"):
        many_to_many(ch, sources, targets, weight="money")
    with pytest.raises(RequestError, match="out of range"):
        many_to_many(ch, [0, 9], targets)
    with pytest.raises(RequestError, match="ContractionHierarchy or a RoadGraph"):
        many_to_many("car", [0], [1])


@pytest.mark.slow
def test_heidelberg_car_matrix(hd_data_dir, cache_dir):
    graph = heidelberg_graphs(hd_data_dir, cache_dir)["car"]
    ch = heidelberg_ch("car", hd_data_dir, cache_dir)
    rng = np.random.default_rng(77)
    sources = rng.integers(0, graph.n_nodes, 60)
    targets = rng.integers(0, graph.n_nodes, 80)
    seconds, metres = travel_matrices(ch, sources, targets)
    assert same(seconds, csg.dijkstra(to_scipy(graph), indices=sources)[:, targets])
    single = np.array([[ch.cost_between(s, t) for t in targets[:20]] for s in sources[:20]])
    assert same(seconds[:20, :20], single)
    g_seconds, g_metres = travel_matrices(graph, sources[:10], targets)
    assert same(g_seconds, seconds[:10])
    # Lengths may differ only where two routes tie exactly in time.
    agree = np.isclose(g_metres, metres[:10], rtol=REL) | np.isinf(g_metres)
    assert agree.mean() > 0.97
