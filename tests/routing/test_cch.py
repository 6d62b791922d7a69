"""Customizable contraction hierarchies: exact against Dijkstra oracles under any metric."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse.csgraph as csg

from routing.cache import is_memory_mapped
from routing.ch import (
    build_cch_structure,
    cch_structure,
    check_cch_structure,
    check_hierarchy,
    customize,
    load_cch_structure,
    save_cch_structure,
)
from routing.errors import DataError, NoRouteError
from routing.matrix import travel_matrices
from routing.ordering import nested_dissection_order
from routing.paths import check_path
from tests.support.graph_factories import random_geometric_graph, to_scipy

VARIANTS = {
    "plain": {},
    "ties": {"integer_times": True},
    "zero-times": {"zero_share": 0.1},
    "one-way-heavy": {"oneway_share": 0.7},
}


def _oracle(graph, weight: np.ndarray) -> np.ndarray:
    """All-pairs seconds by scipy's Dijkstra on ``weight`` (independent of the CCH)."""
    from dataclasses import replace

    return csg.dijkstra(to_scipy(replace(graph, travel_time=weight)), directed=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_queries_match_dijkstra_for_base_and_live_metrics(variant: str) -> None:
    graph = random_geometric_graph(300, seed=3, **VARIANTS[variant])
    structure = build_cch_structure(graph)
    rng = np.random.default_rng(1)
    base = np.asarray(graph.travel_time, dtype=np.float64)
    closed = base.copy()
    closed[rng.choice(graph.n_edges, size=graph.n_edges // 10, replace=False)] = np.inf
    slowed = base * rng.uniform(0.5, 3.0, size=graph.n_edges)  # faster and slower roads
    for weight in (base, closed, slowed):
        oracle = _oracle(graph, weight)
        hierarchy = customize(structure, graph, weight)
        for s, t in rng.integers(0, graph.n_nodes, size=(150, 2)):
            cost = hierarchy.cost_between(int(s), int(t))
            assert cost == pytest.approx(oracle[s, t], rel=1e-9, abs=1e-9) or (
                np.isinf(cost) and np.isinf(oracle[s, t])
            )
            if np.isfinite(oracle[s, t]) and s != t:
                path = hierarchy.path_between(int(s), int(t))
                check_path(graph, path.edges)
                assert float(weight[path.edges].sum()) == pytest.approx(oracle[s, t], abs=1e-6)
                assert np.isfinite(weight[path.edges]).all()
            elif np.isinf(oracle[s, t]):
                with pytest.raises(NoRouteError):
                    hierarchy.path_between(int(s), int(t))


def test_seeded_queries_and_matrices_match_dijkstra() -> None:
    graph = random_geometric_graph(250, seed=9)
    structure = build_cch_structure(graph)
    weight = np.asarray(graph.travel_time) * 1.0
    weight[::7] = np.inf
    hierarchy = customize(structure, graph, weight)
    oracle = _oracle(graph, weight)
    rng = np.random.default_rng(4)
    for _ in range(40):
        src = rng.integers(0, graph.n_nodes, 3)
        dst = rng.integers(0, graph.n_nodes, 2)
        sc, dc = rng.uniform(0, 50, 3), rng.uniform(0, 50, 2)
        expected = min(sc[i] + oracle[src[i], dst[j]] + dc[j] for i in range(3) for j in range(2))
        got = hierarchy.query(src, sc, dst, dc)
        assert got == pytest.approx(expected, rel=1e-9) or (np.isinf(got) and np.isinf(expected))
    sources, targets = rng.integers(0, graph.n_nodes, 30), rng.integers(0, graph.n_nodes, 40)
    seconds, metres = travel_matrices(hierarchy, sources, targets)
    want = oracle[np.ix_(sources, targets)]
    assert np.array_equal(np.isinf(seconds), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(seconds[finite], want[finite], rtol=1e-9, atol=1e-9)
    assert np.all(metres[finite] >= 0)


def test_structure_does_not_depend_on_weights_and_pickles(tmp_path) -> None:
    graph = random_geometric_graph(200, seed=5)
    from dataclasses import replace

    other = replace(graph, travel_time=np.asarray(graph.travel_time) * 7.0 + 1.0)
    a, b = build_cch_structure(graph), build_cch_structure(other)
    for name, array in a.array_fields().items():
        np.testing.assert_array_equal(array, b.array_fields()[name], err_msg=name)
    cached = cch_structure(graph, cache_dir=tmp_path)
    again = cch_structure(graph, cache_dir=tmp_path)  # from the cache
    np.testing.assert_array_equal(cached.tri_ab, again.tri_ab)
    hierarchy = customize(again, graph)
    clone = pickle.loads(pickle.dumps(hierarchy))
    assert clone.cost_between(0, 17) == hierarchy.cost_between(0, 17)


def test_nested_dissection_is_a_permutation_with_separators_on_top() -> None:
    graph = random_geometric_graph(400, seed=2)
    tails, heads = graph.tail(), np.asarray(graph.head)
    order = nested_dissection_order(
        graph.n_nodes, tails, heads, np.asarray(graph.lon), np.asarray(graph.lat)
    )
    assert np.array_equal(np.sort(order), np.arange(graph.n_nodes))
    structure = build_cch_structure(graph)
    # Chordal: every lower triangle's third edge exists.
    assert (structure.tri_ab >= 0).all()
    # Little fill-in on a road-like graph.
    assert structure.n_edges < 6 * graph.n_edges


def _same_customization(a, b) -> None:
    """Two customized hierarchies are identical arc by arc (weights, lengths, unpacking)."""
    for name, x, y in (
        ("weight", a.packed[2], b.packed[2]),
        ("length", a.arc_length, b.arc_length),
        ("edge", a.arc_edge, b.arc_edge),
        ("child a", a.arc_child_a, b.arc_child_a),
        ("child b", a.arc_child_b, b.arc_child_b),
    ):
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.packed[0] is b.packed[0]  # one shared query-graph layout


def _random_step(rng, base: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The next live state: close, slow, speed up or reopen a few roads, or revert all."""
    weight = weight.copy()
    m = base.shape[0]
    n = int(rng.integers(1, max(2, m // 20)))
    edges = rng.choice(m, size=n, replace=False)
    action = rng.choice(["close", "slow", "faster", "reopen", "reopen", "base"])
    if action == "close":
        weight[edges] = np.inf
    elif action == "slow":
        weight[edges] = base[edges] * rng.uniform(1.0, 4.0, n)
    elif action == "faster":
        weight[edges] = base[edges] * rng.uniform(0.3, 1.0, n)
    elif action == "reopen":
        changed = np.flatnonzero(weight != base)
        back = changed[rng.random(changed.size) < 0.5]
        weight[back] = base[back]
    else:
        weight = base.copy()
    return weight


@pytest.mark.parametrize("max_arcs", [0.1, 1.0])  # with and without the final full sweep
@pytest.mark.parametrize("variant", VARIANTS)
def test_partial_customization_equals_full_and_dijkstra(
    variant: str, max_arcs: float, monkeypatch
) -> None:
    import routing.ch.customization as cch_module

    monkeypatch.setattr(cch_module, "PARTIAL_MAX_SHARE", 1.0)  # partial for every change
    monkeypatch.setattr(cch_module, "PARTIAL_MAX_ARCS", max_arcs)
    graph = random_geometric_graph(300, seed=11, **VARIANTS[variant])
    structure = build_cch_structure(graph)
    base = np.asarray(graph.travel_time, dtype=np.float64)
    base_h = customize(structure, graph)
    rng = np.random.default_rng(7)
    weight, previous = base, base_h
    for _ in range(25):
        weight = _random_step(rng, base, weight)
        full = customize(structure, graph, weight)
        from_base = customize(structure, graph, weight, start=base_h)
        chained = customize(structure, graph, weight, start=previous)
        _same_customization(from_base, full)
        _same_customization(chained, full)
        oracle = _oracle(graph, weight)
        for s, t in rng.integers(0, graph.n_nodes, size=(40, 2)):
            cost = chained.cost_between(int(s), int(t))
            assert cost == pytest.approx(oracle[s, t], rel=1e-9, abs=1e-9) or (
                np.isinf(cost) and np.isinf(oracle[s, t])
            )
            if np.isfinite(oracle[s, t]) and s != t:
                path = chained.path_between(int(s), int(t))
                check_path(graph, path.edges)
                assert float(weight[path.edges].sum()) == pytest.approx(oracle[s, t], abs=1e-6)
        sources, targets = rng.integers(0, graph.n_nodes, 8), rng.integers(0, graph.n_nodes, 9)
        seconds, _ = travel_matrices(chained, sources, targets)
        want = oracle[np.ix_(sources, targets)]
        assert np.array_equal(np.isinf(seconds), np.isinf(want))
        finite = np.isfinite(want)
        np.testing.assert_allclose(seconds[finite], want[finite], rtol=1e-9, atol=1e-9)
        previous = chained
    # Back to the base weights: the very customization of the base hierarchy.
    _same_customization(customize(structure, graph, base, start=previous), base_h)


def test_closed_arcs_keep_the_query_graph_layout() -> None:
    graph = random_geometric_graph(200, seed=4)
    structure = build_cch_structure(graph)
    base_h = customize(structure, graph)
    weight = np.full(graph.n_edges, np.inf)  # every road closed
    closed = customize(structure, graph, weight, start=base_h)
    assert closed.packed[1] is base_h.packed[1]
    assert np.isinf(closed.packed[2]).all()
    assert np.isinf(closed.cost_between(0, 1))
    with pytest.raises(NoRouteError):
        closed.path_between(0, 1)
    reopened = customize(structure, graph, np.asarray(graph.travel_time) * 1.0, start=closed)
    _same_customization(reopened, base_h)


def test_road_network_customizes_from_the_nearest_state(monkeypatch) -> None:
    """Live states applied one after another stay exact whichever hierarchy they start from."""
    import routing.ch.customization as cch_module
    from routing.live import LiveState
    from routing.road import RoadNetwork
    from routing.snap import Snapper

    graph = random_geometric_graph(250, seed=8)
    structure = build_cch_structure(graph)
    network = RoadNetwork(graph, Snapper(graph), customize(structure, graph), structure=structure)
    starts = []
    real = cch_module.customize

    def spy(*args, start=None, **kwargs):
        starts.append(start)
        return real(*args, start=start, **kwargs)

    monkeypatch.setattr("routing.road.customize", spy)
    live = LiveState({"car": graph}, clock=lambda: 1_700_000_000.0)
    view = network.with_live(live)
    rng = np.random.default_rng(2)
    many = rng.choice(graph.n_edges, size=graph.n_edges // 4, replace=False)
    live.add_closure(edges=many.tolist(), edge_profile="car")
    first = view.hierarchy_at()[0]
    assert starts[-1] is network.hierarchy
    one = int(rng.integers(graph.n_edges))
    live.add_closure(edges=[one], edge_profile="car", reason="one more")
    second, weight = view.hierarchy_at()
    assert starts[-1] is first  # one edge away from the latest state, not hundreds from the base
    _same_customization(second, customize(structure, graph, weight))
    for closure in live.closures():
        live.remove_closure(closure.id)
    assert view.hierarchy_at()[0] is network.hierarchy


@pytest.mark.parametrize("variant", VARIANTS)
def test_structure_and_customizations_pass_the_consistency_checks(variant: str, tmp_path) -> None:
    graph = random_geometric_graph(200, seed=5, **VARIANTS[variant])
    structure = build_cch_structure(graph)
    check_cch_structure(structure, graph)
    base = customize(structure, graph)
    check_hierarchy(base)
    weight = np.asarray(graph.travel_time, dtype=np.float64).copy()
    weight[::7] = np.inf  # closures leave arcs with neither an edge nor halves
    check_hierarchy(customize(structure, graph, weight, start=base))
    check_hierarchy(customize(structure, graph, np.full(graph.n_edges, np.inf)))
    save_cch_structure(structure, graph, tmp_path)
    loaded = load_cch_structure(graph, tmp_path)
    assert loaded is not None
    assert is_memory_mapped(loaded.up_head)
    for name, array in structure.array_fields().items():
        assert np.array_equal(getattr(loaded, name), array), name
    check_cch_structure(loaded, graph)
    assert load_cch_structure(random_geometric_graph(200, seed=6), tmp_path) is None


def test_consistency_checks_name_what_is_broken() -> None:
    from dataclasses import replace

    graph = random_geometric_graph(150, seed=12)
    structure = build_cch_structure(graph)
    with pytest.raises(DataError, match="triangle"):
        check_cch_structure(replace(structure, tri_ab=np.roll(structure.tri_ab, 1)), graph)
    with pytest.raises(DataError, match="wrong hierarchy edge"):
        check_cch_structure(replace(structure, arc_cch=np.roll(structure.arc_cch, 1)), graph)
    with pytest.raises(DataError, match="another graph"):
        check_cch_structure(structure, random_geometric_graph(120, seed=12))
    hierarchy = customize(structure, graph)
    longer = hierarchy.arc_length.copy()
    longer[np.flatnonzero(hierarchy.arc_child_a >= 0)[0]] += 1.0
    with pytest.raises(DataError, match="length is not the sum"):
        check_hierarchy(replace(hierarchy, arc_length=longer))
