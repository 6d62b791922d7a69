"""Live closures and traffic on the customizable hierarchy (CCH) against plain Dijkstra.

For each live state of the car graph (50 busy edges closed, 5,000 random edges
closed, every edge slowed by traffic, a flood polygon) it measures, in one
process:

* **apply**: adding the closure or traffic, computing the live weights and
  customizing the hierarchy for them (what happens before the next exact answer),
  starting from the base state each time (partial customization of the arcs
  the change reaches when that is cheaper, else a full one);
* **queries** under that state: :meth:`RoadNetwork.route` (on the customized
  hierarchy) against the same queries without closures (the normal speed) and
  against plain one-directional Dijkstra on the live weights (the baseline);
  every live answer must equal Dijkstra's;
* a **matrix** under the state (bucket many-to-many on the customized hierarchy)
  against one Dijkstra per row.

The peer, side by side in the same run: **RoutingKit's CCH** (the ``routingkit-cch``
binding, in its own venv and a subprocess: :mod:`benchmarks.routingkit_peer`) on
exactly our turn-expanded car graph. It orders the graph itself (nested
dissection, inertial flow), builds its CCH, and under each of the same live
states (the same weights, scaled to integer milliseconds) measures the time to
apply the change (partial customization of the changed arcs or a full one,
whichever is faster: both are in the JSON) and point-to-point queries between the same
node pairs as ours (``CustomizedHierarchy.cost_between``, node to node, before
any change and under each state). Every answer must equal ours within the
rounding of its integer weights. ``--no-routingkit`` skips it; when the wheel
cannot be had the part is skipped with the reason.

Run: ``.venv/bin/python -m benchmarks.closures [--region heidelberg] [--queries 300]
[--no-routingkit]``. Writes ``bench-results/closures.json`` (a ``routingkit``
section for the peer), prints a line per state ours against RoutingKit, and a
one-line summary last.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time

import numpy as np

from benchmarks.common import percentiles, region_data_dir, write_result
from routing.ch import build_cch_structure, customize
from routing.errors import NoRouteError
from routing.live import LiveState
from routing.regions import default_cache_dir, load_region
from routing.road import RoadNetwork, load_road_networks
from routing.search import dijkstra_settle, shortest_path_cost


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
    """Route and matrix timings under one live state, each answer checked against Dijkstra."""
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
    live_net.matrix(m_nodes[:5], m_nodes[:5])  # warm-up
    network.matrix(m_nodes[:5], m_nodes[:5])
    t0 = time.perf_counter()
    base_matrix, _ = network.matrix(m_nodes, m_nodes)
    t1 = time.perf_counter()
    live_matrix, _ = live_net.matrix(m_nodes, m_nodes)
    t2 = time.perf_counter()
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
    live_p, dij_p, base_p = percentiles(live_t), percentiles(dij_t), percentiles(base_t)
    return {
        "route_no_closures": base_p,
        "route_live": live_p,
        "route_dijkstra_baseline": dij_p,
        "ratio_dijkstra_over_live_p50": dij_p["p50_ms"] / live_p["p50_ms"],
        "ratio_live_over_static_p50": live_p["p50_ms"] / base_p["p50_ms"],
        "mismatches_vs_dijkstra": mismatches,
        "matrix": {
            "size": int(m_nodes.size),
            "no_closures_ms": (t1 - t0) * 1000,
            "live_ms": (t2 - t1) * 1000,
            "dijkstra_rows_ms": (t3 - t2) * 1000,
            "exact": matrix_exact,
            "cells_changed": int((np.abs(live_matrix - base_matrix) > 1e-6)[finite].sum()),
        },
    }


def apply_times(network: RoadNetwork, graph, change, *, repeats: int = 15) -> dict:
    """Timings of applying one live change: add it, compute weights, customize the hierarchy."""
    now = time.time()
    add, weights_t, custom_t, total = [], [], [], []
    for _ in range(repeats):
        live = LiveState({"car": graph}, clock=lambda: now)
        # A network that has customized nothing yet: each repeat applies the change to
        # the base state (not to the identical state of the repeat before).
        fresh = RoadNetwork(
            network.graph, network.snapper, network.hierarchy, structure=network.structure
        )
        net = fresh.with_live(live)
        t0 = time.perf_counter()
        change(live)
        t1 = time.perf_counter()
        w = live.weights("car")
        t2 = time.perf_counter()
        net.customized(w)
        t3 = time.perf_counter()
        add.append(t1 - t0)
        weights_t.append(t2 - t1)
        custom_t.append(t3 - t2)
        total.append(t3 - t0)
    return {
        "add": percentiles(add),
        "weights": percentiles(weights_t),
        "customize": percentiles(custom_t),
        "total": percentiles(total),
    }


def node_queries(hierarchy, sources: np.ndarray, targets: np.ndarray) -> dict:
    """Node-to-node queries on a customized hierarchy: timings, answers and path lengths.

    Parameters
    ----------
    hierarchy : CustomizedHierarchy
        Customized for the live state to query.
    sources, targets : ndarray of int
        Node ids, one query per position.

    Returns
    -------
    dict
        ``query`` (percentiles of ``cost_between`` alone), ``seconds`` (answers,
        ``inf`` = none) and ``arcs`` (edges on each path, for the rounding bound).
    """
    pairs = list(zip(sources.tolist(), targets.tolist(), strict=True))
    for s, t in pairs[:5]:  # warm the kernels (outside the clock)
        hierarchy.cost_between(s, t)
    times, cost = [], np.empty(len(pairs))
    for i, (s, t) in enumerate(pairs):
        t0 = time.perf_counter()
        cost[i] = hierarchy.cost_between(s, t)
        times.append(time.perf_counter() - t0)
    arcs = np.zeros(len(pairs), dtype=np.int64)
    for i, (s, t) in enumerate(pairs):
        if math.isfinite(cost[i]):
            arcs[i] = hierarchy.path_between(s, t).edges.size
    return {"query": percentiles(times), "seconds": cost, "arcs": arcs}


def our_cch_costs(network: RoadNetwork, *, repeats: int = 15) -> dict:
    """Our structure build (order + contraction, uncached) and a full base customization."""
    graph = network.graph
    t0 = time.perf_counter()
    structure = build_cch_structure(graph)
    build_s = time.perf_counter() - t0
    customize(structure, graph)  # warm
    full = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        customize(structure, graph)
        full.append(time.perf_counter() - t0)
    return {"build_s": build_s, "customize_full": percentiles(full)}


def routingkit_section(
    network: RoadNetwork,
    states: dict[str, np.ndarray],
    sources: np.ndarray,
    targets: np.ndarray,
    ours: dict[str, dict],
    applied: dict[str, dict],
) -> dict:
    """RoutingKit's CCH on the same graph, states and node pairs, set against ours.

    Parameters
    ----------
    network : RoadNetwork
        The car network (its base graph is what RoutingKit gets).
    states : dict of str to ndarray
        Live weights (seconds, ``inf`` = closed) of each scenario.
    sources, targets : ndarray of int
        The node pairs.
    ours : dict of str to dict
        :func:`node_queries` under each scenario, plus ``"no change"``.
    applied : dict of str to dict
        :func:`apply_times` of each scenario.

    Returns
    -------
    dict
        The JSON ``routingkit`` section; ``{"skipped": reason}`` when the peer
        cannot be had, ``{"failed": reason}`` when its subprocess failed.
    """
    from benchmarks import routingkit_peer as rkp

    try:
        python = rkp.ensure_routingkit()
    except rkp.RoutingKitUnavailable as exc:
        print(f"RoutingKit part skipped: {exc}")
        return {"skipped": str(exc)}
    try:
        rk = rkp.run_routingkit(network.graph, states, sources, targets, python=python)
    except rkp.RoutingKitError as exc:
        print(f"RoutingKit part failed: {exc}")
        return {"failed": str(exc)}
    mine = our_cch_costs(network)
    scale = rk["scale"]

    def versus(our_q: dict, their: dict) -> dict:
        check = rkp.compare_answers(
            our_q["seconds"], our_q["arcs"], their["distances"], their["arcs"], scale=scale
        )
        return {
            "query_ours": our_q["query"],
            "query_routingkit": their["query"],
            "ratio_query_p50_ours_over_routingkit": our_q["query"]["p50_ms"]
            / their["query"]["p50_ms"],
            **check,
        }

    section: dict = {
        "package": rk["package"],
        "scale_units_per_s": scale,
        "threads": rk["threads"],
        "routingkit_order_s": rk["order_s"],
        "routingkit_cch_build_s": rk["cch_build_s"],
        "routingkit_customize_full": rk["customize_full"],
        "routingkit_reset_full": rk["reset"],
        "ours_order_and_build_s": mine["build_s"],
        "ours_customize_full": mine["customize_full"],
        "ratio_build_ours_over_routingkit": mine["build_s"] / (rk["order_s"] + rk["cch_build_s"]),
        "ratio_customize_full_p50_ours_over_routingkit": mine["customize_full"]["p50_ms"]
        / rk["reset"]["p50_ms"],
        "no_change": versus(ours["no change"], rk["base"]),
        "scenarios": {},
    }
    for name, theirs in rk["states"].items():
        ours_custom = applied[name]["customize"]["p50_ms"]
        ours_total = applied[name]["total"]["p50_ms"]
        section["scenarios"][name] = {
            "changed_arcs": theirs["changed_arcs"],
            "routingkit_apply_method": theirs["apply_method"],
            "routingkit_apply": theirs["apply"],
            "routingkit_partial": theirs["partial"],
            "routingkit_full": theirs["full"],
            "ours_customize_p50_ms": ours_custom,
            "ours_apply_total_p50_ms": ours_total,
            "ratio_customize_p50_ours_over_routingkit_apply": ours_custom
            / theirs["apply"]["p50_ms"],
            "ratio_apply_total_p50_ours_over_routingkit_apply": ours_total
            / theirs["apply"]["p50_ms"],
            **versus(ours[name], theirs),
        }
    section["mismatches"] = section["no_change"]["mismatches"] + sum(
        r["mismatches"] for r in section["scenarios"].values()
    )
    print(
        f"RoutingKit ({section['package']}, 1 thread): order+build "
        f"{rk['order_s'] + rk['cch_build_s']:.2f} s vs ours {mine['build_s']:.2f} s; "
        f"full customization {rk['reset']['p50_ms']:.1f} ms vs ours "
        f"{mine['customize_full']['p50_ms']:.1f} ms; query p50 no change "
        f"{section['no_change']['query_routingkit']['p50_ms'] * 1000:.0f} us vs ours "
        f"{section['no_change']['query_ours']['p50_ms'] * 1000:.0f} us"
    )
    for name, r in section["scenarios"].items():
        part = r["routingkit_partial"]
        partial = "not run" if part is None else f"{part['p50_ms']:.2f} ms"
        print(
            f"  {name}: apply ours {r['ours_customize_p50_ms']:.1f} ms customize "
            f"({r['ours_apply_total_p50_ms']:.1f} ms with add + weights) vs RoutingKit "
            f"{r['routingkit_apply']['p50_ms']:.2f} ms {r['routingkit_apply_method']} "
            f"(partial {partial}, full {r['routingkit_full']['p50_ms']:.2f} ms; ours/theirs "
            f"x{r['ratio_customize_p50_ours_over_routingkit_apply']:.1f}); query p50 ours "
            f"{r['query_ours']['p50_ms'] * 1000:.0f} us vs RoutingKit "
            f"{r['query_routingkit']['p50_ms'] * 1000:.0f} us "
            f"(ours/theirs x{r['ratio_query_p50_ours_over_routingkit']:.2f}); "
            f"mismatches {r['mismatches']}"
        )
    return section


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="heidelberg")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--closed-edges", type=int, default=50)
    parser.add_argument("--many-edges", type=int, default=5000)
    parser.add_argument("--matrix", type=int, default=100, help="sources = targets of the matrix")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--no-routingkit", action="store_true", help="skip the RoutingKit CCH beside ours"
    )
    args = parser.parse_args(argv)

    region = load_region(args.region)
    network = load_road_networks(
        region, ("car",), data_dir=region_data_dir(region), cache_dir=default_cache_dir()
    )["car"]
    graph = network.graph
    rng = np.random.default_rng(args.seed)
    nodes = rng.integers(0, graph.n_nodes, size=2 * args.queries)
    points = [(float(graph.lat[v]) + 1e-5, float(graph.lon[v]) - 1e-5) for v in nodes]
    pairs = list(zip(points[::2], points[1::2], strict=True))
    busy = busy_edges(network, rng, args.closed_edges)
    many = rng.choice(graph.n_edges, size=min(args.many_edges, graph.n_edges), replace=False)
    ways = np.unique(np.asarray(graph.way_id))
    lat0, lon0 = float(np.median(graph.lat)), float(np.median(graph.lon))
    d_lat, d_lon = 0.0036, 0.0055  # a ~800 m square around the centre (a flood)
    square = [
        [lon0 - d_lon, lat0 - d_lat], [lon0 + d_lon, lat0 - d_lat], [lon0 + d_lon, lat0 + d_lat],
        [lon0 - d_lon, lat0 + d_lat], [lon0 - d_lon, lat0 - d_lat],
    ]  # fmt: skip
    scenarios = {
        f"{busy.size} busy edges closed": lambda live: live.add_closure(
            edges=busy.tolist(), edge_profile="car"
        ),
        f"{many.size} random edges closed": lambda live: live.add_closure(
            edges=many.tolist(), edge_profile="car"
        ),
        "every road slowed (traffic on all ways)": lambda live: live.add_closure(
            kind="speed", factor=0.6, way_ids=ways.tolist()
        ),
        "flood polygon closed": lambda live: live.add_closure(
            polygon={"type": "Polygon", "coordinates": [square]}
        ),
    }
    now = time.time()
    m_nodes = rng.integers(0, graph.n_nodes, size=args.matrix)
    sources, targets = nodes[::2], nodes[1::2]  # the same pairs, node to node (the peer)
    peer = not args.no_routingkit
    node_answers = {"no change": node_queries(network.hierarchy, sources, targets)} if peer else {}
    states: dict[str, np.ndarray] = {}
    applies: dict[str, dict] = {}
    results = {}
    for name, change in scenarios.items():
        applied = apply_times(network, graph, change)
        live = LiveState({"car": graph}, clock=lambda: now)
        change(live)
        w = live.weights("car")
        live_net = network.with_live(live)
        queries = measure_queries(
            network, live_net, np.asarray(w.travel_time), w.graph, pairs, m_nodes
        )
        results[name] = {
            "modified_edges": int(w.modified.size),
            "apply": applied,
            **queries,
        }
        if peer:
            states[name] = np.asarray(w.travel_time)
            applies[name] = applied
            node_answers[name] = node_queries(network.customized(w), sources, targets)
    routingkit = (
        routingkit_section(network, states, sources, targets, node_answers, applies)
        if peer
        else {"skipped": "--no-routingkit"}
    )
    worst_apply = max(r["apply"]["total"]["p50_ms"] for r in results.values())
    mismatches = sum(r["mismatches_vs_dijkstra"] for r in results.values())
    exact = all(r["matrix"]["exact"] for r in results.values())
    result = {
        "region": region.name,
        "graph": {"profile": "car", "nodes": graph.n_nodes, "edges": graph.n_edges},
        "queries": len(pairs),
        "scenarios": results,
        "worst_apply_p50_ms": worst_apply,
        "mismatches_vs_dijkstra": mismatches,
        "matrices_exact": exact,
        "routingkit": routingkit,
    }
    path = write_result("closures", result)
    parts = "; ".join(
        f"{name}: apply {r['apply']['total']['p50_ms']:.1f} ms, route p50 "
        f"{r['route_live']['p50_ms'] * 1000:.0f} us live vs "
        f"{r['route_no_closures']['p50_ms'] * 1000:.0f} us static vs Dijkstra "
        f"{r['route_dijkstra_baseline']['p50_ms']:.1f} ms "
        f"({r['ratio_dijkstra_over_live_p50']:.0f}x)"
        for name, r in results.items()
    )
    peer_part = ""
    if "scenarios" in routingkit:
        ratios = ", ".join(
            f"{r['ratio_customize_p50_ours_over_routingkit_apply']:.1f}x/"
            f"{r['ratio_query_p50_ours_over_routingkit']:.2f}x"
            for r in routingkit["scenarios"].values()
        )
        peer_part = (
            f"; vs RoutingKit CCH (ours/theirs, apply/query p50 per state): {ratios}, "
            f"mismatches {routingkit['mismatches']}"
        )
    print(
        f"closures ({region.name} car, CCH): {parts}; mismatches {mismatches}, "
        f"matrices exact={exact}{peer_part} -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
