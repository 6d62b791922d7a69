"""Load test of the HTTP API on Heidelberg: /api/v1/plan (walk+transit) and booking creation.

A bounded run against uvicorn on 127.0.0.1: 20 concurrent clients send at
least 2,000 plan requests, then 400 booking creations. Every plan request is a
different query: origin and destination are random points of the region's
street network (a random walk-graph node inside the region's box, moved by up
to ~150 m), the time a random minute of a weekday morning (06:30-09:30 on the
region's timetable day). The seed is fixed, so runs are comparable. Nothing is
filtered: a query the planner answers with no itinerary (and its reasons) is
an answer like any other. The baseline is the same queries planned in-process
(no HTTP), so the ratio shows the cost of the service layer. Runs once per
worker count.

    .venv/bin/python -m benchmarks.api_load [--workers 1,2] [--requests 2000]
        [--server-root DIR]   # serve another checkout (e.g. the previous commit)

Bookings use the seat-ledger test double as dispatcher (tests/shuttle_doubles.py),
so what is measured is the booking service around any dispatcher: validation,
idempotency, the dispatch log kept in step across worker processes (database
write lock, catch-up, log entry), the SQLite WAL commit and the answer. Compare
with the previous commit side by side by serving its checkout:

    git archive HEAD~N | tar -x -C /tmp/before
    .venv/bin/python -m benchmarks.api_load --server-root /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentiles, write_result

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 20
SEED = 20220914
WARMUP = CLIENTS * 5
#: Weekday morning, minutes after midnight on the timetable day.
MORNING = (6 * 60 + 30, 9 * 60 + 30)
JITTER_DEG = 0.0015
TARGETS = {"plan_p50_ms": 40.0, "plan_p95_ms": 120.0, "booking_p95_ms": 50.0}


def _cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process and its children (uvicorn workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query_set(state: Any, n: int, *, seed: int = SEED) -> list[dict[str, str]]:
    """``n`` different walk+transit queries between random street points, weekday morning."""
    import numpy as np

    graph = state.networks["walk"].graph
    min_lon, min_lat, max_lon, max_lat = state.region.bbox
    lat, lon = np.asarray(graph.lat), np.asarray(graph.lon)
    inside = np.flatnonzero(
        (lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)
    )
    day = state.transit.timetable.date.isoformat()
    rng = random.Random(seed)

    def point() -> tuple[float, float]:
        while True:
            v = int(inside[rng.randrange(inside.size)])
            p = (
                lat[v] + rng.uniform(-JITTER_DEG, JITTER_DEG),
                lon[v] + rng.uniform(-JITTER_DEG, JITTER_DEG),
            )
            if min_lat <= p[0] <= max_lat and min_lon <= p[1] <= max_lon:
                return float(p[0]), float(p[1])

    queries = []
    while len(queries) < n:
        a, b = point(), point()
        if math.dist(a, b) < 0.001:  # about 100 m: the same place, not a trip
            continue
        minute = rng.randrange(*MORNING)
        queries.append(
            {
                "fromPlace": f"{a[0]:.6f},{a[1]:.6f}",
                "toPlace": f"{b[0]:.6f},{b[1]:.6f}",
                "time": f"{day}T{minute // 60:02d}:{minute % 60:02d}:00",
                "modes": "walk,transit",
            }
        )
    return queries


def in_process(state: Any, queries: list[dict[str, str]]) -> tuple[list[float], dict[str, int]]:
    """Plan every query with the core planner (no HTTP); seconds per query and answer counts."""
    from routing.planner import PlanRequest, plan
    from routing.planner.planner import PlanResult

    seconds = []
    counts = {"with_transit": 0, "walk_only": 0, "empty": 0}
    zone = state.region.timezone
    for q in queries:
        origin = tuple(float(x) for x in q["fromPlace"].split(","))
        destination = tuple(float(x) for x in q["toPlace"].split(","))
        start = time.perf_counter()
        request = PlanRequest(
            origin=origin,
            destination=destination,
            depart_at=q["time"],
            modes=q["modes"],
            timezone=zone,
        )
        result: PlanResult = plan(request, state.planner)
        result.to_dict()
        seconds.append(time.perf_counter() - start)
        modes = {it.mode for it in result.itineraries}
        key = "with_transit" if "transit" in modes else "walk_only" if modes else "empty"
        counts[key] += 1
    return seconds, counts


def _request_bytes(host: str, method: str, path: str, payload: Any, headers: dict) -> bytes:
    """One HTTP/1.1 keep-alive request, encoded before the clock starts."""
    from urllib.parse import urlencode

    body = b""
    if method == "GET":
        path = f"{path}?{urlencode(payload)}"
    else:
        body = json.dumps(payload).encode()
        headers = {**headers, "Content-Type": "application/json"}
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
    if "content-length" in fields:
        return status, await reader.readexactly(int(fields["content-length"]))
    chunks = []
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, b"".join(chunks)
        chunks.append(chunk[:-2])


def answer_kind(body: bytes) -> str:
    """Classify a plan answer: transit in it, walking only, or no itinerary."""
    if b'"mode":"transit"' in body:
        return "with_transit"
    return "empty" if b'"itineraries":[]' in body else "walk_only"


async def run_clients(
    base: str, jobs: list[tuple[str, str, dict[str, Any], dict[str, str]]]
) -> tuple[list[float], list[str], float, list[str]]:
    """Send ``jobs`` with CLIENTS concurrent keep-alive connections.

    A deliberately light client (raw HTTP/1.1 over asyncio streams, requests
    encoded in advance): on a 2-core machine a heavy client library would take
    the CPU the server is being measured on. Latency is from writing the request
    to reading the last byte of the answer.

    Returns latencies, errors, wall time and the kind of each plan answer.
    """
    host, port = base.removeprefix("http://").split(":")
    encoded = [_request_bytes(f"{host}:{port}", *job) for job in jobs]
    latencies: list[float] = []
    kinds: list[str] = []
    errors: list[str] = []
    next_job = iter(range(len(encoded)))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in next_job:
                start = time.perf_counter()
                try:
                    writer.write(encoded[i])
                    status, body = await asyncio.wait_for(_read_response(reader), 30)
                    ok = status in (200, 201)
                    detail = f"{status} {body[:120]!r}"
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    ok, detail, body = False, repr(exc), b""
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies.append(time.perf_counter() - start)
                kinds.append(answer_kind(body) if ok else "error")
                if not ok:
                    errors.append(detail)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    wall = time.perf_counter() - started
    return latencies, errors, wall, kinds


def by_kind(latencies: list[float], kinds: list[str]) -> dict[str, Any]:
    """Latency percentiles per kind of plan answer."""
    out = {}
    for kind in sorted(set(kinds)):
        picked = [t for t, k in zip(latencies, kinds, strict=True) if k == kind]
        out[kind] = percentiles(picked)
    return out


def start_server(
    workers: int, env: dict[str, str], log: Path, root: Path = ROOT
) -> tuple[subprocess.Popen, str]:
    """Start uvicorn (uvloop, httptools) serving the app of checkout ``root``."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "tests.shuttle_doubles:crash_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    ready = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                ready += 1
                if (
                    ready >= workers * 3
                ):  # every worker has answered (round robin is not guaranteed)
                    return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"server did not start; see {log}")


def run(
    workers_list: list[int], n_requests: int, n_bookings: int, server_root: Path = ROOT
) -> dict[str, Any]:
    from api.settings import Settings
    from api.state import load_state

    tmp = Path(tempfile.mkdtemp(prefix="elster-api-load-"))
    settings = Settings(region="heidelberg", database_url=f"sqlite:///{tmp / 'baseline.db'}")
    state = load_state(settings)
    queries = query_set(state, n_requests + WARMUP)
    warmup, queries = queries[:WARMUP], queries[WARMUP:]
    in_process(state, warmup)
    baseline_s, answers = in_process(state, queries)
    baseline = percentiles(baseline_s)
    plan_jobs = [("GET", "/api/v1/plan", q, {}) for q in queries]
    warm_jobs = [("GET", "/api/v1/plan", q, {}) for q in warmup]
    pickup = (datetime.now().astimezone() + timedelta(hours=3)).replace(microsecond=0).isoformat()
    runs = []
    for workers in workers_list:
        env = dict(os.environ)
        env.update(
            ELSTER_REGION="heidelberg",
            ELSTER_DATABASE_URL=f"sqlite:///{tmp / f'bookings-{workers}.db'}",
            PYTHONPATH=str(server_root),
            # Same data and build cache for any served checkout.
            ELSTER_DATA_DIR=str(settings.data_dir),
            ELSTER_CACHE_DIR=str(settings.cache_dir),
        )
        proc, base = start_server(workers, env, tmp / f"server-{workers}.log", server_root)
        try:
            asyncio.run(run_clients(base, warm_jobs))  # warm connections and caches
            cpu0 = _cpu_seconds(proc.pid)
            lat, errors, wall, kinds = asyncio.run(run_clients(base, plan_jobs))
            server_cpu = _cpu_seconds(proc.pid) - cpu0
            book_jobs = [
                (
                    "POST",
                    "/api/v1/shuttle/bookings",
                    {
                        "from": {"lat": 49.40 + i % 40 * 0.001, "lon": 8.69},
                        "to": {"lat": 49.39, "lon": 8.68},
                        "pickupAfter": pickup,
                        "passengers": 1 + i % 3,
                    },
                    {"Idempotency-Key": f"bench-{workers}-{i:06d}"},
                )
                for i in range(n_bookings)
            ]
            b_lat, b_errors, b_wall, _ = asyncio.run(run_clients(base, book_jobs))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        plan_stats = percentiles(lat)
        runs.append(
            {
                "workers": workers,
                "plan": {
                    **plan_stats,
                    "throughput_rps": len(lat) / wall,
                    "errors": len(errors),
                    "error_samples": errors[:5],
                    "server_cpu_ms_per_request": 1000 * server_cpu / max(len(lat), 1),
                    "by_answer": by_kind(lat, kinds),
                },
                "booking": {
                    **percentiles(b_lat),
                    "throughput_rps": len(b_lat) / b_wall,
                    "errors": len(b_errors),
                    "error_samples": b_errors[:5],
                },
                "ratio_p50_http_vs_in_process": plan_stats["p50_ms"] / baseline["p50_ms"],
            }
        )
    return {
        "region": "heidelberg",
        "clients": CLIENTS,
        "server_root": str(server_root),
        "query_set": {
            "queries": len(queries),
            "warmup": len(warmup),
            "distinct": len({tuple(q.values()) for q in queries}) == len(queries),
            "seed": SEED,
            "what": "random street points of the region (walk-graph node + up to "
            f"{JITTER_DEG} deg), departures {MORNING[0] // 60:02d}:{MORNING[0] % 60:02d}-"
            f"{MORNING[1] // 60:02d}:{MORNING[1] % 60:02d} on the timetable day, walk,transit",
            "answers_in_process": answers,
        },
        "baseline_in_process_plan": baseline,
        "runs": runs,
        "targets": TARGETS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="Comma-separated uvicorn worker counts.")
    parser.add_argument("--requests", type=int, default=2000, help="Plan requests per run.")
    parser.add_argument("--bookings", type=int, default=400, help="Booking creations per run.")
    parser.add_argument(
        "--server-root",
        type=Path,
        default=ROOT,
        help="Checkout whose app is served (default: this one); the in-process baseline "
        "always uses this checkout.",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run(
        [int(w) for w in args.workers.split(",")],
        args.requests,
        args.bookings,
        args.server_root.resolve(),
    )
    path = write_result("api_load", result)
    best = min(result["runs"], key=lambda r: r["plan"]["p95_ms"])
    base = result["baseline_in_process_plan"]
    print(
        f"api_load: plan p50 {best['plan']['p50_ms']:.1f} ms p95 {best['plan']['p95_ms']:.1f} ms "
        f"{best['plan']['throughput_rps']:.0f} req/s errors {best['plan']['errors']} "
        f"({best['workers']} worker(s), {CLIENTS} clients, {best['plan']['n']} requests); "
        f"in-process p50 {base['p50_ms']:.1f} ms "
        f"(HTTP/in-process {best['ratio_p50_http_vs_in_process']:.2f}x); "
        f"booking p95 {best['booking']['p95_ms']:.1f} ms errors {best['booking']['errors']} "
        f"-> {path}"
    )


if __name__ == "__main__":
    main()
