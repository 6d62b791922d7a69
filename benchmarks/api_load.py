"""Load test of the HTTP API on Heidelberg: /api/v1/plan (walk+transit) and booking creation.

A bounded run against uvicorn on 127.0.0.1: 20 concurrent clients send at
least 2,000 plan requests from a fixed, seeded query set, then 400 booking
creations. The baseline is the same plans computed in-process (no HTTP), so
the ratio shows the cost of the service layer. Runs once per worker count.

    .venv/bin/python -m benchmarks.api_load [--workers 1,2] [--requests 2000]

Bookings use the seat-ledger test double as dispatcher (the fleet's online
dispatcher is not part of this build); what is measured is the booking
service: validation, idempotency, SQLite WAL commit and the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
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
TARGETS = {"plan_p50_ms": 40.0, "plan_p95_ms": 120.0, "booking_p95_ms": 50.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query_set(state: Any, n: int) -> list[dict[str, str]]:
    """Seeded walk+transit queries between points near transit stops, 07:00-19:00."""
    tt = state.transit.network.timetable
    rng = random.Random(SEED)
    day = tt.date.isoformat()
    queries = []
    for _ in range(n):
        a, b = rng.sample(range(tt.n_stops), 2)
        jitter = [rng.uniform(-0.002, 0.002) for _ in range(4)]
        minute = rng.randrange(7 * 60, 19 * 60)
        queries.append(
            {
                "fromPlace": f"{tt.stop_lat[a] + jitter[0]:.6f},{tt.stop_lon[a] + jitter[1]:.6f}",
                "toPlace": f"{tt.stop_lat[b] + jitter[2]:.6f},{tt.stop_lon[b] + jitter[3]:.6f}",
                "time": f"{day}T{minute // 60:02d}:{minute % 60:02d}:00",
                "modes": "walk,transit",
            }
        )
    return queries


def in_process(
    state: Any, queries: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[float]]:
    """Plan every query without HTTP; keep those the planner answers (the fixed set)."""
    from api.routers.plan import plan_time
    from api.services.planner import PlanRequest, parse_modes, plan
    from api.validation import check_in_region, parse_place
    from routing.errors import ElsterError

    kept, seconds = [], []
    for q in queries:
        start = time.perf_counter()
        try:
            origin = parse_place(q["fromPlace"], name="fromPlace")
            destination = parse_place(q["toPlace"], name="toPlace")
            check_in_region(state, *origin, name="fromPlace")
            check_in_region(state, *destination, name="toPlace")
            modes = parse_modes(q["modes"])
            when = plan_time(state, datetime.fromisoformat(q["time"]), modes)
            plan(state, PlanRequest(origin, destination, when, False, modes, 5))
        except ElsterError:
            continue  # outside the walkable network: not part of the fixed set
        seconds.append(time.perf_counter() - start)
        kept.append(q)
    return kept, seconds


async def run_clients(
    base: str, jobs: list[tuple[str, str, dict[str, Any], dict[str, str]]]
) -> tuple[list[float], list[str], float]:
    """Send ``jobs`` with CLIENTS concurrent clients; return latencies, errors and wall time."""
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                method, path, payload, headers = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            try:
                if method == "GET":
                    r = await client.get(base + path, params=payload, headers=headers)
                else:
                    r = await client.post(base + path, json=payload, headers=headers)
                ok = r.status_code in (200, 201)
                detail = f"{r.status_code} {r.text[:120]}"
            except httpx.HTTPError as exc:
                ok, detail = False, repr(exc)
            latencies.append(time.perf_counter() - start)
            if not ok:
                errors.append(detail)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(CLIENTS)))
        wall = time.perf_counter() - started
    return latencies, errors, wall


def start_server(workers: int, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
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
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
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


def run(workers_list: list[int], n_requests: int, n_bookings: int) -> dict[str, Any]:
    from api.settings import Settings
    from api.state import load_state

    tmp = Path(tempfile.mkdtemp(prefix="elster-api-load-"))
    settings = Settings(region="heidelberg", database_url=f"sqlite:///{tmp / 'baseline.db'}")
    state = load_state(settings)
    queries, baseline_s = in_process(state, query_set(state, 400))
    baseline = percentiles(baseline_s)
    plan_jobs = [("GET", "/api/v1/plan", queries[i % len(queries)], {}) for i in range(n_requests)]
    pickup = (datetime.now().astimezone() + timedelta(hours=3)).replace(microsecond=0).isoformat()
    runs = []
    for workers in workers_list:
        env = dict(os.environ)
        env.update(
            ELSTER_REGION="heidelberg",
            ELSTER_DATABASE_URL=f"sqlite:///{tmp / f'bookings-{workers}.db'}",
            PYTHONPATH=str(ROOT),
        )
        proc, base = start_server(workers, env, tmp / f"server-{workers}.log")
        try:
            asyncio.run(run_clients(base, plan_jobs[: CLIENTS * 5]))  # warm connections and caches
            lat, errors, wall = asyncio.run(run_clients(base, plan_jobs))
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
            b_lat, b_errors, b_wall = asyncio.run(run_clients(base, book_jobs))
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
        "query_set": {"generated": 400, "answerable": len(queries), "seed": SEED},
        "baseline_in_process_plan": baseline,
        "runs": runs,
        "targets": TARGETS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="Comma-separated uvicorn worker counts.")
    parser.add_argument("--requests", type=int, default=2000, help="Plan requests per run.")
    parser.add_argument("--bookings", type=int, default=400, help="Booking creations per run.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run([int(w) for w in args.workers.split(",")], args.requests, args.bookings)
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
