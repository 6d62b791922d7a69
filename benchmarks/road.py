"""Road routing benchmark: Heidelberg import + CH build, cached load, queries, matrices.

Run: ``.venv/bin/python -m benchmarks.road`` (options: ``--pairs``, ``--baseline-pairs``,
``--matrix``, ``--region``). Baselines run side by side in the same process on
the same graph and the same fixed query set: networkx ``shortest_path_length``
(Dijkstra) and scipy's one-source ``csgraph.dijkstra``. numba kernels are
compiled (or loaded from numba's cache) on a tiny graph before anything is
timed. Results go to ``bench-results/road.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from benchmarks.common import percentiles, write_result
from routing.build import build_road_graphs, road_graphs
from routing.ch import build_ch, contraction_hierarchy
from routing.graph import RoadGraph
from routing.matrix import many_to_many
from routing.regions import PROJECT_ROOT, default_data_dir, load_region
from routing.search import cost_between

log = logging.getLogger("benchmarks.road")
SEED = 20240601
PROFILES = ("walk", "bike", "car")  # the build target covers these three


def _tiny_graph() -> RoadGraph:
    """A 6x6 two-way grid: enough to compile every kernel before timing."""
    side = 6
    ids = np.arange(side * side).reshape(side, side)
    pairs = np.concatenate(
        (np.column_stack((ids[:, :-1].ravel(), ids[:, 1:].ravel())),
         np.column_stack((ids[:-1, :].ravel(), ids[1:, :].ravel())))
    )  # fmt: skip
    tails = np.concatenate((pairs[:, 0], pairs[:, 1]))
    heads = np.concatenate((pairs[:, 1], pairs[:, 0]))
    order = np.lexsort((heads, tails))
    tails, heads = tails[order], heads[order]
    n, m = side * side, tails.size
    first_out = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n), out=first_out[1:])
    lat = 49.4 + (ids // side).ravel() * 1e-3
    lon = 8.7 + (ids % side).ravel() * 1e-3
    return RoadGraph(
        profile="car", first_out=first_out, head=heads.astype(np.int32),
        travel_time=np.full(m, 10.0), length_m=np.full(m, 100.0), lat=lat, lon=lon,
        osm_node_id=np.arange(n, dtype=np.int64), way_id=np.arange(m, dtype=np.int64),
        geom_first=np.zeros(m + 1, dtype=np.int64), geom_lat=np.empty(0), geom_lon=np.empty(0),
    )  # fmt: skip


def warm_up() -> None:
    """Compile or load every numba kernel used below."""
    graph = _tiny_graph()
    ch = build_ch(graph)
    ch.cost_between(0, 35)
    ch.path_between(0, 35)
    many_to_many(ch, [0, 1], [34, 35])
    for method in ("dijkstra", "bidijkstra", "astar"):
        cost_between(graph, 0, 35, method=method)


def scipy_matrix(graph: RoadGraph) -> sp.csr_array:
    """CSR matrix with the fastest of parallel edges (scipy would sum duplicates)."""
    tails = graph.tail().astype(np.int64)
    heads = graph.head.astype(np.int64)
    w = np.maximum(np.asarray(graph.travel_time), 1e-300)  # keep zero-time edges as edges
    keep = tails != heads
    tails, heads, w = tails[keep], heads[keep], w[keep]
    order = np.lexsort((w, heads, tails))
    tails, heads, w = tails[order], heads[order], w[order]
    first = np.ones(tails.size, dtype=bool)
    first[1:] = (tails[1:] != tails[:-1]) | (heads[1:] != heads[:-1])
    n = graph.n_nodes
    return sp.csr_array((w[first], (tails[first], heads[first])), shape=(n, n))


def networkx_graph(graph: RoadGraph) -> nx.DiGraph:
    """networkx DiGraph with the fastest of parallel edges as ``weight``."""
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n_nodes))
    best: dict[tuple[int, int], float] = {}
    for u, v, w in zip(
        graph.tail().tolist(), graph.head.tolist(), graph.travel_time.tolist(), strict=True
    ):
        if u != v and w < best.get((u, v), np.inf):
            best[(u, v)] = w
    g.add_weighted_edges_from((u, v, w) for (u, v), w in best.items())
    return g


def _time_each(fn, pairs) -> tuple[np.ndarray, np.ndarray]:
    """Per-call seconds and results of ``fn(s, t)`` over ``pairs``."""
    seconds = np.empty(len(pairs))
    values = np.empty(len(pairs))
    for i, (s, t) in enumerate(pairs):
        started = time.perf_counter()
        values[i] = fn(s, t)
        seconds[i] = time.perf_counter() - started
    return seconds, values


def _data_dir(region) -> Path:
    """The data directory holding the region's OSM file: ./data, else the mirror."""
    for candidate in (
        default_data_dir(),
        Path(os.environ.get("ELSTER_MIRROR") or PROJECT_ROOT.parent / "shared" / "data"),
    ):
        if region.source_file("osm", candidate).is_file():
            return candidate
    raise SystemExit(f"no OSM file for {region.name}: run `elster fetch {region.name}` first")


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="heidelberg")
    parser.add_argument("--pairs", type=int, default=1000, help="CH / ours query pairs")
    parser.add_argument("--baseline-pairs", type=int, default=100, help="networkx/scipy pairs")
    parser.add_argument("--matrix", type=int, default=1000, help="matrix side")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    region = load_region(args.region)
    data_dir = _data_dir(region)
    osm = region.source_file("osm", data_dir)
    warm_up()
    rss_before = _maxrss_mb()

    # 1. Cold build from the PBF: all profiles, then one CH per profile (cached to a temp dir).
    with tempfile.TemporaryDirectory(prefix="elster-bench-") as tmp:
        cache = Path(tmp)
        started = time.perf_counter()
        graphs = build_road_graphs(osm, PROFILES, bbox=region.bbox, region=region.name)
        import_s = time.perf_counter() - started
        ch_s = {}
        for profile in PROFILES:
            t0 = time.perf_counter()
            contraction_hierarchy(graphs[profile], cache_dir=cache)
            ch_s[profile] = time.perf_counter() - t0
        build_total_s = time.perf_counter() - started
        rss_build = _maxrss_mb()
        # 2. Cached load: graphs (through the import's cache) and hierarchies, memory-mapped.
        road_graphs(region, PROFILES, data_dir=data_dir, cache_dir=cache)  # fill
        t0 = time.perf_counter()
        cached_graphs = road_graphs(region, PROFILES, data_dir=data_dir, cache_dir=cache)
        chs = {p: contraction_hierarchy(cached_graphs[p], cache_dir=cache) for p in PROFILES}
        load_s = time.perf_counter() - t0

        # Query set: fixed seed, uniform random node pairs on the car graph.
        graph = cached_graphs["car"]
        ch = chs["car"]
        rng = np.random.default_rng(SEED)
        pairs = [tuple(p) for p in rng.integers(0, graph.n_nodes, (args.pairs, 2)).tolist()]
        base_pairs = pairs[: args.baseline_pairs]

        ch_times, ch_costs = _time_each(ch.cost_between, pairs)
        ours = {}
        for method in ("bidijkstra", "astar", "dijkstra"):
            ours[method] = _time_each(
                lambda s, t, m=method: cost_between(graph, s, t, method=m), pairs[:300]
            )
        matrix = scipy_matrix(graph)
        scipy_times, scipy_costs = _time_each(
            lambda s, t: csg.dijkstra(matrix, indices=[s])[0, t], base_pairs
        )
        g = networkx_graph(graph)

        def nx_cost(s, t):
            try:
                return nx.shortest_path_length(g, s, t, weight="weight", method="dijkstra")
            except nx.NetworkXNoPath:
                return np.inf

        nx_times, nx_costs = _time_each(nx_cost, base_pairs)
        n_base = len(base_pairs)
        mismatches = int(
            np.sum(~np.isclose(ch_costs[:n_base], scipy_costs, rtol=1e-9))
            + np.sum(~np.isclose(ch_costs[:n_base], nx_costs, rtol=1e-9))
            + sum(int(np.sum(~np.isclose(ours[m][1], ch_costs[:300], rtol=1e-9))) for m in ours)
        )

        # Other profiles: CH medians on their own random pairs.
        other = {}
        for profile in ("bike", "walk"):
            p_graph = cached_graphs[profile]
            p_pairs = [tuple(p) for p in rng.integers(0, p_graph.n_nodes, (args.pairs, 2)).tolist()]
            other[profile] = percentiles(_time_each(chs[profile].cost_between, p_pairs)[0])

        # Matrix: sources x targets on car, best of three (first run included in p50).
        side = args.matrix
        sources = rng.integers(0, graph.n_nodes, side)
        targets = rng.integers(0, graph.n_nodes, side)
        matrix_runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            result = many_to_many(ch, sources, targets)
            matrix_runs.append(time.perf_counter() - t0)
        check = np.array([ch.cost_between(int(sources[i]), int(targets[i])) for i in range(50)])
        matrix_ok = bool(np.allclose(np.diag(result[:50, :50]), check, rtol=1e-9))

    ch_p = percentiles(ch_times)
    nx_p = percentiles(nx_times)
    scipy_p = percentiles(scipy_times)
    ours_p = {m: percentiles(v[0]) for m, v in ours.items()}
    result_json = {
        "region": region.name,
        "graphs": {p: {"nodes": g_.n_nodes, "edges": g_.n_edges} for p, g_ in graphs.items()},
        "shortcuts": {p: c.n_shortcuts for p, c in chs.items()},
        "build": {
            "import_s": import_s,
            "ch_s": ch_s,
            "total_s": build_total_s,
            "target_s": 60.0,
        },
        "cached_load_s": load_s,
        "peak_rss_mb": {"after_warm_up": rss_before, "after_build": rss_build},
        "car_point_to_point": {
            "pairs": len(pairs),
            "baseline_pairs": n_base,
            "ch": ch_p,
            "networkx_dijkstra": nx_p,
            "scipy_dijkstra": scipy_p,
            **{f"ours_{m}": p for m, p in ours_p.items()},
            "speedup_vs_networkx_p50": nx_p["p50_ms"] / ch_p["p50_ms"],
            "speedup_vs_scipy_p50": scipy_p["p50_ms"] / ch_p["p50_ms"],
            "targets": {"vs_networkx": 1000.0, "vs_scipy": 20.0},
            "mismatches": mismatches,
            "unreachable": int(np.isinf(ch_costs).sum()),
        },
        "ch_point_to_point_other_profiles": other,
        "car_matrix": {
            "size": [side, side],
            "seconds": matrix_runs,
            "best_s": min(matrix_runs),
            "target_s": 2.0,
            "agrees_with_single_queries": matrix_ok,
        },
    }
    path = write_result("road", result_json)
    p2p = result_json["car_point_to_point"]
    print(
        f"road[{region.name}]: build {build_total_s:.1f}s (import {import_s:.1f}s + CH "
        f"{sum(ch_s.values()):.1f}s), cached load {load_s * 1000:.0f}ms, "
        f"peak {rss_build:.0f}MB; car p50: CH {ch_p['p50_ms'] * 1000:.1f}us, "
        f"bidijkstra {ours_p['bidijkstra']['p50_ms']:.2f}ms, "
        f"A* {ours_p['astar']['p50_ms']:.2f}ms, scipy {scipy_p['p50_ms']:.2f}ms, "
        f"networkx {nx_p['p50_ms']:.1f}ms -> CH {p2p['speedup_vs_networkx_p50']:.0f}x networkx, "
        f"{p2p['speedup_vs_scipy_p50']:.0f}x scipy; {side}x{side} matrix "
        f"{min(matrix_runs):.2f}s; mismatches {mismatches} -> {path}"
    )
    return result_json


if __name__ == "__main__":
    main()
