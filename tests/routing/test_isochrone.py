"""Isochrones against a full scipy Dijkstra: node sets, times, edge fractions, drawing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.csgraph as csg

from routing.geo import haversine_m
from routing.isochrone import isochrone, isochrone_edges, isochrone_polylines
from routing.paths import edge_prefix_polyline
from tests.support.graph_factories import (
    graph_from_edges,
    heidelberg_graphs,
    random_geometric_graph,
    to_scipy,
)

REL = 1e-9


def oracle(graph, src, sc, *, reverse=False):
    matrix = to_scipy(graph)
    full = csg.dijkstra(matrix.T if reverse else matrix, indices=src)
    return (full + np.asarray(sc)[:, None]).min(axis=0)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("budget", [0.0, 45.0, 200.0, 1e9])
def test_nodes_and_times_match_oracle(budget, reverse):
    graph = random_geometric_graph(300, seed=17, oneway_share=0.5)
    src, sc = np.array([10, 200]), np.array([0.0, 20.0])
    expected = oracle(graph, src, sc, reverse=reverse)
    nodes, times = isochrone(graph, src, sc, budget, reverse=reverse)
    want = np.flatnonzero(np.isfinite(expected) & (expected <= budget))
    assert np.array_equal(np.sort(nodes), want)
    assert np.allclose(times, expected[nodes], rtol=REL, atol=0)
    assert np.all(np.diff(times) >= 0)
    assert nodes.dtype == np.int32


def test_edges_and_fractions_match_oracle():
    graph = random_geometric_graph(300, seed=18)
    budget = 120.0
    expected = oracle(graph, [5], [0.0])
    reached = isochrone_edges(graph, [5], None, budget)
    tails = graph.tail()
    want = np.flatnonzero(expected[tails] <= budget)
    assert np.array_equal(reached.edges, want)
    assert np.allclose(reached.tail_time, expected[tails[want]], rtol=REL)
    left = budget - expected[tails[want]]
    tt = graph.travel_time[want]
    assert np.allclose(reached.fraction, np.minimum(left / tt, 1.0), rtol=REL)
    full = reached.fraction == 1.0
    # A fully reached edge's head is within the budget too.
    assert np.all(expected[graph.head[reached.edges[full]]] <= budget * (1 + REL))
    lines = isochrone_polylines(graph, reached)
    assert len(lines) == int((reached.fraction > 0).sum())


def test_partial_edge_polyline_is_cut_by_length():
    lat = np.array([49.40, 49.41])
    lon = np.array([8.69, 8.69])
    graph = graph_from_edges(2, [0], [1], [100.0], lat=lat, lon=lon, shape_points=True)
    lats, lons = edge_prefix_polyline(graph, 0, 0.25)
    total = haversine_m(lat[0], lon[0], lat[1], lon[1])
    cut = haversine_m(lats[0], lons[0], lats[-1], lons[-1])
    assert cut == pytest.approx(0.25 * total, rel=1e-6)
    assert lats[0] == lat[0]
    full_lat, _ = edge_prefix_polyline(graph, 0, 1.0)
    assert full_lat.size == 3  # tail, the shape point, head
    reached = isochrone_edges(graph, [0], None, 50.0)
    assert reached.fraction.tolist() == [0.5]


@pytest.mark.slow
def test_heidelberg_walk_isochrone(hd_data_dir, cache_dir):
    graph = heidelberg_graphs(hd_data_dir, cache_dir)["walk"]
    start = graph.n_nodes // 2
    expected = oracle(graph, [start], [0.0])
    nodes, times = isochrone(graph, [start], None, 600.0)
    want = np.flatnonzero(expected <= 600.0)
    assert np.array_equal(np.sort(nodes), want)
    assert np.allclose(times, expected[nodes], rtol=REL)
    assert 10 < nodes.size < graph.n_nodes
