"""Road benchmark: our turn-aware road core beside a real OSRM on the same map, in one run.

Ours: import + turn expansion + CCH structure and customization for every profile
(cold, into a temporary cache), the cached load, car point-to-point queries
(elimination-tree CCH queries; networkx and scipy Dijkstra as in-process
baselines on the same pairs), and a 1,000 x 1,000 matrix.

The peer: OSRM v26.10 (``osrm-extract`` / ``osrm-contract`` / ``osrm-routed``
from the ``osrm-bindings`` wheel, fetched outside the project's environment into
a cache folder by :mod:`benchmarks.osrm_peer`) with its car profile, on the same
PBF. Side by side, same pairs:

* preprocessing time and peak memory (ours: all profiles; OSRM: car);
* **duration agreement** on random car pairs: ours / OSRM (median, p10, p90),
  distances, and the calibration target (median 0.95-1.05, p10-p90 inside 0.85-1.15);
* **coverage**: points on roads OSRM drives (snapped within 25 m) that we refuse;
* **forbidden turns**: our routes checked against the PBF's restriction relations
  by the independent oracle of ``benchmarks/support/restrictions_oracle.py``;
* a 1,000 x 1,000 **table** (ours: locate + bucket matrix; OSRM: ``/table``);
* **HTTP** route throughput and p50/p95 at 20 concurrent connections: our
  ``/api/v1/route`` (``elster serve``, 2 workers) against OSRM ``/route``
  (2 threads), both returning the geometry as a precision-6 polyline.

When the OSRM wheel cannot be had the peer part is skipped with a message.

Run: ``.venv/bin/python -m benchmarks.road`` (``--pairs``, ``--osrm-pairs``,
``--matrix``, ``--http-requests``, ``--no-osrm``, ``--no-http``).
Writes ``bench-results/road.json`` and prints a one-line summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from benchmarks.common import percentiles, region_data_dir, write_result
from routing.build import BUILD_REPORTS, build_road_graphs, road_graphs
from routing.ch import cch_structure, customize
from routing.errors import NoRouteError, SnapError
from routing.graph import PROFILES, RoadGraph
from routing.matrix import many_to_many
from routing.regions import load_region
from routing.road import RoadNetwork, load_road_networks

log = logging.getLogger("benchmarks.road")
SEED = 20240601
ROOT = Path(__file__).resolve().parents[1]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _time_each(fn, pairs) -> tuple[list[float], np.ndarray]:
    times, costs = [], []
    for s, t in pairs:
        t0 = time.perf_counter()
        costs.append(fn(s, t))
        times.append(time.perf_counter() - t0)
    return times, np.asarray(costs, dtype=float)


def scipy_matrix(graph: RoadGraph) -> sp.csr_array:
    tails = graph.tail().astype(np.int64)
    return sp.csr_array(
        (np.maximum(graph.travel_time, 1e-300), (tails, np.asarray(graph.head))),
        shape=(graph.n_nodes, graph.n_nodes),
    )


def networkx_graph(graph: RoadGraph) -> nx.DiGraph:
    g = nx.DiGraph()
    rows = zip(graph.tail().tolist(), graph.head.tolist(), graph.travel_time.tolist(), strict=True)
    for t, h, w in rows:
        if not g.has_edge(t, h) or g[t][h]["weight"] > w:
            g.add_edge(t, h, weight=w)
    return g


def build_ours(osm: Path, region) -> dict:
    """Cold build of every profile into a temporary cache, then a cached load."""
    rss_before = _maxrss_mb()
    with tempfile.TemporaryDirectory(prefix="elster-bench-") as tmp:
        cache = Path(tmp)
        started = time.perf_counter()
        graphs = build_road_graphs(osm, PROFILES, bbox=region.bbox, region=region.name)
        import_s = time.perf_counter() - started
        cch_s = {}
        sizes = {}
        for profile, graph in graphs.items():
            t0 = time.perf_counter()
            structure = cch_structure(graph, cache_dir=cache)
            customize(structure, graph)
            cch_s[profile] = time.perf_counter() - t0
            sizes[profile] = {
                "nodes": graph.n_nodes,
                "edges": graph.n_edges,
                "cch_edges": structure.n_edges,
                "triangles": structure.n_triangles,
            }
        total_s = time.perf_counter() - started
        rss_build = _maxrss_mb()
        reports = {p: BUILD_REPORTS.get(p) for p in PROFILES}
        # Cached load: graphs memory-mapped, structures from the cache, customized.
        road_graphs(region, PROFILES, data_dir=osm.parents[1], cache_dir=cache)
        t0 = time.perf_counter()
        for graph in road_graphs(
            region, PROFILES, data_dir=osm.parents[1], cache_dir=cache
        ).values():
            customize(cch_structure(graph, cache_dir=cache), graph)
        load_s = time.perf_counter() - t0
    return {
        "import_s": import_s,
        "cch_s": cch_s,
        "total_s": total_s,
        "target_s": 60.0,
        "peak_rss_mb": rss_build,
        "rss_before_mb": rss_before,
        "cached_load_s": load_s,
        "graphs": sizes,
        "reports": reports,
    }


def point_to_point(car: RoadNetwork, n_pairs: int, n_baseline: int, rng) -> dict:
    """Car node-to-node queries on the customized hierarchy against Dijkstra baselines."""
    graph, ch = car.graph, car.hierarchy
    pairs = [tuple(p) for p in rng.integers(0, graph.n_nodes, (n_pairs, 2)).tolist()]
    base_pairs = pairs[:n_baseline]
    ch.cost_between(*pairs[0])  # compile / load the kernel
    ch_times, ch_costs = _time_each(ch.cost_between, pairs)
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
    n = len(base_pairs)
    mismatches = int(
        np.sum(~np.isclose(ch_costs[:n], scipy_costs, rtol=1e-9))
        + np.sum(~np.isclose(ch_costs[:n], nx_costs, rtol=1e-9))
    )
    ch_p, nx_p, scipy_p = percentiles(ch_times), percentiles(nx_times), percentiles(scipy_times)
    return {
        "pairs": len(pairs),
        "baseline_pairs": n,
        "cch": ch_p,
        "networkx_dijkstra": nx_p,
        "scipy_dijkstra": scipy_p,
        "speedup_vs_networkx_p50": nx_p["p50_ms"] / ch_p["p50_ms"],
        "speedup_vs_scipy_p50": scipy_p["p50_ms"] / ch_p["p50_ms"],
        "target_p50_us": 20.0,
        "mismatches": mismatches,
    }


def random_points(graph: RoadGraph, bbox, n: int, rng) -> list[tuple[float, float]]:
    """Points on the car network inside the bbox (junctions, nudged off the node)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    inside = np.flatnonzero(
        (graph.lat >= min_lat) & (graph.lat <= max_lat) & (graph.lon >= min_lon)
        & (graph.lon <= max_lon)
    )  # fmt: skip
    chosen = rng.choice(inside, size=n)
    return [(float(graph.lat[v]) + 1e-5, float(graph.lon[v]) - 1e-5) for v in chosen]


def start_elster(
    profiles: str, workers: int, log_path: Path, data_dir: Path
) -> tuple[subprocess.Popen, str]:
    """``elster serve``'s worker pool on a free port, serving only what the route test needs.

    The server reads the same data and build cache as this process (``data_dir``,
    :func:`routing.regions.default_cache_dir`). The per-client rate limit on the
    routing endpoints is off: every request of a load test comes from one client
    (127.0.0.1), and OSRM has no such limit either.
    """
    from benchmarks.api_load import start_server
    from routing.regions import default_cache_dir

    env = dict(os.environ)
    env.update(
        ELSTER_REGION="heidelberg",
        ELSTER_DATA_DIR=str(data_dir),
        ELSTER_CACHE_DIR=str(default_cache_dir()),
        ELSTER_PROFILES=profiles,
        ELSTER_TRANSIT="false",
        ELSTER_WHEELCHAIR="false",
        ELSTER_SHUTTLE_VEHICLES="0",
        ELSTER_LIVE_FEEDS="false",
        ELSTER_LIVE_PATH=str(log_path.with_suffix(".live.json")),
        ELSTER_RATE_LIMIT_EXPENSIVE="0",
        ELSTER_DATABASE_URL=f"sqlite:///{log_path.with_suffix('.db')}",
    )
    return start_server(workers, env, log_path, ROOT, "api.app:create_app")


def peer_section(args, region, osm: Path, car: RoadNetwork, rng) -> dict:
    """Everything measured against OSRM; raises OsrmUnavailable when it cannot run."""
    from benchmarks import osrm_compare as oc
    from benchmarks import osrm_peer as op
    from benchmarks.support.restrictions_oracle import load_restrictions, violations

    binaries = op.ensure_osrm()
    dataset = op.build_osrm(osm, "car", binaries=binaries)
    out: dict = {"osrm_version": op.OSRM_VERSION, "preprocessing": dataset.stats}
    graph = car.graph
    points = random_points(graph, region.bbox, 2 * args.osrm_pairs, rng)
    pairs = list(zip(points[::2], points[1::2], strict=True))

    def ours(o, d):
        r = car.route(o, d)
        return r.duration_s, r.distance_m

    restrictions = load_restrictions(osm)
    with op.OsrmServer(dataset, binaries=binaries) as server:
        out["agreement"] = oc.compare_routes(pairs, ours, server)
        # Coverage: uniform points in the bbox that OSRM snaps onto a road within 25 m.
        min_lon, min_lat, max_lon, max_lat = region.bbox
        routed = refused = 0
        reasons: dict[str, int] = {}
        tries = 0
        while routed < args.osrm_pairs and tries < 20 * args.osrm_pairs:
            tries += 1
            a = (rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon))
            b = (rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon))
            try:
                theirs = op.route(server, a, b, geometry=False)
            except op.OsrmNoRouteError:
                continue
            if max(theirs.get("snap_m", [0.0, 0.0]), default=0.0) > 25.0:
                continue
            routed += 1
            try:
                car.route(a, b)
            except (SnapError, NoRouteError) as exc:
                refused += 1
                reasons[type(exc).__name__] = reasons.get(type(exc).__name__, 0) + 1
        out["coverage"] = {
            "osrm_routed": routed,
            "ours_refused": refused,
            "refused_share": refused / max(routed, 1),
            "reasons": reasons,
        }
        # Forbidden turns in our routes (the same pairs), by the independent oracle.
        from benchmarks.support.route_segments import route_segments

        bad_routes = bad_turns = checked = 0
        for o, d in pairs:
            try:
                segments = route_segments(car, o, d)
            except (SnapError, NoRouteError):
                continue
            checked += 1
            broken = violations(restrictions, segments, "car")
            bad_routes += bool(broken)
            bad_turns += len(broken)
        out["forbidden_turns"] = {
            "routes": checked,
            "routes_with_forbidden_turns": bad_routes,
            "forbidden_turns": bad_turns,
        }
        # 1,000 x 1,000 table from coordinates.
        side = args.matrix
        sources = random_points(graph, region.bbox, side, rng)
        targets = random_points(graph, region.bbox, side, rng)
        from fleet.online.travel import RoadTravel

        travel = RoadTravel.from_network(car)
        t0 = time.perf_counter()
        src_xy, dst_xy = np.asarray(sources), np.asarray(targets)
        src = travel.locate_many(src_xy[:, 0], src_xy[:, 1])
        dst = travel.locate_many(dst_xy[:, 0], dst_xy[:, 1])
        many_to_many(car.hierarchy, src, dst)
        ours_table_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        answer = op.table(server, sources, targets)
        osrm_wall_s = time.perf_counter() - t0
        # OSRM's time: until the last byte of its answer arrived (its search and JSON
        # encoding plus the local round trip), without our decoding of the JSON.
        osrm_table_s = answer["request_s"]
        out["table"] = {
            "size": [side, side],
            "ours_s": ours_table_s,
            "osrm_s": osrm_table_s,
            "osrm_with_decoding_s": osrm_wall_s,
            "ratio_osrm_over_ours": osrm_table_s / ours_table_s,
        }
        if not args.no_http:
            http_pairs = pairs[: max(50, min(len(pairs), 500))]
            osrm_paths = oc.osrm_route_paths(http_pairs)
            out["http_osrm"] = oc.http_load(server.url, osrm_paths, requests=args.http_requests)
            log_path = Path(tempfile.mkdtemp(prefix="elster-road-")) / "serve.log"
            proc, base = start_elster("car", 2, log_path, osm.parents[1])
            try:
                ours_paths = oc.elster_route_paths(http_pairs)
                out["http_ours"] = oc.http_load(base, ours_paths, requests=args.http_requests)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            out["http_ratio_ours_over_osrm"] = (
                out["http_ours"]["throughput_rps"] / out["http_osrm"]["throughput_rps"]
            )
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="heidelberg")
    parser.add_argument("--pairs", type=int, default=1000, help="our point-to-point pairs")
    parser.add_argument("--baseline-pairs", type=int, default=100, help="networkx/scipy pairs")
    parser.add_argument("--osrm-pairs", type=int, default=1000, help="pairs compared with OSRM")
    parser.add_argument("--matrix", type=int, default=1000, help="table side")
    parser.add_argument("--http-requests", type=int, default=2000)
    parser.add_argument("--no-osrm", action="store_true", help="skip the OSRM side")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP comparison")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    region = load_region(args.region)
    data_dir = region_data_dir(region)
    osm = region.source_file("osm", data_dir)
    rng = np.random.default_rng(SEED)
    ours = build_ours(osm, region)
    car = load_road_networks(region, ("car",), data_dir=data_dir)["car"]
    p2p = point_to_point(car, args.pairs, args.baseline_pairs, rng)
    side = args.matrix
    sources = rng.integers(0, car.graph.n_nodes, side)
    targets = rng.integers(0, car.graph.n_nodes, side)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        many_to_many(car.hierarchy, sources, targets)
        runs.append(time.perf_counter() - t0)
    result: dict = {
        "region": region.name,
        "build": ours,
        "car_point_to_point": p2p,
        "car_matrix": {"size": [side, side], "seconds": runs, "best_s": min(runs)},
    }
    peer_note = ""
    if not args.no_osrm:
        from benchmarks.osrm_peer import OsrmUnavailable

        try:
            result["osrm"] = peer_section(args, region, osm, car, rng)
        except OsrmUnavailable as exc:
            result["osrm"] = {"skipped": str(exc)}
            print(f"OSRM side skipped: {exc}", file=sys.stderr)
    path = write_result("road", result)
    peer = result.get("osrm", {})
    if "agreement" in peer:
        ratio = peer["agreement"]["duration_ratio"]
        cov = peer["coverage"]
        peer_note = (
            f"; vs OSRM {peer['osrm_version']}: duration ratio median {ratio['median']:.3f} "
            f"(p10 {ratio['p10']:.3f}, p90 {ratio['p90']:.3f}), refused {cov['ours_refused']}/"
            f"{cov['osrm_routed']}, forbidden turns "
            f"{peer['forbidden_turns']['forbidden_turns']}/{peer['forbidden_turns']['routes']} "
            f"routes, preprocessing OSRM {peer['preprocessing'].get('total_s', 0):.1f}s, "
            f"table {side}x{side} ours {peer['table']['ours_s']:.2f}s vs OSRM "
            f"{peer['table']['osrm_s']:.2f}s ({peer['table']['ratio_osrm_over_ours']:.1f}x)"
        )
        if "http_ours" in peer:
            peer_note += (
                f", HTTP route at C=20 ours {peer['http_ours']['throughput_rps']:.0f} req/s "
                f"(p50 {peer['http_ours']['p50_ms']:.1f} ms, p95 {peer['http_ours']['p95_ms']:.1f}"
                f" ms, {peer['http_ours']['ok_share']:.0%} 2xx) vs OSRM "
                f"{peer['http_osrm']['throughput_rps']:.0f} req/s (p50 "
                f"{peer['http_osrm']['p50_ms']:.1f} ms, p95 {peer['http_osrm']['p95_ms']:.1f} ms)"
                f" = {peer['http_ratio_ours_over_osrm']:.2f}x"
            )
    print(
        f"road[{region.name}]: build {ours['total_s']:.1f}s all profiles (import "
        f"{ours['import_s']:.1f}s + CCH {sum(ours['cch_s'].values()):.1f}s), peak "
        f"{ours['peak_rss_mb']:.0f}MB, cached load {ours['cached_load_s']:.2f}s; car p2p p50 "
        f"{p2p['cch']['p50_ms'] * 1000:.1f}us ({p2p['speedup_vs_networkx_p50']:.0f}x networkx, "
        f"{p2p['speedup_vs_scipy_p50']:.0f}x scipy), {side}x{side} matrix {min(runs):.2f}s, "
        f"mismatches {p2p['mismatches']}{peer_note} -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
