"""Contraction hierarchies: exactness against Dijkstra oracles, structure, unpacking, cache."""

from __future__ import annotations

import math
import pickle

import networkx as nx
import numpy as np
import pytest
import scipy.sparse.csgraph as csg

import routing.ch.contraction as ch_module
from routing.cache import is_memory_mapped
from routing.ch import (
    ContractionHierarchy,
    build_ch,
    check_hierarchy,
    contraction_hierarchy,
    load_ch,
    save_ch,
)
from routing.errors import DataError, NoRouteError, RequestError
from routing.paths import check_path
from tests.support.graph_factories import (
    dead_end_graph,
    graph_from_edges,
    heidelberg_ch,
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
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= REL * max(abs(a), abs(b), 1.0)


def all_pairs(graph) -> np.ndarray:
    """networkx all-pairs Dijkstra as a dense matrix (inf = unreachable)."""
    n = graph.n_nodes
    dist = np.full((n, n), np.inf)
    for s, row in nx.all_pairs_dijkstra_path_length(to_networkx(graph), weight="weight"):
        for t, d in row.items():
            dist[s, t] = d
    return dist


def assert_route(ch: ContractionHierarchy, s: int, t: int, expected: float) -> None:
    graph = ch.graph
    path = ch.path_between(s, t)
    assert close(path.cost, expected)
    check_path(graph, path.edges)
    assert close(float(graph.travel_time[path.edges].sum()), expected)
    assert path.source == s
    assert path.target == t
    assert path.edges.min(initial=0) >= 0
    assert path.edges.max(initial=0) < graph.n_edges


@pytest.fixture(scope="module", params=list(VARIANTS))
def synthetic(request):
    graph = random_geometric_graph(220, seed=3 + len(request.param), **VARIANTS[request.param])
    return graph, build_ch(graph), all_pairs(graph)


def test_queries_match_networkx_on_all_pairs(synthetic):
    graph, ch, oracle = synthetic
    n = graph.n_nodes
    got = np.array([[ch.cost_between(s, t) for t in range(n)] for s in range(n)])
    assert np.array_equal(np.isinf(got), np.isinf(oracle))
    finite = np.isfinite(oracle)
    assert np.allclose(got[finite], oracle[finite], rtol=REL, atol=1e-12)


def test_routes_unpack_to_consecutive_original_edges(synthetic):
    graph, ch, oracle = synthetic
    rng = np.random.default_rng(1)
    for s, t in rng.integers(0, graph.n_nodes, (200, 2)).tolist():
        if math.isinf(oracle[s, t]):
            with pytest.raises(NoRouteError):
                ch.path_between(s, t)
        else:
            assert_route(ch, s, t, oracle[s, t])


def test_seeded_queries_match_brute_force(synthetic):
    graph, ch, oracle = synthetic
    rng = np.random.default_rng(2)
    for _ in range(100):
        src = rng.integers(0, graph.n_nodes, rng.integers(1, 4))
        dst = rng.integers(0, graph.n_nodes, rng.integers(1, 4))
        sc = rng.uniform(0, 100, src.size)
        dc = rng.uniform(0, 100, dst.size)
        expected = (sc[:, None] + oracle[np.ix_(src, dst)] + dc[None, :]).min()
        assert close(ch.query(src, sc, dst, dc), expected)
        if math.isfinite(expected):
            path = ch.route(src, sc, dst, dc)
            assert close(path.cost, expected)
            check_path(graph, path.edges)
            start = sc[src == path.source].min()
            end = dc[dst == path.target].min()
            assert close(start + float(graph.travel_time[path.edges].sum()) + end, expected)


def test_hierarchy_structure(synthetic):
    graph, ch, _ = synthetic
    n = graph.n_nodes
    assert np.array_equal(np.sort(ch.rank), np.arange(n))
    assert np.array_equal(ch.order[ch.rank], np.arange(n))
    up_tail = np.repeat(np.arange(n), np.diff(ch.up_first_out))
    down_head = np.repeat(np.arange(n), np.diff(ch.down_first_out))
    assert np.all(ch.up_head > up_tail)
    assert np.all(ch.down_tail > down_head)
    # Every arc appears once, up or down; weights and lengths are sums of their halves.
    arcs = np.concatenate((ch.up_arc, ch.down_arc))
    assert np.array_equal(np.sort(arcs), np.arange(ch.arc_edge.size))
    weight = np.empty(ch.arc_edge.size)
    weight[ch.up_arc] = ch.up_weight
    weight[ch.down_arc] = ch.down_weight
    original = ch.arc_edge >= 0
    assert np.array_equal(weight[original], graph.travel_time[ch.arc_edge[original]])
    assert np.array_equal(ch.arc_length[original], graph.length_m[ch.arc_edge[original]])
    sc = ~original
    a, b = ch.arc_child_a[sc], ch.arc_child_b[sc]
    assert np.all((a >= 0) & (b >= 0))
    assert np.allclose(weight[sc], weight[a] + weight[b], rtol=1e-12)
    assert np.allclose(ch.arc_length[sc], ch.arc_length[a] + ch.arc_length[b], rtol=1e-12)
    assert ch.n_shortcuts == int(sc.sum())
    check_hierarchy(ch)  # the public check agrees


def test_tiny_witness_limits_stay_exact(monkeypatch):
    """A cut-short witness search may only add shortcuts, never lose a distance."""
    graph = random_geometric_graph(150, seed=21, integer_times=True)
    oracle = all_pairs(graph)
    normal = build_ch(graph)
    monkeypatch.setattr(ch_module, "SIM_SETTLE_LIMIT", 1)
    monkeypatch.setattr(ch_module, "CONTRACT_SETTLE_LIMIT", 2)
    monkeypatch.setattr(ch_module, "CONTRACT_HOP_LIMIT", 1)
    crude = build_ch(graph)
    assert crude.n_shortcuts >= normal.n_shortcuts
    for s in range(0, graph.n_nodes, 7):
        for t in range(graph.n_nodes):
            assert close(crude.cost_between(s, t), oracle[s, t])


def test_pickles_for_worker_processes():
    graph = random_geometric_graph(80, seed=6)
    ch = build_ch(graph)
    ch.cost_between(0, 1)  # creates this thread's workspace
    copy = pickle.loads(pickle.dumps(ch))
    for s, t in [(0, 40), (5, 79), (60, 2)]:
        assert copy.cost_between(s, t) == ch.cost_between(s, t)
        assert np.array_equal(copy.path_between(s, t).edges, ch.path_between(s, t).edges)


def test_parallel_edges_and_self_loops():
    # 0 -> 1 twice (the faster one must win), a self-loop at 1, then 1 -> 2.
    graph = graph_from_edges(3, [0, 0, 1, 1], [1, 1, 1, 2], [10.0, 4.0, 1.0, 3.0])
    ch = build_ch(graph)
    path = ch.path_between(0, 2)
    assert path.cost == 7.0
    assert graph.travel_time[path.edges].tolist() == [4.0, 3.0]


def test_dead_end_and_bad_requests():
    graph = dead_end_graph()
    ch = build_ch(graph)
    assert ch.cost_between(0, 5) == pytest.approx(52.0)
    assert ch.cost_between(5, 0) == math.inf
    assert ch.query([4, 5], [0.0, 0.0], [0, 1], None) == math.inf
    with pytest.raises(NoRouteError, match="not reachable"):
        ch.path_between(4, 0)
    with pytest.raises(NoRouteError):
        ch.route([6], None, [0], None)
    same = ch.path_between(3, 3)
    assert same.cost == 0.0
    assert same.edges.size == 0
    with pytest.raises(RequestError, match="out of range"):
        ch.cost_between(0, 7)
    with pytest.raises(RequestError, match="integer"):
        ch.cost_between(0.5, 1)
    with pytest.raises(RequestError):
        ch.query([0], [-3.0], [1], None)


def test_invalid_travel_times_are_rejected():
    for bad in (-1.0, math.nan):
        graph = graph_from_edges(2, [0], [1], [bad])
        with pytest.raises(DataError, match="negative or NaN"):
            build_ch(graph)


def test_closed_roads_are_left_out():
    # A ring 0 -> 1 -> 2 -> 0 plus 0 -> 2; the road 0 -> 1 is closed (inf), so 1 is cut off.
    graph = graph_from_edges(3, [0, 1, 2, 0], [1, 2, 0, 2], [math.inf, 1.0, 1.0, 5.0])
    ch = build_ch(graph)
    assert ch.cost_between(0, 1) == math.inf
    assert ch.cost_between(1, 0) == 2.0
    assert ch.cost_between(0, 2) == 5.0
    assert np.isfinite(ch.up_weight).all()
    assert np.isfinite(ch.down_weight).all()


def test_cache_roundtrip_is_memory_mapped(tmp_path):
    graph = random_geometric_graph(120, seed=8)
    built = contraction_hierarchy(graph, cache_dir=tmp_path)
    entries = list(tmp_path.glob("ch-car-*"))
    assert len(entries) == 1
    loaded = contraction_hierarchy(graph, cache_dir=tmp_path)
    assert loaded is not built
    for name, array in built.array_fields().items():
        assert np.array_equal(getattr(loaded, name), array), name
    assert is_memory_mapped(loaded.up_head)
    for s, t in [(0, 50), (3, 119), (77, 2)]:
        assert loaded.cost_between(s, t) == built.cost_between(s, t)
    # Damage an array: the entry is dropped and rebuilt.
    (entries[0] / "up_head.npy").write_bytes(b"garbage")
    rebuilt = contraction_hierarchy(graph, cache_dir=tmp_path)
    assert np.array_equal(rebuilt.up_head, built.up_head)
    # Other travel times give another key.
    slower = graph_from_edges(
        graph.n_nodes, graph.tail(), graph.head, graph.travel_time * 2, graph.length_m,
        lat=graph.lat, lon=graph.lon,
    )  # fmt: skip
    contraction_hierarchy(slower, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("ch-car-*"))) == 2


def test_save_load_and_consistency_check(tmp_path):
    graph = random_geometric_graph(120, seed=9)
    ch = build_ch(graph)
    save_ch(ch, tmp_path)
    loaded = load_ch(graph, tmp_path)
    assert loaded is not None
    assert is_memory_mapped(loaded.up_head)
    check_hierarchy(loaded)
    assert loaded.cost_between(0, 77) == ch.cost_between(0, 77)
    assert load_ch(random_geometric_graph(120, seed=10), tmp_path) is None
    fields = ch.array_fields()
    slower = {**fields, "up_weight": fields["up_weight"] + 1.0}
    with pytest.raises(DataError, match="weight differs from its edge"):
        check_hierarchy(ContractionHierarchy(graph, **slower))
    swapped = fields["rank"].copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    with pytest.raises(DataError, match="order is not the inverse of rank"):
        check_hierarchy(ContractionHierarchy(graph, **{**fields, "rank": swapped}))
    longer = fields["arc_length"].copy()
    longer[np.flatnonzero(ch.arc_edge < 0)[0]] += 1.0
    with pytest.raises(DataError, match="length is not the sum"):
        check_hierarchy(ContractionHierarchy(graph, **{**fields, "arc_length": longer}))


# ------------------------------------------------------------------- Heidelberg


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["car", "bike", "walk"])
def test_heidelberg_ch_matches_scipy(hd_data_dir, cache_dir, profile):
    graph = heidelberg_graphs(hd_data_dir, cache_dir)[profile]
    ch = heidelberg_ch(profile, hd_data_dir, cache_dir)
    rng = np.random.default_rng(2024)
    sources = rng.integers(0, graph.n_nodes, 20)
    targets = rng.integers(0, graph.n_nodes, 15)
    expected = csg.dijkstra(to_scipy(graph), indices=sources)[:, targets]
    for i, s in enumerate(sources.tolist()):
        for j, t in enumerate(targets.tolist()):
            assert close(ch.cost_between(s, t), expected[i, j]), (s, t)
    for i in range(5):
        s, t = int(sources[i]), int(targets[i])
        if math.isfinite(expected[i, i]):
            assert_route(ch, s, t, expected[i, i])


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["car", "walk"])
def test_heidelberg_snapped_points(hd_data_dir, cache_dir, hd_region, profile):
    """Seeds from snapped coordinates: CH, bidirectional Dijkstra and a scipy brute force agree."""
    from routing.search import shortest_path
    from routing.snap import Snapper

    graph = heidelberg_graphs(hd_data_dir, cache_dir)[profile]
    ch = heidelberg_ch(profile, hd_data_dir, cache_dir)
    snapper = Snapper(graph)
    for (a_lat, a_lon), (b_lat, b_lon) in hd_region.sample_queries:
        a = snapper.snap(a_lat, a_lon)
        b = snapper.snap(b_lat, b_lon)
        src, sc = a.source_seeds()
        dst, dc = b.target_seeds()
        full = csg.dijkstra(to_scipy(graph), indices=src)[:, dst]
        expected = (sc[:, None] + full + dc[None, :]).min()
        assert math.isfinite(expected)
        assert close(ch.query(src, sc, dst, dc), expected)
        route = ch.route(src, sc, dst, dc)
        other = shortest_path(graph, src, sc, dst, dc, method="bidijkstra")
        assert close(route.cost, expected)
        assert close(other.cost, expected)
        check_path(graph, route.edges)
        assert route.source in src.tolist()
        assert route.target in dst.tolist()
