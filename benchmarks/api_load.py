"""Load test of the HTTP API on Heidelberg: /api/v1/plan (walk+transit) and booking creation.

A bounded run against uvicorn on 127.0.0.1: 20 concurrent clients send at
least 2,000 plan requests, then booking creations. Every plan request is a
different query: origin and destination are random points of the region's
street network (a random walk-graph node inside the region's box, moved by up
to ~150 m), the time a random minute of a weekday morning (06:30-09:30 on the
region's timetable day). The seed is fixed, so runs are comparable. Nothing is
filtered: a query the planner answers with no itinerary (and its reasons) is
an answer like any other. The baseline is the same queries planned in-process
(no HTTP), so the ratio shows the cost of the service layer. Runs once per
worker count and dispatcher.

    .venv/bin/python -m benchmarks.api_load [--workers 1,2] [--requests 2000]
        [--bookings 400] [--dispatcher ledger|fleet|both] [--reoptimise-s 3600]
        [--database sqlite,postgres]
        [--server-root DIR]   # serve another checkout (e.g. the previous commit)

``--database sqlite,postgres`` measures every booking row on both databases in
the same run, one server each: SQLite (WAL, ``synchronous=NORMAL``) and a
PostgreSQL 15 started for the run in a temporary directory
(:mod:`scripts.pg_test_server`, default durable settings: ``fsync`` and
``synchronous_commit`` on, so every commit waits for the WAL flush). The
PostgreSQL rows are ``booking_postgres`` and ``booking_fleet_postgres``.

Bookings are measured against two dispatchers, each in its own server:

* ``ledger`` (the ``booking`` row): the seat-ledger test double
  (``benchmarks.support.shuttle_doubles:crash_app``), which accepts everything, with the same
  trip over and over. What is measured is the booking service around any
  dispatcher: validation, idempotency, the dispatch log kept in step across
  worker processes (database write lock, catch-up, log entry), the SQLite WAL
  commit and the answer.
* ``fleet`` (the ``booking_fleet`` row): the real app (``api.app:create_app``)
  with the fleet's online dispatcher (default 10 shuttles x 8 seats) and a
  realistic stream: pickup and drop-off are random car-network points of the
  region at least 1 km apart, pickups a random minute 1-6 hours ahead, 1-3
  passengers, fixed seed. A full fleet refuses trips ("no shuttle can serve
  this trip", 422): a refusal is a valid answer, counted apart from errors.
  Its baseline is the same stream booked one by one in-process through the
  booking service (no HTTP, no queue of concurrent clients: the service time).
  After the load, every worker's ``/fleet/vehicles`` must plan exactly the
  bookings answered 201 (``plan_check``).

Both servers run with ``ELSTER_SHUTTLE_REOPTIMISE_S=3600`` (``--reoptimise-s``)
so the periodic re-optimisation (which holds the booking lock) does not land
at a random point of the minute-long measurement; pass 60 (the service
default) to measure bookings with it. Compare with the previous commit side by
side by serving its checkout:

    git archive HEAD~N | tar -x -C /tmp/before
    .venv/bin/python -m benchmarks.api_load --server-root /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentiles, write_result
from benchmarks.support.http_client import encode_request, send_all
from benchmarks.support.server import free_port

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 20
SEED = 20220914
WARMUP = CLIENTS * 5
#: Weekday morning, minutes after midnight on the timetable day.
MORNING = (6 * 60 + 30, 9 * 60 + 30)
JITTER_DEG = 0.0015
TARGETS = {"plan_p50_ms": 40.0, "plan_p95_ms": 120.0, "booking_p95_ms": 50.0}
#: One HTTP request to send: method, path, query or JSON body, headers.
Job = tuple[str, str, Any, dict[str, str]]
#: uvicorn factories of the two booking dispatchers.
FACTORIES = {
    "ledger": "benchmarks.support.shuttle_doubles:crash_app",
    "fleet": "api.app:create_app",
}
BOOKINGS_PATH = "/api/v1/shuttle/bookings"
#: Fleet booking stream: shortest trip (metres), pickup minutes ahead of now, passengers.
MIN_TRIP_M = 1000.0
PICKUP_AHEAD_MIN = (60, 6 * 60)
PASSENGERS = (1, 3)
TRIP_JITTER_DEG = 0.0003
#: Operator key of the served app (reads /fleet/vehicles for the plan check).
OPERATOR_KEY = "bench-operator-key"
#: How the booking service words a dispatcher's refusal (api/services/shuttle.py).
REFUSAL = b"no shuttle can serve this trip"


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


def sample_trips(
    lat: Any, lon: Any, bbox: tuple[float, float, float, float], n: int, *, seed: int = SEED
) -> list[dict[str, Any]]:
    """``n`` shuttle trips between random road points inside ``bbox``, at least MIN_TRIP_M apart.

    Parameters
    ----------
    lat, lon : array of float
        Road-network node coordinates (the car graph: where a shuttle can stop).
    bbox : (min_lon, min_lat, max_lon, max_lat)
        The region's box; points outside are never drawn.
    n : int
        Number of trips.
    seed : int
        Random seed (the same seed gives the same trips).

    Returns
    -------
    list of dict
        ``origin``, ``destination`` as (lat, lon), ``ahead_min`` (pickup minutes after
        now, PICKUP_AHEAD_MIN) and ``passengers`` (PASSENGERS), and ``metres`` (as the crow
        flies).
    """
    import numpy as np

    from routing.geo import haversine_m

    min_lon, min_lat, max_lon, max_lat = bbox
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    inside = np.flatnonzero(
        (lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)
    )
    if inside.size < 2:
        raise ValueError(f"fewer than 2 road nodes inside {bbox}: no trips to sample")
    rng = random.Random(seed)

    def point() -> tuple[float, float]:
        while True:
            v = int(inside[rng.randrange(inside.size)])
            p = (
                float(lat[v]) + rng.uniform(-TRIP_JITTER_DEG, TRIP_JITTER_DEG),
                float(lon[v]) + rng.uniform(-TRIP_JITTER_DEG, TRIP_JITTER_DEG),
            )
            if min_lat <= p[0] <= max_lat and min_lon <= p[1] <= max_lon:
                return round(p[0], 6), round(p[1], 6)

    trips: list[dict[str, Any]] = []
    while len(trips) < n:
        a, b = point(), point()
        metres = float(haversine_m(a[0], a[1], b[0], b[1]))
        if metres < MIN_TRIP_M:
            continue
        trips.append(
            {
                "origin": a,
                "destination": b,
                "ahead_min": rng.randint(*PICKUP_AHEAD_MIN),
                "passengers": rng.randint(*PASSENGERS),
                "metres": metres,
            }
        )
    return trips


def trip_body(trip: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The booking request body of a sampled trip, its pickup ``ahead_min`` after ``now``."""
    # In UTC: adding minutes to a local time is wall-clock arithmetic (wrong across DST).
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    pickup = (start + timedelta(minutes=trip["ahead_min"])).astimezone(now.tzinfo)
    return {
        "from": {"lat": trip["origin"][0], "lon": trip["origin"][1]},
        "to": {"lat": trip["destination"][0], "lon": trip["destination"][1]},
        "pickupAfter": pickup.isoformat(),
        "passengers": trip["passengers"],
    }


def booking_kind(status: int, body: bytes) -> str:
    """Classify a booking answer: booked (201), replayed (200), refused or error.

    A refusal is the booking service's "no shuttle can serve this trip" (a
    ``RejectedError``: 422; 409 accepted too): the valid answer of a full fleet.
    Anything else (5xx, other 4xx, a transport error: ``status`` 0) is an error.
    """
    if status == 201:
        return "booked"
    if status == 200:
        return "replayed"
    if status in (409, 422) and REFUSAL in body:
        return "refused"
    return "error"


def refusal_reason(body: bytes) -> str:
    """The dispatcher's reason in a refusal body (the text after "...this trip: ")."""
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        return "unreadable answer"
    return message.split(": ", 1)[1] if ": " in message else message


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


def in_process_bookings(state: Any, trips: list[dict[str, Any]]) -> tuple[list[float], list[str]]:
    """Book every trip one after the other through the booking service (no HTTP).

    The same validation (``to_request``), idempotency key, dispatcher decision and
    database transaction as a POST, without the server, the JSON and the queue of
    concurrent clients: the service time of one booking. Returns seconds per
    booking and its kind (booked or refused).
    """
    from zoneinfo import ZoneInfo

    from api.errors import RejectedError
    from api.routers.shuttle import to_request
    from api.schemas import ShuttleTripRequest

    now = datetime.now(ZoneInfo(state.region.timezone))
    seconds: list[float] = []
    kinds: list[str] = []
    for i, trip in enumerate(trips):
        start = time.perf_counter()
        body = ShuttleTripRequest.model_validate(trip_body(trip, now))
        try:
            state.shuttle.book(
                to_request(state, body),
                idempotency_key=f"in-process-{i:06d}",
                fingerprint=body.model_dump(mode="json", by_alias=True),
            )
            kind = "booked"
        except RejectedError as exc:
            kind = "refused" if REFUSAL.decode() in str(exc) else "error"
        seconds.append(time.perf_counter() - start)
        kinds.append(kind)
    return seconds, kinds


def answer_kind(body: bytes) -> str:
    """Classify a plan answer: transit in it, walking only, or no itinerary."""
    if b'"mode":"transit"' in body:
        return "with_transit"
    return "empty" if b'"itineraries":[]' in body else "walk_only"


def plan_kind(status: int, body: bytes) -> str:
    """Classify a plan answer: error unless 2xx, else as :func:`answer_kind`."""
    return answer_kind(body) if status in (200, 201) else "error"


async def run_clients(
    base: str,
    jobs: list[Job],
    classify: Any = plan_kind,
    bodies: list[bytes] | None = None,
) -> tuple[list[float], list[str], float, list[str]]:
    """Send ``jobs`` with CLIENTS concurrent keep-alive connections.

    A deliberately light client (raw HTTP/1.1 over asyncio streams, requests
    encoded in advance): on a 2-core machine a heavy client library would take
    the CPU the server is being measured on. Latency is from writing the request
    to reading the last byte of the answer.

    ``classify(status, body) -> kind`` names each answer (status 0: transport
    error); kind "error" is an error. When ``bodies`` is given, the body of every
    answer that is not an error is appended to it (in answer order).

    Returns latencies, error details, wall time and the kind of each answer.
    """
    host, port = base.removeprefix("http://").split(":")
    encoded = [encode_request(f"{host}:{port}", *job) for job in jobs]
    kinds: list[str] = []
    errors: list[str] = []

    def on_answer(_i: int, status: int, body: bytes, detail: str) -> None:
        kind = classify(status, body)
        kinds.append(kind)
        if kind == "error":
            errors.append(detail)
        elif bodies is not None:
            bodies.append(body)

    latencies, wall = await send_all(
        host, int(port), encoded, concurrency=CLIENTS, timeout_s=30, on_answer=on_answer
    )
    return latencies, errors, wall, kinds


def by_kind(latencies: list[float], kinds: list[str]) -> dict[str, Any]:
    """Latency percentiles per kind of answer."""
    out = {}
    for kind in sorted(set(kinds)):
        picked = [t for t, k in zip(latencies, kinds, strict=True) if k == kind]
        out[kind] = percentiles(picked)
    return out


def _quarters(values: list[float]) -> list[list[float]]:
    """``values`` cut into four consecutive parts of (nearly) equal length."""
    n = len(values)
    return [values[i * n // 4 : (i + 1) * n // 4] for i in range(4)]


def booking_stats(
    latencies: list[float],
    kinds: list[str],
    errors: list[str],
    wall: float,
    server_cpu: float,
    bodies: list[bytes] | None = None,
) -> dict[str, Any]:
    """One booking row: percentiles over all answers and per kind, counts, throughput."""
    counts = {k: kinds.count(k) for k in ("booked", "replayed", "refused", "error")}
    row: dict[str, Any] = {
        **percentiles(latencies),
        "throughput_rps": len(latencies) / wall,
        "booked": counts["booked"],
        "replayed": counts["replayed"],
        "refused": counts["refused"],
        "errors": counts["error"],
        "error_samples": errors[:5],
        "server_cpu_ms_per_request": 1000 * server_cpu / max(len(latencies), 1),
        "by_answer": by_kind(latencies, kinds),
        # In answer order: does a booking get slower as the vehicle plans fill up?
        "p50_ms_by_quarter": [
            percentiles(part)["p50_ms"] for part in _quarters(latencies) if len(part)
        ],
    }
    if bodies is not None:
        reasons: dict[str, int] = {}
        for body in bodies:
            if REFUSAL in body:
                reason = refusal_reason(body)
                reasons[reason] = reasons.get(reason, 0) + 1
        row["refusal_reasons"] = dict(sorted(reasons.items(), key=lambda kv: -kv[1]))
    return row


def start_server(
    workers: int,
    env: dict[str, str],
    log: Path,
    root: Path = ROOT,
    factory: str = FACTORIES["ledger"],
) -> tuple[subprocess.Popen, str]:
    """Serve app ``factory`` of checkout ``root`` the way ``elster serve`` does.

    That is ``api.workers`` (one SO_REUSEPORT socket per worker, uvloop,
    httptools); a checkout from before it existed is served by ``uvicorn --workers``.
    """
    port = free_port()
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if (root / "api" / "workers.py").exists():
        cmd = [sys.executable, "-m", "api.workers", factory, *common, "--log-level", "warning"]
    else:
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", factory, *common, "--loop", "uvloop",
            "--http", "httptools", "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
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


def ledger_jobs(n: int, pickup: str, workers: int) -> list[Job]:
    """Booking POSTs of the ledger run: the same kind of trip over and over, one pickup time."""
    return [
        (
            "POST",
            BOOKINGS_PATH,
            {
                "from": {"lat": 49.40 + i % 40 * 0.001, "lon": 8.69},
                "to": {"lat": 49.39, "lon": 8.68},
                "pickupAfter": pickup,
                "passengers": 1 + i % 3,
            },
            {"Idempotency-Key": f"bench-{workers}-{i:06d}"},
        )
        for i in range(n)
    ]


def fleet_jobs(trips: list[dict[str, Any]], zone: Any, workers: int) -> list[Job]:
    """Booking POSTs of the fleet run, pickups relative to now; one Idempotency-Key each."""
    now = datetime.now(zone)
    return [
        (
            "POST",
            BOOKINGS_PATH,
            trip_body(t, now),
            {"Idempotency-Key": f"bench-fleet-{workers}-{i:06d}"},
        )
        for i, t in enumerate(trips)
    ]


def _serve_and_measure(
    dispatcher: str,
    workers: int,
    env: dict[str, str],
    tmp: Path,
    server_root: Path,
    plan: tuple[list[Job], list[Job]] | None,
    book_jobs: Any,
    warm_quotes: list[dict[str, Any]],
) -> dict[str, Any]:
    """One server run: optionally the plan load, then the booking load; raw figures.

    ``dispatcher`` is ``ledger`` or ``fleet``, optionally followed by ``-DATABASE``.
    """
    log = tmp / f"server-{dispatcher}-{workers}.log"
    dispatcher = dispatcher.split("-", 1)[0]
    proc, base = start_server(workers, env, log, server_root, FACTORIES[dispatcher])
    out: dict[str, Any] = {}
    try:
        if plan is not None:
            warm_jobs, plan_jobs = plan
            asyncio.run(run_clients(base, warm_jobs))  # warm connections and caches
            cpu0 = _cpu_seconds(proc.pid)
            out["plan"] = asyncio.run(run_clients(base, plan_jobs))
            out["plan_cpu"] = _cpu_seconds(proc.pid) - cpu0
        # Quotes change nothing: they warm connections and the dispatcher's code paths.
        quote_jobs: list[Job] = [("POST", "/api/v1/shuttle/quote", q, {}) for q in warm_quotes]
        asyncio.run(run_clients(base, quote_jobs))
        jobs = book_jobs() if callable(book_jobs) else book_jobs
        bodies: list[bytes] = []
        cpu0 = _cpu_seconds(proc.pid)
        out["booking"] = asyncio.run(run_clients(base, jobs, booking_kind, bodies))
        out["booking_cpu"] = _cpu_seconds(proc.pid) - cpu0
        out["bodies"] = bodies
        if dispatcher == "fleet":
            out["plan_check"] = plan_check(base, booked_ids(bodies), workers)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    out["server_log"] = log_problems(log)
    return out


def booked_ids(bodies: list[bytes]) -> set[str]:
    """Booking ids of the created or replayed bookings among the answer ``bodies``."""
    ids = set()
    for body in bodies:
        try:
            answer = json.loads(body)
        except ValueError:
            continue
        if isinstance(answer, dict) and "id" in answer and "error" not in answer:
            ids.add(str(answer["id"]))
    return ids


def plan_check(base: str, booked: set[str], workers: int) -> dict[str, Any]:
    """Do the vehicle plans of every worker hold exactly the confirmed bookings?

    Reads ``/fleet/vehicles`` on fresh connections (so that, most likely, every
    worker process answers at least once) and compares the requests of the
    planned pickups with the bookings answered 201. Pickups are 1 hour ahead or
    more, so none has happened yet: every booking must still be planned.
    """
    answers, worst_missing, worst_extra, failures = 0, 0, 0, []
    for _ in range(4 * workers):
        try:
            r = httpx.get(
                base + "/api/v1/fleet/vehicles", headers={"X-API-Key": OPERATOR_KEY}, timeout=30
            )
        except httpx.HTTPError as exc:
            failures.append(repr(exc))
            continue
        if r.status_code != 200:
            failures.append(f"{r.status_code} {r.text[:160]}")
            continue
        planned = {
            str(stop["request"])
            for vehicle in r.json()
            for stop in vehicle.get("stops", [])
            if stop.get("kind") == "pickup"
        }
        answers += 1
        worst_missing = max(worst_missing, len(booked - planned))
        worst_extra = max(worst_extra, len(planned - booked))
    return {
        "answers": answers,
        "booked": len(booked),
        "most_missing": worst_missing,
        "most_extra": worst_extra,
        "consistent": answers > 0 and worst_missing == 0 and worst_extra == 0 and not failures,
        "failures": failures[:3],
    }


def log_problems(log: Path) -> dict[str, Any]:
    """What the server logged (warnings and up only: replay failures, bugs), known noise aside."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    # Known and harmless at every start: stops without a walkable road nearby.
    bad = [ln for ln in lines if ln.strip() and "straight-line footpaths" not in ln]
    return {"file": str(log), "problems": len(bad), "samples": bad[:5]}


def run(
    workers_list: list[int],
    n_requests: int,
    n_bookings: int,
    server_root: Path = ROOT,
    dispatchers: tuple[str, ...] = ("ledger", "fleet"),
    reoptimise_s: float = 3600.0,
    databases: tuple[str, ...] = ("sqlite",),
) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

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
    plan_jobs: list[Job] = [("GET", "/api/v1/plan", q, {}) for q in queries]
    warm_jobs: list[Job] = [("GET", "/api/v1/plan", q, {}) for q in warmup]
    zone = ZoneInfo(state.region.timezone)
    car = state.networks["car"].graph
    trips = sample_trips(car.lat, car.lon, state.region.bbox, n_bookings + CLIENTS, seed=SEED)
    warm_trips, trips = trips[:CLIENTS], trips[CLIENTS:]
    booking_baseline: dict[str, Any] | None = None
    if "fleet" in dispatchers:
        b_s, b_kinds = in_process_bookings(state, trips)
        booking_baseline = {
            **percentiles(b_s),
            "booked": b_kinds.count("booked"),
            "refused": b_kinds.count("refused"),
            "errors": b_kinds.count("error"),
            "by_answer": by_kind(b_s, b_kinds),
        }
    pickup = (datetime.now().astimezone() + timedelta(hours=3)).replace(microsecond=0).isoformat()
    postgres = None
    if "postgres" in databases:
        from scripts.pg_test_server import ThrowawayPostgres

        postgres = ThrowawayPostgres(durable=True)
        postgres.start()
    try:
        runs = _runs(
            workers_list, dispatchers, databases, postgres, tmp, settings, server_root,
            reoptimise_s, n_bookings, pickup, zone, trips, warm_trips, warm_jobs, plan_jobs,
            baseline, booking_baseline,
        )  # fmt: skip
    finally:
        if postgres is not None:
            postgres.stop()
    metres = sorted(t["metres"] for t in trips)
    return {
        "region": "heidelberg",
        "clients": CLIENTS,
        "server_root": str(server_root),
        "dispatchers": list(dispatchers),
        "databases": list(databases),
        "postgres": "PostgreSQL 15, fsync and synchronous_commit on (durable defaults)"
        if postgres is not None
        else None,
        "reoptimise_s": reoptimise_s,
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
        "fleet_booking_set": {
            "bookings": len(trips),
            "seed": SEED,
            "what": "random car-network points of the region (node + up to "
            f"{TRIP_JITTER_DEG} deg) at least {MIN_TRIP_M:.0f} m apart, pickup a random "
            f"minute {PICKUP_AHEAD_MIN[0]}-{PICKUP_AHEAD_MIN[1]} min after the load starts, "
            f"{PASSENGERS[0]}-{PASSENGERS[1]} passengers, own Idempotency-Key each",
            "trip_km_p50": metres[len(metres) // 2] / 1000 if metres else 0.0,
            "passengers": sum(t["passengers"] for t in trips),
            "fleet": {
                "vehicles": settings.shuttle_vehicles,
                "seats": settings.shuttle_seats,
            },
        },
        "baseline_in_process_plan": baseline,
        # The fleet stream booked one by one in this process (own database): service time.
        "baseline_in_process_booking_fleet": booking_baseline,
        "runs": runs,
        "targets": TARGETS,
    }


def row_key(dispatcher: str, database: str) -> str:
    """Name of a booking row: ``booking`` / ``booking_fleet``, ``_postgres`` on PostgreSQL."""
    key = "booking" if dispatcher == "ledger" else "booking_fleet"
    return key if database == "sqlite" else f"{key}_{database}"


def _runs(
    workers_list: list[int],
    dispatchers: tuple[str, ...],
    databases: tuple[str, ...],
    postgres: Any,
    tmp: Path,
    settings: Any,
    server_root: Path,
    reoptimise_s: float,
    n_bookings: int,
    pickup: str,
    zone: Any,
    trips: list[dict[str, Any]],
    warm_trips: list[dict[str, Any]],
    warm_jobs: list[Job],
    plan_jobs: list[Job],
    baseline: dict[str, Any],
    booking_baseline: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """One row per worker count: the plan load once, every booking row per database."""
    runs = []
    for workers in workers_list:
        row: dict[str, Any] = {"workers": workers}
        for dispatcher, database in [(d, db) for d in dispatchers for db in databases]:
            if database == "sqlite":
                url = f"sqlite:///{tmp / f'bookings-{dispatcher}-{workers}.db'}"
            else:
                url = postgres.create_database()
            env = dict(os.environ)
            env.update(
                ELSTER_REGION="heidelberg",
                ELSTER_DATABASE_URL=url,
                PYTHONPATH=str(server_root),
                # Same data and build cache for any served checkout.
                ELSTER_DATA_DIR=str(settings.data_dir),
                ELSTER_CACHE_DIR=str(settings.cache_dir),
                ELSTER_SHUTTLE_REOPTIMISE_S=str(reoptimise_s),
                ELSTER_API_KEYS=OPERATOR_KEY,
                # 20 load clients share one address: per-client limits would cap them.
                ELSTER_RATE_LIMIT_BOOKINGS="0",
                ELSTER_RATE_LIMIT_EXPENSIVE="0",
            )
            warm_quotes = [trip_body(t, datetime.now(zone)) for t in warm_trips]
            book_jobs = (
                ledger_jobs(n_bookings, pickup, workers)
                if dispatcher == "ledger"
                # Built when the load starts: pickups are relative to that moment.
                else functools.partial(fleet_jobs, trips, zone, workers)
            )
            plan = (warm_jobs, plan_jobs) if "plan" not in row else None
            raw = _serve_and_measure(
                f"{dispatcher}-{database}", workers, env, tmp, server_root, plan, book_jobs,
                warm_quotes,
            )  # fmt: skip
            if "plan" in raw:
                lat, errors, wall, kinds = raw["plan"]
                plan_stats = percentiles(lat)
                row["plan"] = {
                    **plan_stats,
                    "throughput_rps": len(lat) / wall,
                    "errors": len(errors),
                    "error_samples": errors[:5],
                    "server_cpu_ms_per_request": 1000 * raw["plan_cpu"] / max(len(lat), 1),
                    "by_answer": by_kind(lat, kinds),
                    "served_by": dispatcher,
                }
                row["ratio_p50_http_vs_in_process"] = plan_stats["p50_ms"] / baseline["p50_ms"]
            b_lat, b_errors, b_wall, b_kinds = raw["booking"]
            key = row_key(dispatcher, database)
            row[key] = booking_stats(
                b_lat,
                b_kinds,
                b_errors,
                b_wall,
                raw["booking_cpu"],
                raw["bodies"] if dispatcher == "fleet" else None,
            )
            row[key]["server_log"] = raw["server_log"]
            if "plan_check" in raw:
                row[key]["plan_check"] = raw["plan_check"]
            if key == "booking_fleet" and booking_baseline is not None:
                row["ratio_booking_fleet_p50_http_vs_in_process"] = (
                    row[key]["p50_ms"] / booking_baseline["p50_ms"]
                )
            row[key]["database"] = database
        runs.append(row)
    return runs


def summary(result: dict[str, Any], path: Path) -> str:
    """The one-line summary: best plan run, ledger and fleet booking p95."""
    runs = result["runs"]
    best = min(runs, key=lambda r: r["plan"]["p95_ms"])
    base = result["baseline_in_process_plan"]
    line = (
        f"api_load: plan p50 {best['plan']['p50_ms']:.1f} ms p95 {best['plan']['p95_ms']:.1f} ms "
        f"{best['plan']['throughput_rps']:.0f} req/s errors {best['plan']['errors']} "
        f"({best['workers']} worker(s), {CLIENTS} clients, {best['plan']['n']} requests); "
        f"in-process p50 {base['p50_ms']:.1f} ms "
        f"(HTTP/in-process {best['ratio_p50_http_vs_in_process']:.2f}x)"
    )
    if all("booking" in r for r in runs):
        b = min(runs, key=lambda r: r["booking"]["p95_ms"])
        line += (
            f"; booking (ledger) p95 {b['booking']['p95_ms']:.1f} ms "
            f"errors {b['booking']['errors']} ({b['workers']} worker(s))"
        )
    for r in runs:
        for key in ("booking_postgres", "booking_fleet_postgres"):
            if key in r:
                line += (
                    f"; {key} p95 {r[key]['p95_ms']:.1f} ms "
                    f"{r[key]['throughput_rps']:.0f} req/s errors {r[key]['errors']} "
                    f"({r['workers']} worker(s))"
                )
    if all("booking_fleet" in r for r in runs):
        f = min(runs, key=lambda r: r["booking_fleet"]["p95_ms"])
        fb = f["booking_fleet"]
        line += (
            f"; booking (fleet) p95 {fb['p95_ms']:.1f} ms booked {fb['booked']} "
            f"refused {fb['refused']} errors {fb['errors']} ({f['workers']} worker(s))"
        )
        fbase = result.get("baseline_in_process_booking_fleet")
        if fbase:
            line += (
                f", in-process p50 {fbase['p50_ms']:.2f} ms "
                f"(HTTP/in-process {f['ratio_booking_fleet_p50_http_vs_in_process']:.1f}x)"
            )
    return f"{line} -> {path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="Comma-separated uvicorn worker counts.")
    parser.add_argument("--requests", type=int, default=2000, help="Plan requests per run.")
    parser.add_argument(
        "--bookings", type=int, default=400, help="Booking creations per run and dispatcher."
    )
    parser.add_argument(
        "--dispatcher",
        choices=("ledger", "fleet", "both"),
        default="both",
        help="Booking dispatcher: the seat-ledger test double, the real fleet, or both.",
    )
    parser.add_argument(
        "--reoptimise-s",
        type=float,
        default=3600.0,
        help="ELSTER_SHUTTLE_REOPTIMISE_S of the served app (3600: no periodic "
        "re-optimisation inside the measurement; 60 is the service default).",
    )
    parser.add_argument(
        "--server-root",
        type=Path,
        default=ROOT,
        help="Checkout whose app is served (default: this one); the in-process baseline "
        "always uses this checkout.",
    )
    parser.add_argument(
        "--database",
        default="sqlite",
        help="Comma-separated bookings databases to measure in this run: sqlite, postgres "
        "(a throwaway PostgreSQL server started for the run).",
    )
    args = parser.parse_args()
    databases = tuple(d.strip() for d in args.database.split(",") if d.strip())
    if not set(databases) <= {"sqlite", "postgres"}:
        parser.error(f"--database: unknown database in {args.database!r} (sqlite, postgres)")
    logging.basicConfig(level=logging.WARNING)
    dispatchers = ("ledger", "fleet") if args.dispatcher == "both" else (args.dispatcher,)
    result = run(
        [int(w) for w in args.workers.split(",")],
        args.requests,
        args.bookings,
        args.server_root.resolve(),
        dispatchers,
        args.reoptimise_s,
        databases,
    )
    path = write_result("api_load", result)
    print(summary(result, path))


if __name__ == "__main__":
    main()
