"""Live closures: apply time, and route/matrix query cost with closures (CH + fallback vs Dijkstra).

Closes 50 car edges that lie on real shortest paths (so they matter), then
answers a fixed set of point-to-point queries three ways in the same process:

* CH on the base graph (no closures) - the normal speed;
* :meth:`RoadNetwork.route` under the closures (CH path check, bidirectional
  Dijkstra on the live weights when the CH path hits a closed edge);
* plain one-directional Dijkstra on the live weights (the baseline).

Every live answer is compared with the Dijkstra baseline (must be equal). Also
times a flood-polygon closure and a matrix under closures (rows recomputed only
where a closed edge can matter) against one Dijkstra per row.

Run: ``.venv/bin/python -m benchmarks.closures [--region heidelberg] [--queries 300]``.
Writes ``bench-results/closures.json`` and prints a one-line summary.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import percentiles, write_result
from routing.errors import NoRouteError
from routing.live import LiveState
from routing.regions import PROJECT_ROOT, default_cache_dir, default_data_dir, load_region
from routing.road import RoadNetwork, load_road_networks
from routing.search import dijkstra_settle, shortest_path_cost


def _data_dir(region) -> Path:
    for candidate in (
        default_data_dir(),
        Path(os.environ.get("ELSTER_MIRROR") or PROJECT_ROOT.parent / "shared" / "data"),
    ):
        if region.source_file("osm", candidate).is_file():
            return candidate
    raise SystemExit(f"no OSM file for {region.name}: run `elster fetch {region.name}` first")


def busy_edges(network: RoadNetwork, rng: np.random.Generator, n_edges: int) -> np.ndarray:
    """Edges from the middle of base shortest paths between random node pairs."""
    graph = network.graph
    found: set[int] = set()
    while len(found) < n_edges:
        s, t = rng.integers(0, graph.n_nodes, size=2)
        try:
            path = network.hierarchy.path_between(int(s), int(t))
        except NoRouteError:
            continue
        if path.edges.size > 10:
            found.add(int(path.edges[path.edges.size // 2]))
    return np.array(sorted(found), dtype=np.int64)


def dijkstra_route_cost(network: RoadNetwork, weights: np.ndarray, graph, a, b) -> float:
    """Baseline: one-directional Dijkstra on the live weights between the snapped points."""
    sa, sb = network.snap(*a), network.snap(*b)
    src, sc = sa.source_seeds(weights)
    dst, dc = sb.target_seeds(weights)
    keep_s, keep_t = np.isfinite(sc), np.isfinite(dc)
    best = sa.direct_cost_to(sb, weights)
    best = best if math.isfinite(best) else math.inf
    if keep_s.any() and keep_t.any():
        best = min(
            best,
            shortest_path_cost(
                graph, src[keep_s], sc[keep_s], dst[keep_t], dc[keep_t], method="dijkstra"
            ),
        )
    return best


def measure_queries(network, live_net, weights, view, pairs, m_nodes) -> dict:
    """Route and matrix timings under one closure set, each answer checked against Dijkstra."""
    for a, b in pairs[:3]:  # warm the kernels and the reverse graph (outside the clock)
        for fn in (network.route, live_net.route):
            with contextlib.suppress(NoRouteError):
                fn(a, b)
        dijkstra_route_cost(network, weights, view, a, b)
    base_t, live_t, dij_t = [], [], []
    mismatches = 0
    for a, b in pairs:
        t0 = time.perf_counter()
        with contextlib.suppress(NoRouteError):
            network.route(a, b)
        t1 = time.perf_counter()
        try:
            got = live_net.route(a, b).duration_s
        except NoRouteError:
            got = math.inf
        t2 = time.perf_counter()
        expected = dijkstra_route_cost(network, weights, view, a, b)
        t3 = time.perf_counter()
        base_t.append(t1 - t0)
        live_t.append(t2 - t1)
        dij_t.append(t3 - t2)
        if not (got == expected or abs(got - expected) <= 1e-6 * max(1.0, expected)):
            mismatches += 1
    stats = live_net.stats

    live_net.matrix(m_nodes[:5], m_nodes[:5])  # warm-up
    network.matrix(m_nodes[:5], m_nodes[:5])
    t0 = time.perf_counter()
    base_matrix, _ = network.matrix(m_nodes, m_nodes)
    t1 = time.perf_counter()
    rows_before = stats.matrix_rows_search
    live_matrix, _ = live_net.matrix(m_nodes, m_nodes)
    t2 = time.perf_counter()
    rows_searched = stats.matrix_rows_search - rows_before
    zero = np.zeros(1)
    dij_matrix = np.empty_like(live_matrix)
    src = m_nodes.astype(np.int32)
    for i in range(src.size):
        dist, _ = dijkstra_settle(
            view.first_out, view.head, weights, view.length_m, src[i : i + 1], zero, src, np.inf
        )
        dij_matrix[i] = dist[src]
    t3 = time.perf_counter()
    finite = np.isfinite(dij_matrix)
    matrix_exact = bool(
        np.array_equal(finite, np.isfinite(live_matrix))
        and np.allclose(live_matrix[finite], dij_matrix[finite], rtol=1e-9, atol=1e-6)
    )
    live_p = percentiles(live_t)
    dij_p = percentiles(dij_t)
    base_p = percentiles(base_t)
    return {
        "route_ch_no_closures": base_p,
        "route_ch_with_fallback": live_p,
        "route_dijkstra_baseline": dij_p,
        "ratio_dijkstra_over_live_p50": dij_p["p50_ms"] / live_p["p50_ms"],
        "ratio_live_over_ch_p50": live_p["p50_ms"] / base_p["p50_ms"],
        "answered_by_ch": stats.ch_exact,
        "answered_by_fallback": stats.fallback,
        "mismatches_vs_dijkstra": mismatches,
        "matrix": {
            "size": int(m_nodes.size),
            "ch_no_closures_ms": (t1 - t0) * 1000,
            "live_ms": (t2 - t1) * 1000,
            "dijkstra_rows_ms": (t3 - t2) * 1000,
            "rows_searched": int(rows_searched),
            "exact": matrix_exact,
            "cells_changed": int((np.abs(live_matrix - base_matrix) > 1e-6)[finite].sum()),
        },
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="heidelberg")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--closed-edges", type=int, default=50)
    parser.add_argument("--matrix", type=int, default=100, help="sources = targets of the matrix")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    region = load_region(args.region)
    network = load_road_networks(
        region, ("car",), data_dir=_data_dir(region), cache_dir=default_cache_dir()
    )["car"]
    graph = network.graph
    rng = np.random.default_rng(args.seed)
    nodes = rng.integers(0, graph.n_nodes, size=2 * args.queries)
    points = [(float(graph.lat[v]) + 1e-5, float(graph.lon[v]) - 1e-5) for v in nodes]
    pairs = list(zip(points[::2], points[1::2], strict=True))
    closed = busy_edges(network, rng, args.closed_edges)
    now = time.time()

    # --- apply: add the closure, then materialise the live weights (what the next query pays)
    live = LiveState({"car": graph}, clock=lambda: now)
    live_net = network.with_live(live)
    apply_add, apply_total = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        closure = live.add_closure(edges=closed.tolist(), edge_profile="car")
        t1 = time.perf_counter()
        live.weights("car")
        t2 = time.perf_counter()
        apply_add.append(t1 - t0)
        apply_total.append(t2 - t0)
        live.remove_closure(closure.id)
    live.add_closure(edges=closed.tolist(), edge_profile="car")
    weights = np.asarray(live.weights("car").travel_time)
    view = live.weights("car").graph

    # flood polygon: ~400 m square around the city centre
    lat0, lon0 = float(np.median(graph.lat)), float(np.median(graph.lon))
    d_lat, d_lon = 0.0036, 0.0055
    square = [
        [lon0 - d_lon, lat0 - d_lat], [lon0 + d_lon, lat0 - d_lat], [lon0 + d_lon, lat0 + d_lat],
        [lon0 - d_lon, lat0 + d_lat], [lon0 - d_lon, lat0 - d_lat],
    ]  # fmt: skip
    polygon_state = LiveState({"car": graph}, clock=lambda: now)
    polygon_state.add_closure(polygon={"type": "Polygon", "coordinates": [square]})  # warm index
    poly_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        c = polygon_state.add_closure(polygon={"type": "Polygon", "coordinates": [square]})
        polygon_state.weights("car")
        poly_times.append(time.perf_counter() - t0)
        polygon_state.remove_closure(c.id)
    polygon_edges = int(polygon_state.closure_edges(polygon_state.closures()[0].id, "car").size)

    m_nodes = rng.integers(0, graph.n_nodes, size=args.matrix)
    busy = measure_queries(network, live_net, weights, view, pairs, m_nodes)
    # a second scenario: 50 random edges (most queries never touch them)
    other = LiveState({"car": graph}, clock=lambda: now)
    random_edges = rng.choice(graph.n_edges, size=args.closed_edges, replace=False)
    other.add_closure(edges=random_edges.tolist(), edge_profile="car")
    other_w = other.weights("car")
    spread = measure_queries(
        network, network.with_live(other), np.asarray(other_w.travel_time), other_w.graph,
        pairs, m_nodes,
    )  # fmt: skip

    result = {
        "region": region.name,
        "graph": {"profile": "car", "nodes": graph.n_nodes, "edges": graph.n_edges},
        "closed_edges": int(closed.size),
        "apply_closure": percentiles(apply_add),
        "apply_closure_and_weights": percentiles(apply_total),
        "apply_polygon_closure": {**percentiles(poly_times), "edges": polygon_edges},
        "queries": len(pairs),
        "busy_edges_closed": busy,
        "random_edges_closed": spread,
    }
    path = write_result("closures", result)
    b, r = busy, spread
    print(
        f"closures ({region.name} car, {closed.size} edges): apply "
        f"{result['apply_closure_and_weights']['p50_ms']:.2f} ms (polygon "
        f"{result['apply_polygon_closure']['p50_ms']:.1f} ms); route p50 CH "
        f"{b['route_ch_no_closures']['p50_ms']:.2f} ms; busy closures: CH+fallback "
        f"{b['route_ch_with_fallback']['p50_ms']:.2f} vs Dijkstra "
        f"{b['route_dijkstra_baseline']['p50_ms']:.2f} ms "
        f"({b['ratio_dijkstra_over_live_p50']:.1f}x, {b['answered_by_fallback']}/{len(pairs)} "
        f"fell back); random closures: {r['route_ch_with_fallback']['p50_ms']:.2f} vs "
        f"{r['route_dijkstra_baseline']['p50_ms']:.2f} ms "
        f"({r['ratio_dijkstra_over_live_p50']:.1f}x, {r['answered_by_fallback']}/{len(pairs)} "
        f"fell back); mismatches {b['mismatches_vs_dijkstra'] + r['mismatches_vs_dijkstra']}; "
        f"matrix {args.matrix}^2 rows searched {b['matrix']['rows_searched']}/"
        f"{r['matrix']['rows_searched']}, exact={b['matrix']['exact'] and r['matrix']['exact']} "
        f"-> {path}"
    )
    return result


if __name__ == "__main__":
    main()
