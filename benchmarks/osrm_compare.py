"""Side-by-side helpers for the road benchmark: our road times against a real OSRM, and HTTP load.

Used by ``benchmarks/road.py`` with :mod:`benchmarks.osrm_peer` (never by the
runtime or the tests):

* :func:`compare_routes` asks OSRM for the same origin-destination pairs as
  our router and summarises duration and distance agreement (median, p10,
  p90 of our/OSRM ratios), as a JSON-friendly dict;
* :func:`http_load` sends N requests over C keep-alive connections (20 by
  default, as in the issue) to any HTTP server and reports throughput and
  p50/p95 latency; :func:`osrm_route_paths` and :func:`elster_route_paths`
  build the same route queries for ``osrm-routed`` (``/route/v1/driving``) and
  for our API (``/api/v1/route``), both with polyline precision 6 geometry.

:func:`osrm_report` runs all of it as one block for ``benchmarks/road.py``
(build, agreement, a table, HTTP load of OSRM and of our API) and returns
``{"available": False, "reason": ...}`` instead of raising when the wheel
cannot be had; :func:`summary_line` words it in one line.

Run ``python -m benchmarks.osrm_compare`` to measure OSRM alone on the
Heidelberg extract (1,000 x 1,000 table, route load at 20 connections);
``--ours`` also compares the in-process car router of this checkout on the
same pairs. ``--http-only`` runs just the HTTP route throughput part of
``benchmarks.road`` (:func:`http_side_by_side`: ``elster serve --workers 2``
beside ``osrm-routed -t 2``, ``--rounds`` alternating rounds) and writes
``bench-results/osrm_http.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from benchmarks.common import percentiles
from benchmarks.osrm_peer import (
    OsrmNoRouteError,
    OsrmServer,
    OsrmUnavailable,
    build_osrm,
    ensure_osrm,
    route,
    table,
)
from benchmarks.support.http_client import send_all

LatLon = tuple[float, float]
Pair = tuple[LatLon, LatLon]
#: Calibration targets of issue 13: median our/OSRM duration ratio, and the p10-p90 band.
TARGET_MEDIAN = (0.95, 1.05)
TARGET_BAND = (0.85, 1.15)
#: Concurrent connections of the HTTP comparison.
CONCURRENCY = 20


def ratio_stats(values: Sequence[float] | np.ndarray) -> dict[str, float | int | None]:
    """Median, p10, p90, mean, min and max of ratios (None when there are none)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"n": 0, "median": None, "p10": None, "p90": None, "mean": None}
    return {
        "n": int(arr.size),
        "median": float(np.median(arr)),
        "p10": float(np.percentile(arr, 10)),
        "p90": float(np.percentile(arr, 90)),
        "mean": float(arr.mean()),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


def compare_routes(
    pairs: Sequence[Pair],
    ours: Callable[[LatLon, LatLon], tuple[float, float] | None],
    server: OsrmServer,
    *,
    profile: str = "driving",
    worst: int = 5,
) -> dict[str, Any]:
    """Compare our durations and distances with OSRM's on the same pairs.

    Parameters
    ----------
    pairs : sequence of ((lat, lon), (lat, lon))
        Origins and destinations.
    ours : callable
        ``ours(origin, destination) -> (duration_s, distance_m)``; it may return None or
        raise when it has no route (counted by exception type).
    server : OsrmServer
        A running OSRM.
    profile : str
        OSRM's profile name in the URL.
    worst : int
        How many pairs with the largest disagreement to list.

    Returns
    -------
    dict
        ``pairs``, ``compared``, ``ours_failed`` (by reason), ``osrm_failed`` (by OSRM code),
        ``duration_ratio`` and ``distance_ratio`` (ours / OSRM: n, median, p10, p90, mean,
        min, max), ``distance_within`` (share of pairs whose distances agree within 0.2 %,
        1 % and 5 %), ``meets_target`` (median in 0.95-1.05 and p10-p90 inside 0.85-1.15,
        the calibration targets of issue 13), ``targets`` and ``worst`` (pairs with the
        largest |log duration ratio|). Pairs with an OSRM duration of 0 (both points snap
        to the same place) count as compared only for distance.
    """
    ours_failed: Counter[str] = Counter()
    osrm_failed: Counter[str] = Counter()
    dur_ratio: list[float] = []
    dist_ratio: list[float] = []
    rows: list[dict[str, Any]] = []
    for origin, destination in pairs:
        try:
            mine = ours(origin, destination)
        except Exception as exc:  # any refusal of ours is a result here, named by its type
            ours_failed[type(exc).__name__] += 1
            mine = None
        else:
            if mine is None:
                ours_failed["None"] += 1
        try:
            theirs = route(server, origin, destination, profile=profile, geometry=False)
        except OsrmNoRouteError as exc:
            osrm_failed[exc.code] += 1
            continue
        if mine is None:
            continue
        duration, distance = float(mine[0]), float(mine[1])
        if theirs["distance_m"] > 0:
            dist_ratio.append(distance / theirs["distance_m"])
        if theirs["duration_s"] > 0:
            ratio = duration / theirs["duration_s"]
            dur_ratio.append(ratio)
            rows.append({
                "origin": list(origin), "destination": list(destination),
                "ours_s": duration, "osrm_s": theirs["duration_s"],
                "ours_m": distance, "osrm_m": theirs["distance_m"], "ratio": ratio,
            })  # fmt: skip
    dur = ratio_stats(dur_ratio)
    dist = np.asarray(dist_ratio, dtype=float)
    within = {
        f"{tol * 100:g}%": (float(np.mean(np.abs(dist - 1.0) <= tol)) if dist.size else None)
        for tol in (0.002, 0.01, 0.05)
    }
    meets = (
        dur["median"] is not None
        and TARGET_MEDIAN[0] <= dur["median"] <= TARGET_MEDIAN[1]  # type: ignore[operator]
        and dur["p10"] >= TARGET_BAND[0]  # type: ignore[operator]
        and dur["p90"] <= TARGET_BAND[1]  # type: ignore[operator]
    )
    rows.sort(key=lambda r: -abs(math.log(r["ratio"])) if r["ratio"] > 0 else -math.inf)
    return {
        "pairs": len(pairs),
        "compared": len(dur_ratio),
        "ours_failed": dict(ours_failed),
        "osrm_failed": dict(osrm_failed),
        "duration_ratio": dur,
        "distance_ratio": ratio_stats(dist_ratio),
        "distance_within": within,
        "meets_target": bool(meets),
        "targets": {"median": list(TARGET_MEDIAN), "p10_p90": list(TARGET_BAND)},
        "worst": rows[:worst],
    }


# ----------------------------------------------------------------------------- HTTP load


def osrm_route_paths(
    pairs: Sequence[Pair], *, profile: str = "driving", geometry: bool = True
) -> list[str]:
    """``/route/v1/...`` request paths for ``osrm-routed`` (polyline6 geometry, no steps)."""
    query = "overview=full&geometries=polyline6" if geometry else "overview=false"
    return [
        f"/route/v1/{profile}/{o[1]:.6f},{o[0]:.6f};{d[1]:.6f},{d[0]:.6f}?{query}" for o, d in pairs
    ]


def elster_route_paths(pairs: Sequence[Pair], *, profile: str = "car") -> list[str]:
    """``/api/v1/route`` request paths for our API (its geometry is polyline precision 6)."""
    return [
        f"/api/v1/route?fromPlace={o[0]:.6f},{o[1]:.6f}&toPlace={d[0]:.6f},{d[1]:.6f}"
        f"&profile={profile}"
        for o, d in pairs
    ]


def expand_template(template: str, pairs: Sequence[Pair]) -> list[str]:
    """Paths from a template with ``{o_lat}``, ``{o_lon}``, ``{d_lat}``, ``{d_lon}`` fields."""
    return [template.format(o_lat=o[0], o_lon=o[1], d_lat=d[0], d_lon=d[1]) for o, d in pairs]


async def _run(
    host: str, port: int, encoded: list[bytes], concurrency: int, timeout_s: float
) -> tuple[list[float], list[int], list[str], float]:
    """Send ``encoded``; latencies, statuses (0: transport error), errors and wall time."""
    statuses: list[int] = []
    errors: list[str] = []

    def on_answer(_i: int, status: int, _body: bytes, detail: str) -> None:
        statuses.append(status)
        if status == 0:
            errors.append(detail)

    latencies, wall = await send_all(
        host, port, encoded, concurrency=concurrency, timeout_s=timeout_s, on_answer=on_answer
    )
    return latencies, statuses, errors, wall


def http_load(
    base_url: str,
    paths: Sequence[str],
    *,
    requests: int | None = None,
    concurrency: int = CONCURRENCY,
    warmup: int | None = None,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """Send GET requests over ``concurrency`` keep-alive connections; report throughput.

    A deliberately light client (raw HTTP/1.1 over asyncio streams, requests encoded
    before the clock starts, as in ``benchmarks/api_load.py``): on a 2-core machine a
    heavy client library would take the CPU the server is measured on. The same client
    measures our API and OSRM, so the two figures compare.

    Parameters
    ----------
    base_url : str
        ``http://127.0.0.1:PORT``.
    paths : sequence of str
        Request paths with query (request i uses ``paths[i % len(paths)]``).
    requests : int, optional
        How many timed requests (default ``len(paths)``).
    concurrency : int
        Concurrent connections (20 in the issue's comparison).
    warmup : int, optional
        Untimed requests sent first (default ``2 * concurrency``), from the end of ``paths``.
    timeout_s : float
        Per-request timeout; a timed-out request counts as an error (status 0).

    Returns
    -------
    dict
        ``requests``, ``concurrency``, ``wall_s``, ``throughput_rps`` (answers per second of
        wall time), ``p50_ms``, ``p95_ms``, ``mean_ms`` (request written to last byte read),
        ``status`` (count per HTTP status, 0 for transport errors), ``ok_share`` (2xx) and
        ``errors`` (the first five transport errors).
    """
    if not paths:
        raise ValueError("http_load needs at least one path")
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    n = requests if requests is not None else len(paths)
    n_warm = warmup if warmup is not None else 2 * concurrency

    def encode(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode()

    warm = [encode(paths[-1 - (i % len(paths))]) for i in range(n_warm)]
    timed = [encode(paths[i % len(paths)]) for i in range(n)]
    if warm:
        asyncio.run(_run(host, port, warm, min(concurrency, len(warm)), timeout_s))
    latencies, statuses, errors, wall = asyncio.run(_run(host, port, timed, concurrency, timeout_s))
    counts = Counter(statuses)
    ok = sum(c for s, c in counts.items() if 200 <= s < 300)
    return {
        "requests": n,
        "concurrency": concurrency,
        "wall_s": wall,
        "throughput_rps": n / wall if wall > 0 else None,
        **{k: v for k, v in percentiles(latencies).items() if k != "n"},
        "status": {str(s): c for s, c in sorted(counts.items())},
        "ok_share": ok / n if n else None,
        "errors": errors[:5],
    }


# ----------------------------------------------------------------------------- one block


def osrm_report(
    pbf: Path | str,
    pairs: Sequence[Pair],
    *,
    ours: Callable[[LatLon, LatLon], tuple[float, float] | None] | None = None,
    table_sources: Sequence[LatLon] = (),
    table_targets: Sequence[LatLon] = (),
    table_runs: int = 3,
    http_requests: int = 2000,
    http_rounds: int = 2,
    ours_base_url: str | None = None,
    ours_paths: Sequence[str] | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Everything the road benchmark reports about OSRM, as one JSON-friendly block.

    Parameters
    ----------
    pbf : Path
        The OSM file both routers use.
    pairs : sequence of ((lat, lon), (lat, lon))
        Route pairs (agreement and HTTP load).
    ours : callable, optional
        ``ours(origin, destination) -> (duration_s, distance_m)``: compare durations.
    table_sources, table_targets : sequence of (lat, lon)
        The table to time (best of ``table_runs``), e.g. 1,000 x 1,000; skipped when empty.
    http_requests : int
        Requests of each HTTP load run (0: none), at 20 concurrent connections.
    http_rounds : int
        Load rounds, OSRM and ours alternating; the best round of each is reported
        (``rounds_rps`` lists them all).
    ours_base_url, ours_paths : optional
        Our running API and its request paths (default :func:`elster_route_paths` of
        ``pairs``): measured with the same client, alternating with OSRM.
    cache_dir : Path, optional
        OSRM cache folder (default ``$ELSTER_CACHE_DIR/osrm`` or ``bench-results/osrm-cache``).

    Returns
    -------
    dict
        ``available`` False and ``reason`` when OSRM cannot be had (nothing raised), else
        ``version``, ``build`` (preprocessing seconds, peak RSS, restriction counts),
        ``agreement`` (:func:`compare_routes`), ``table`` (size, ``best_s``, ``runs_s``,
        unreachable cells), ``http_route`` (OSRM) and ``http_route_ours``.
    """
    try:
        osrm = ensure_osrm(cache_dir)
        dataset = build_osrm(
            pbf, "car", None if cache_dir is None else Path(cache_dir) / "builds", binaries=osrm
        )
    except OsrmUnavailable as exc:
        return {"available": False, "reason": str(exc)}
    out: dict[str, Any] = {"available": True, "version": osrm.version, "build": dataset.stats}
    side = len(table_sources) + len(table_targets)
    with OsrmServer(dataset, binaries=osrm, max_table_size=max(side, 100)) as server:
        if ours is not None:
            out["agreement"] = compare_routes(pairs, ours, server)
        if side and table_sources and table_targets:
            runs = [
                table(server, table_sources, table_targets, distances=False)
                for _ in range(table_runs)
            ]
            out["table"] = {
                "size": [len(table_sources), len(table_targets)],
                "runs_s": [r["seconds"] for r in runs],
                "best_s": min(r["seconds"] for r in runs),
                "best_request_s": min(r["request_s"] for r in runs),
                "unreachable": int(np.isnan(runs[-1]["durations_s"]).sum()),
                "note": "one GET, durations only; seconds include decoding the JSON",
            }
        # Alternate OSRM and ours, best round of each: the machine may be shared, and
        # alternating exposes both servers to the same drift of background load.
        osrm_runs: list[dict[str, Any]] = []
        ours_runs: list[dict[str, Any]] = []
        for _ in range(http_rounds if http_requests else 0):
            osrm_runs.append(http_load(server.url, osrm_route_paths(pairs), requests=http_requests))
            if ours_base_url:
                paths = ours_paths if ours_paths is not None else elster_route_paths(pairs)
                ours_runs.append(http_load(ours_base_url, paths, requests=http_requests))
    for name, runs in (("http_route", osrm_runs), ("http_route_ours", ours_runs)):
        if runs:
            best = max(runs, key=lambda r: r["throughput_rps"] or 0.0)
            out[name] = {**best, "rounds_rps": [r["throughput_rps"] for r in runs]}
    return out


def summary_line(report: dict[str, Any]) -> str:
    """One line for the benchmark's output: build, agreement, table, throughput."""
    if not report.get("available"):
        return f"OSRM skipped: {report.get('reason')}"
    b = report["build"]
    parts = [
        f"OSRM {report['version']}: extract+contract {b['total_s']:.1f}s, "
        f"peak {b['peak_rss_mb']:.0f}MB"
    ]
    if "agreement" in report:
        d = report["agreement"]["duration_ratio"]
        if d["n"]:
            parts.append(
                f"ours/OSRM duration median {d['median']:.2f} (p10 {d['p10']:.2f}, "
                f"p90 {d['p90']:.2f}, n={d['n']})"
            )
    if "table" in report:
        t = report["table"]
        parts.append(f"{t['size'][0]}x{t['size'][1]} table {t['best_s']:.2f}s")
    if "http_route" in report:
        h = report["http_route"]
        parts.append(f"HTTP route {h['throughput_rps']:.0f} req/s p95 {h['p95_ms']:.1f}ms")
    if "http_route_ours" in report:
        h = report["http_route_ours"]
        parts.append(f"ours {h['throughput_rps']:.0f} req/s p95 {h['p95_ms']:.1f}ms")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- try it


def random_pairs(
    n: int, bbox: tuple[float, float, float, float], *, seed: int = 20240601
) -> list[Pair]:
    """``n`` uniform random point pairs in ``bbox`` = (min_lat, min_lon, max_lat, max_lon)."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(bbox[0], bbox[2], (n, 2))
    lon = rng.uniform(bbox[1], bbox[3], (n, 2))
    return [
        ((float(lat[i, 0]), float(lon[i, 0])), (float(lat[i, 1]), float(lon[i, 1])))
        for i in range(n)
    ]


def http_side_by_side(
    *,
    pairs: int = 500,
    requests: int = 2000,
    rounds: int = 3,
    workers: int = 2,
    seed: int = 20240601,
) -> dict[str, Any]:
    """Only the HTTP route comparison of ``benchmarks.road``: ours served beside OSRM.

    The same setting as the full road benchmark (``elster serve --workers 2`` with the
    car profile only and no per-client rate limit, against ``osrm-routed -t 2``; 20
    connections; route pairs between junctions of the car graph inside the region's
    box, nudged off the node), without the build, agreement and table parts. Rounds
    alternate OSRM and ours so both meet the same background load.

    Parameters
    ----------
    pairs : int
        Distinct origin-destination pairs (request i asks pair ``i % pairs``).
    requests : int
        Timed requests per round and server.
    rounds : int
        Rounds per server; each round's figures are kept (``rounds``), the best is reported.
    workers : int
        Worker processes of our server.
    seed : int
        Seed of the pairs.

    Returns
    -------
    dict
        ``http_route`` (OSRM), ``http_route_ours`` (best rounds, with ``rounds_rps``),
        ``rounds`` (every round of both), ``ratio_best`` and ``ratio_per_round``
        (ours / OSRM throughput).
    """
    import tempfile

    from benchmarks.common import region_data_dir
    from benchmarks.road import random_points, start_elster
    from routing.build import road_graphs
    from routing.regions import load_region

    region = load_region("heidelberg")
    data_dir = region_data_dir(region)
    pbf = region.source_file("osm", data_dir)
    graph = road_graphs(region, ("car",), data_dir=data_dir)["car"]
    rng = np.random.default_rng(seed)
    points = random_points(graph, region.bbox, 2 * pairs, rng)
    route_pairs = list(zip(points[::2], points[1::2], strict=True))
    osrm = ensure_osrm()
    dataset = build_osrm(pbf, "car", binaries=osrm)
    log_path = Path(tempfile.mkdtemp(prefix="elster-http-")) / "serve.log"
    proc, base = start_elster("car", workers, log_path, data_dir)
    rows: list[dict[str, Any]] = []
    try:
        with OsrmServer(dataset, binaries=osrm) as server:
            for i in range(rounds):
                theirs = http_load(server.url, osrm_route_paths(route_pairs), requests=requests)
                ours = http_load(base, elster_route_paths(route_pairs), requests=requests)
                rows.append({"round": i, "osrm": theirs, "ours": ours})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out: dict[str, Any] = {"osrm_version": osrm.version, "workers": workers, "rounds": rows}
    for name, key in (("http_route", "osrm"), ("http_route_ours", "ours")):
        best = max((r[key] for r in rows), key=lambda r: r["throughput_rps"] or 0.0)
        out[name] = {**best, "rounds_rps": [r[key]["throughput_rps"] for r in rows]}
    out["ratio_best"] = (
        out["http_route_ours"]["throughput_rps"] / out["http_route"]["throughput_rps"]
    )
    out["ratio_per_round"] = [
        r["ours"]["throughput_rps"] / r["osrm"]["throughput_rps"] for r in rows
    ]
    return out


def _demo(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OSRM side by side on Heidelberg.")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--table", type=int, default=1000, help="table side (0: none)")
    parser.add_argument("--ours", action="store_true", help="compare the in-process car router")
    parser.add_argument(
        "--http-only",
        action="store_true",
        help="only the HTTP route throughput of benchmarks.road: `elster serve` beside OSRM",
    )
    parser.add_argument("--rounds", type=int, default=3, help="HTTP rounds (--http-only)")
    parser.add_argument("--workers", type=int, default=2, help="our workers (--http-only)")
    args = parser.parse_args(argv)
    if args.http_only:
        from benchmarks.common import write_result

        result = http_side_by_side(
            pairs=500, requests=args.requests, rounds=args.rounds, workers=args.workers
        )
        path = write_result("osrm_http", result)
        for row in result["rounds"]:
            o, t = row["ours"], row["osrm"]
            print(
                f"round {row['round']}: ours {o['throughput_rps']:.0f} req/s (p50 "
                f"{o['p50_ms']:.1f} ms, p95 {o['p95_ms']:.1f} ms, {o['ok_share']:.0%} 2xx) vs "
                f"OSRM {t['throughput_rps']:.0f} req/s (p50 {t['p50_ms']:.1f} ms, p95 "
                f"{t['p95_ms']:.1f} ms) = {o['throughput_rps'] / t['throughput_rps']:.2f}x"
            )
        print(f"best: {result['ratio_best']:.2f}x -> {path}")
        return
    from routing.regions import PROJECT_ROOT, load_region

    region = load_region("heidelberg")
    pbf = PROJECT_ROOT.parent / "shared" / "data" / "heidelberg" / "heidelberg.osm.pbf"
    inner = (49.37, 8.64, 49.44, 8.74)  # central Heidelberg, inside the region's box
    pairs = random_pairs(args.pairs, inner)
    points = [p for pair in random_pairs(args.table, inner, seed=7) for p in pair]
    ours = None
    if args.ours:
        from routing.road import load_road_networks

        data_dir = pbf.parents[1]  # the mirror's layout is the data directory's
        car = load_road_networks(region, ("car",), data_dir=data_dir)["car"]

        def ours(o: LatLon, d: LatLon) -> tuple[float, float]:
            found = car.route(o, d)
            return found.duration_s, found.distance_m

    report = osrm_report(
        pbf, pairs, ours=ours, table_sources=points[0::2], table_targets=points[1::2],
        http_requests=args.requests,
    )  # fmt: skip
    report.get("agreement", {}).pop("worst", None)
    print(json.dumps(report, indent=2, default=str))
    print(summary_line(report))


if __name__ == "__main__":
    _demo()
