"""Isochrone denial of service (issue 17, finding 2): worst-case isochrones, 20 at a time.

Serves the API with ``api.workers`` (two workers, as ``elster serve`` does) on
127.0.0.1 and sends rounds of 20 concurrent ``/isochrone?profile=bike&minutes=60``
requests, each from a different start (no answer comes from the cache), then
reports latency percentiles, answer sizes and the workers' RSS growth. The
baseline, in the same run, is the former answer (every reached street piece
as a polyline) built in process for the same starts: its time and size.

    python -m benchmarks.isochrone_load --rounds 3 --clients 20
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import percentiles, write_result
from benchmarks.support.server import children, free_port, server_env, start_api
from routing.regions import default_cache_dir, default_data_dir

CENTRE = (49.4094, 8.6937)


def starts(n: int, seed: int = 1) -> list[tuple[float, float]]:
    """``n`` distinct starts within about 2 km of the centre (fixed seed)."""
    rng = np.random.default_rng(seed)
    offsets = rng.uniform(-0.015, 0.015, size=(n, 2))
    return [(round(CENTRE[0] + a, 5), round(CENTRE[1] + b, 5)) for a, b in offsets]


def rss_mb(pids: list[int]) -> float:
    """Summed resident set size of ``pids`` in MB (from /proc)."""
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += float(line.split()[1]) / 1024.0
        except FileNotFoundError:
            continue
    return total


def serve(port: int, workers: int, tmp: Path, log: Path) -> subprocess.Popen:
    """Start the API (bike and walk graphs, no timetable) and wait until every worker answers."""
    env = server_env(
        data_dir=default_data_dir(),
        cache_dir=default_cache_dir(),
        database_url=f"sqlite:///{tmp / 'bookings.db'}",
        live_path=tmp / "live.json",
        profiles="walk,bike,car",
        shuttle_vehicles=0,
        ELSTER_RATE_LIMIT_EXPENSIVE="0",  # one address sends everything here
        ELSTER_TOKEN_SECRET="b" * 40,
    )
    return start_api(port, env, log, workers=workers, timeout_s=600)


def load(port: int, places: list[tuple[float, float]], minutes: float) -> list[dict[str, Any]]:
    """One request per place, all at once; per request its status, seconds and bytes."""
    out: list[dict[str, Any]] = [{} for _ in places]
    gate = threading.Barrier(len(places))

    def one(i: int) -> None:
        lat, lon = places[i]
        gate.wait()
        start = time.perf_counter()
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/isochrone",
                          params={"place": f"{lat},{lon}", "profile": "bike",
                                  "minutes": minutes}, timeout=120)  # fmt: skip
            out[i] = {"status": r.status_code, "s": time.perf_counter() - start,
                      "bytes": len(r.content)}  # fmt: skip
        except httpx.HTTPError as exc:
            out[i] = {"status": 0, "s": time.perf_counter() - start, "bytes": 0, "error": str(exc)}

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(places))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def baseline(places: list[tuple[float, float]], minutes: float) -> dict[str, Any]:
    """The former answer (every reached street piece as a polyline), built in process."""
    from routing.isochrone import isochrone_polylines
    from routing.regions import load_region
    from routing.road import load_road_networks

    region = load_region("heidelberg")
    networks = load_road_networks(
        region, ("bike",), data_dir=default_data_dir(), cache_dir=default_cache_dir()
    )
    network = networks["bike"]
    seconds, sizes = [], []
    for lat, lon in places:
        start = time.perf_counter()
        reached = network.isochrone_edges((lat, lon), minutes * 60.0)
        lines = [[[round(float(x), 6), round(float(y), 6)] for y, x in zip(a, b, strict=True)]
                 for a, b in isochrone_polylines(network.current_graph(), reached)]  # fmt: skip
        sizes.append(len(json.dumps({"type": "MultiLineString", "coordinates": lines})))
        seconds.append(time.perf_counter() - start)
    return {"edge_dump": percentiles(seconds), "edge_dump_bytes_mean": float(np.mean(sizes))}


def run(*, rounds: int, clients: int, workers: int, minutes: float, with_baseline: bool) -> dict:
    """Run the load and return the result dict (also written to bench-results)."""
    tmp = Path(tempfile.mkdtemp(prefix="elster-iso-bench-"))
    port = free_port()
    proc = serve(port, workers, tmp, tmp / "server.log")
    try:
        pids = children(proc.pid)
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
        before = rss_mb(pids)
        answers: list[dict[str, Any]] = []
        peak = before
        for r in range(rounds):
            answers += load(port, starts(clients, seed=r + 1), minutes)
            peak = max(peak, rss_mb(pids))
        after = rss_mb(pids)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    ok = [a for a in answers if a["status"] == 200]
    result: dict[str, Any] = {
        "settings": {
            "rounds": rounds,
            "clients": clients,
            "workers": workers,
            "minutes": minutes,
            "profile": "bike",
        },
        "requests": len(answers),
        "statuses": {
            str(s): sum(a["status"] == s for a in answers)
            for s in sorted({a["status"] for a in answers})
        },
        "latency": percentiles([a["s"] for a in ok]) if ok else {},
        "answer_bytes_max": max((a["bytes"] for a in ok), default=0),
        "rss_mb": {
            "before": round(before, 1),
            "peak": round(peak, 1),
            "after": round(after, 1),
            "growth": round(peak - before, 1),
        },
    }
    if with_baseline:
        result["baseline"] = baseline(starts(min(clients, 5), seed=1), minutes)
    write_result("isochrone_load", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    result = run(rounds=args.rounds, clients=args.clients, workers=args.workers,
                 minutes=args.minutes, with_baseline=not args.no_baseline)  # fmt: skip
    lat = result["latency"]
    print(f"isochrone bike {args.minutes:g} min, {args.clients} concurrent x {args.rounds}: "
          f"p50 {lat.get('p50_ms', 0):.0f} ms, p95 {lat.get('p95_ms', 0):.0f} ms, "
          f"statuses {result['statuses']}, answer <= {result['answer_bytes_max']:,} B, "
          f"RSS growth {result['rss_mb']['growth']} MB")  # fmt: skip
    if "baseline" in result:
        b = result["baseline"]
        print(
            f"baseline edge dump: p50 {b['edge_dump']['p50_ms']:.0f} ms, "
            f"{b['edge_dump_bytes_mean']:,.0f} B per answer"
        )


if __name__ == "__main__":
    main()
