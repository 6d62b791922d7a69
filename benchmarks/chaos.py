"""Load and chaos on 127.0.0.1: mixed traffic while workers are killed and PostgreSQL restarts.

A bounded run of the real app (``elster serve``'s process layout: the
``api.workers`` supervisor with two workers, the fleet's online dispatcher on
the Heidelberg car graph) with its bookings in a PostgreSQL 15 server started
for the run (:mod:`scripts.pg_test_server`). Twenty clients send mixed
traffic (bookings with Idempotency-Keys, reads and cancellations of their own
bookings, quotes, car routes, health checks, the operator's vehicle plans)
while

* ``kill -9`` hits a random worker every ``--kill-every`` seconds (the
  supervisor starts a new one), and
* the PostgreSQL server is restarted once (``pg_ctl restart -m fast``: every
  connection of every worker breaks).

What must hold, and is reported (``bench-results/chaos.json``):

* no acknowledged booking is lost or duplicated: after the run every 2xx
  booking is stored once, readable with its token, planned on a vehicle
  (or cancelled and planned nowhere) by every worker; a request whose
  answer was lost to a killed connection is settled by one retry with its key;
* no 5xx answer at all (a killed worker's connections fail without an answer;
  they are counted apart, as ``killed_connections``);
* the workers' RSS stays bounded (sampled every second): at most its first
  value plus what the dispatcher holds per open booking (``MB_PER_OPEN_BOOKING``,
  measured in-process) plus ``RSS_SLACK_MB``.

The supervisor stops the whole server when a worker dies less than 10 s after
its start (``api.workers.MIN_UPTIME_S``, issue 17 finding 1, fixed apart), so
only workers up for at least ``--min-uptime`` seconds are killed.

    .venv/bin/python -m benchmarks.chaos [--seconds 60] [--clients 20] [--kill-every 12]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from benchmarks.common import percentiles, write_result
from benchmarks.support.server import children, free_port, server_env, start_api

OPERATOR_KEY = "chaos-operator-key-0001"
ADMIN = {"X-API-Key": OPERATOR_KEY}
TZ = ZoneInfo("Europe/Berlin")
SEED = 17
#: Pickup and drop-off points (Heidelberg old town, Bergheim, Weststadt, Südstadt, Rohrbach).
POINTS = [
    (49.4094, 8.6937), (49.4105, 8.7060), (49.4075, 8.6900), (49.4120, 8.6990),
    (49.3925, 8.6890), (49.3990, 8.6720), (49.3850, 8.6800), (49.4010, 8.6850),
]  # fmt: skip
#: Request mix: kind -> weight.
MIX = {"book": 40, "read": 15, "cancel": 5, "quote": 10, "route": 20, "health": 5, "plans": 5}
CONNECTION_ERRORS = (httpx.TransportError,)  # refused, reset, closed mid-answer
#: What a worker's RSS may grow by per open booking: the fleet dispatcher's state
#: (measured in-process: 1,500 bookings on 40 shuttles, no HTTP, +250 MB = 0.17 MB each).
MB_PER_OPEN_BOOKING = 0.25
#: Growth allowed on top of that (allocator slack, answers in flight).
RSS_SLACK_MB = 150.0


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def started_at(pid: int) -> float:
    """Monotonic-comparable start instant of a process (seconds since boot)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def uptime_s() -> float:
    with open("/proc/uptime", encoding="ascii") as f:
        return float(f.read().split()[0])


class Ledger:
    """What the clients were told, by Idempotency-Key."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[str, dict[str, Any]] = {}  # key -> 2xx booking answer
        self.bodies: dict[str, dict[str, Any]] = {}  # key -> request body
        self.unanswered: set[str] = set()  # keys whose answer a killed connection lost
        self.refused = 0
        self.cancelled: set[str] = set()  # booking ids cancelled (answered 200)
        self.statuses: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.killed_connections: Counter[str] = Counter()
        self.server_errors: list[str] = []
        self.other_errors: list[str] = []
        self.latencies: list[float] = []


def trip(rng: random.Random, start: datetime) -> dict[str, Any]:
    o, d = rng.sample(POINTS, 2)
    when = start + timedelta(minutes=rng.randrange(0, 180))
    return {
        "from": {"lat": o[0], "lon": o[1]},
        "to": {"lat": d[0], "lon": d[1]},
        "pickupAfter": when.isoformat(),
        "passengers": rng.choice((1, 1, 2)),
    }


def client(c: int, base: str, ledger: Ledger, stop: threading.Event, start: datetime) -> None:
    """One client: a keep-alive connection, a new one after a failure."""
    rng = random.Random(SEED * 1000 + c)
    kinds, weights = zip(*MIX.items(), strict=True)
    mine: list[str] = []  # keys of this client's acknowledged bookings
    http = httpx.Client(timeout=60)
    n = 0
    while not stop.is_set():
        kind = rng.choices(kinds, weights)[0]
        if kind in ("read", "cancel") and not mine:
            kind = "book"
        key = f"chaos-{c:02d}-{n:05d}"
        n += 1
        t0 = time.perf_counter()
        try:
            r = _send(http, base, kind, key, rng, start, ledger, mine)
        except CONNECTION_ERRORS as exc:
            with ledger.lock:
                ledger.killed_connections[f"{kind}:{type(exc).__name__}"] += 1
                if kind == "book":
                    ledger.unanswered.add(key)
            http.close()
            http = httpx.Client(timeout=60)
            continue
        elapsed = time.perf_counter() - t0
        with ledger.lock:
            ledger.latencies.append(elapsed)
            ledger.by_kind[kind] += 1
            ledger.statuses[f"{kind}:{r.status_code}"] += 1
            if r.status_code >= 500:
                ledger.server_errors.append(f"{kind} {r.status_code} {r.text[:200]}")
            if kind == "book":
                if r.status_code in (200, 201):
                    ledger.acked[key] = r.json()
                    mine.append(key)
                elif r.status_code == 422 and "no shuttle" in r.json().get("message", ""):
                    ledger.refused += 1
                elif r.status_code < 500:
                    ledger.other_errors.append(f"book {r.status_code} {r.text[:200]}")
    http.close()


def _send(
    http: httpx.Client,
    base: str,
    kind: str,
    key: str,
    rng: random.Random,
    start: datetime,
    ledger: Ledger,
    mine: list[str],
) -> httpx.Response:
    api = f"{base}/api/v1"
    if kind == "book":
        body = trip(rng, start)
        with ledger.lock:
            ledger.bodies[key] = body
        return http.post(f"{api}/shuttle/bookings", json=body, headers={"Idempotency-Key": key})
    if kind in ("read", "cancel"):
        answer = ledger.acked[rng.choice(mine)]
        token = {"X-Booking-Token": answer["token"]}
        if kind == "read":
            return http.get(f"{api}/shuttle/bookings/{answer['id']}", headers=token)
        r = http.post(f"{api}/shuttle/bookings/{answer['id']}/cancel", headers=token)
        if r.status_code == 200:
            with ledger.lock:
                ledger.cancelled.add(answer["id"])
        return r
    if kind == "quote":
        return http.post(f"{api}/shuttle/quote", json=trip(rng, start))
    if kind == "route":
        o, d = rng.sample(POINTS, 2)
        params = {"fromPlace": f"{o[0]},{o[1]}", "toPlace": f"{d[0]},{d[1]}", "profile": "car"}
        return http.get(f"{api}/route", params=params)
    if kind == "plans":
        return http.get(f"{api}/fleet/vehicles", headers=ADMIN)
    return http.get(f"{api}/health")


def stored_bookings(database_url: str) -> list[dict[str, Any]]:
    """Every stored booking (id, key, status), read from the database itself."""
    import sqlalchemy as sa

    from api.storage.bookings import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, idempotency_key, status FROM bookings"))
            return [dict(r._mapping) for r in rows]
    finally:
        engine.dispose()


def verify(base: str, ledger: Ledger, workers: int, database_url: str) -> dict[str, Any]:
    """Settle unanswered bookings by a retry, then check storage and plans against the answers."""
    api = f"{base}/api/v1"
    problems: list[str] = []
    settled_stored = settled_refused = 0
    with httpx.Client(timeout=60) as http:
        for key in sorted(ledger.unanswered):
            r = http.post(
                f"{api}/shuttle/bookings", json=ledger.bodies[key], headers={"Idempotency-Key": key}
            )
            if r.status_code in (200, 201):
                ledger.acked[key] = r.json()
                settled_stored += 1
            elif r.status_code == 422 and "no shuttle" in r.json().get("message", ""):
                settled_refused += 1
            else:
                problems.append(f"retry of {key}: {r.status_code} {r.text[:200]}")
        for key, answer in ledger.acked.items():
            got = http.get(
                f"{api}/shuttle/bookings/{answer['id']}",
                headers={"X-Booking-Token": answer["token"]},
            )
            if got.status_code != 200:
                problems.append(f"acknowledged booking {key} unreadable: {got.status_code}")
                continue
            want = "cancelled" if answer["id"] in ledger.cancelled else None
            if want and got.json()["status"] != want:
                problems.append(f"{key}: cancelled but {got.json()['status']}")
            again = http.post(
                f"{api}/shuttle/bookings", json=ledger.bodies[key], headers={"Idempotency-Key": key}
            )
            if again.status_code != 200 or again.json()["id"] != answer["id"]:
                problems.append(f"{key}: a retry did not answer the same booking")
        plans: dict[str, list[dict[str, Any]]] = {}
        for _ in range(40):
            r = http.get(f"{api}/fleet/vehicles", headers=ADMIN)
            plans.setdefault(r.headers.get("x-elster-worker", "?"), r.json())
            http.close()
            http = httpx.Client(timeout=60)  # a new connection: another worker may answer
            if len(plans) >= workers:
                break
    stored = stored_bookings(database_url)
    acked_ids = {a["id"] for a in ledger.acked.values()}
    stored_ids = [b["id"] for b in stored]
    open_ids = {b["id"] for b in stored if b["status"] in ("confirmed", "assigned", "picked_up")}
    lost = acked_ids - set(stored_ids)
    keys = [b["idempotency_key"] for b in stored]
    duplicated = len(keys) - len(set(keys))
    extra = set(stored_ids) - acked_ids
    planned_ok = 0
    for worker, vehicles in plans.items():
        planned = [s["request"] for v in vehicles for s in v["stops"]]
        if set(planned) != open_ids or len(planned) != 2 * len(open_ids):
            problems.append(
                f"worker {worker}: plans hold {len(set(planned))} bookings, "
                f"{len(open_ids)} are open"
            )
        else:
            planned_ok += 1
    return {
        "acknowledged": len(acked_ids),
        "stored": len(stored_ids),
        "lost": len(lost),
        "duplicated": duplicated,
        "stored_without_acknowledgement": len(extra),
        "settled_by_retry": {"stored": settled_stored, "refused": settled_refused},
        "open": len(open_ids),
        "cancelled": len(ledger.cancelled),
        "workers_with_exact_plans": planned_ok,
        "workers_checked": len(plans),
        "problems": problems[:20],
    }


def run(
    *,
    seconds: float = 60.0,
    clients: int = 20,
    workers: int = 2,
    kill_every: float = 12.0,
    min_uptime: float = 12.0,
    restart_postgres_at: float = 0.5,
    vehicles: int = 40,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """One bounded chaos run; returns the figures and the checks (see the module docstring)."""
    from api.settings import Settings
    from scripts.pg_test_server import ThrowawayPostgres

    tmp = Path(tempfile.mkdtemp(prefix="elster-chaos-"))
    settings = Settings(region="heidelberg")
    data_dir = data_dir or settings.data_dir
    cache_dir = cache_dir or settings.cache_dir
    postgres = ThrowawayPostgres(durable=True)
    postgres.start()
    proc = None
    try:
        url = postgres.create_database()
        env = server_env(
            data_dir=data_dir,
            cache_dir=cache_dir,
            database_url=url,
            api_keys=OPERATOR_KEY,
            live_path=tmp / "live.json",
            profiles="shuttle",
            shuttle_vehicles=vehicles,
            shuttle_seats=8,
            reoptimise_s=5,
            # 20 load clients share one address: per-client limits would cap them.
            ELSTER_RATE_LIMIT_BOOKINGS="0",
            ELSTER_RATE_LIMIT_EXPENSIVE="0",
        )
        port = free_port()
        log = tmp / "server.log"
        proc = start_api(port, env, log, workers=workers)
        base = f"http://127.0.0.1:{port}"
        ledger = Ledger()
        stop = threading.Event()
        start = (datetime.now(TZ) + timedelta(minutes=60)).replace(second=0, microsecond=0)
        threads = [
            threading.Thread(target=client, args=(c, base, ledger, stop, start), daemon=True)
            for c in range(clients)
        ]
        rng = random.Random(SEED)
        events: list[dict[str, Any]] = []
        rss: list[dict[str, Any]] = []
        t0 = time.monotonic()
        for t in threads:
            t.start()
        next_kill = t0 + kill_every
        pg_restart = t0 + restart_postgres_at * seconds
        restarted = False
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            now = time.monotonic()
            pids = children(proc.pid)
            rss.append({"t": round(now - t0, 1), "mb": {p: round(rss_mb(p), 1) for p in pids}})
            if proc.poll() is not None:
                events.append({"t": round(now - t0, 1), "event": "server exited"})
                break
            if not restarted and now >= pg_restart:
                began = time.monotonic()
                postgres.restart(mode="fast")
                restarted = True
                events.append({"t": round(began - t0, 1), "event": "postgres restarted",
                               "down_s": round(time.monotonic() - began, 2)})  # fmt: skip
            if now >= next_kill:
                old = [p for p in pids if uptime_s() - started_at(p) >= min_uptime]
                if old:
                    victim = rng.choice(old)
                    os.kill(victim, signal.SIGKILL)
                    events.append({"t": round(now - t0, 1), "event": f"kill -9 worker {victim}"})
                    next_kill = now + kill_every
        stop.set()
        for t in threads:
            t.join(timeout=90)
        server_alive = proc.poll() is None
        # Every worker back and answering before the check.
        if server_alive:
            deadline = time.monotonic() + 120
            while len(children(proc.pid)) < workers and time.monotonic() < deadline:
                time.sleep(0.5)
            seen: set[str] = set()
            while len(seen) < workers and time.monotonic() < deadline:
                try:
                    r = httpx.get(f"{base}/api/v1/health", timeout=5)
                    seen.add(r.headers.get("x-elster-worker", ""))
                except httpx.HTTPError:
                    time.sleep(0.5)
        checks = (
            verify(base, ledger, workers, url) if server_alive else {"problems": ["server died"]}
        )
        first = [v for s in rss[:5] for v in s["mb"].values()]
        every = [v for s in rss for v in s["mb"].values()]
        last = [v for s in rss[-3:] for v in s["mb"].values()]
        log_text = log.read_text(errors="replace")
        return {
            "seconds": seconds,
            "clients": clients,
            "workers": workers,
            "mix": MIX,
            "requests": sum(ledger.by_kind.values()),
            "by_kind": dict(ledger.by_kind),
            "statuses": dict(sorted(ledger.statuses.items())),
            "latency": percentiles(ledger.latencies) if ledger.latencies else {},
            "bookings_refused_full": ledger.refused,
            "killed_connections": dict(ledger.killed_connections),
            "server_errors_5xx": len(ledger.server_errors),
            "server_error_samples": ledger.server_errors[:10],
            "other_errors": ledger.other_errors[:10],
            "events": events,
            "kills": sum(1 for e in events if e["event"].startswith("kill")),
            "postgres_restarts": sum(1 for e in events if e["event"] == "postgres restarted"),
            "server_alive": server_alive,
            "rss_mb": {
                "first_5_s_max": max(first, default=0.0),
                "max": max(every, default=0.0),
                "last_3_s_max": max(last, default=0.0),
                # (second, largest worker) every 5 s: growth with the bookings held?
                "series": [(s["t"], max(s["mb"].values(), default=0.0)) for s in rss[::5]],
            },
            "database_redos_logged": log_text.count("redoing it"),
            "checks": checks,
        }
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        postgres.stop()


def passed(result: dict[str, Any]) -> list[str]:
    """What failed (empty: the run met every expectation)."""
    checks = result["checks"]
    failed = list(checks.get("problems", []))
    if not result["server_alive"]:
        failed.append("the server exited")
    if result["server_errors_5xx"]:
        failed.append(f"{result['server_errors_5xx']} answers with 5xx")
    for what in ("lost", "duplicated", "stored_without_acknowledgement"):
        if checks.get(what):
            failed.append(f"{checks[what]} bookings {what}")
    if result["other_errors"]:
        failed.append(f"unexpected 4xx on bookings: {result['other_errors'][:3]}")
    rss = result["rss_mb"]
    bound = rss["first_5_s_max"] + MB_PER_OPEN_BOOKING * checks.get("open", 0) + RSS_SLACK_MB
    if rss["max"] > bound:
        failed.append(f"worker RSS {rss['max']:.0f} MB above the bound {bound:.0f} MB")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=12.0)
    parser.add_argument("--min-uptime", type=float, default=12.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run(
        seconds=args.seconds,
        clients=args.clients,
        workers=args.workers,
        kill_every=args.kill_every,
        min_uptime=args.min_uptime,
    )
    failed = passed(result)
    result["failed"] = failed
    path = write_result("chaos", result)
    c, rss = result["checks"], result["rss_mb"]
    print(
        f"chaos: {result['requests']} requests in {result['seconds']:.0f} s, "
        f"{result['kills']} workers killed, {result['postgres_restarts']} PostgreSQL restart; "
        f"5xx {result['server_errors_5xx']}, killed connections "
        f"{sum(result['killed_connections'].values())}; bookings acknowledged "
        f"{c.get('acknowledged')}, lost {c.get('lost')}, duplicated {c.get('duplicated')}; "
        f"RSS max {rss['max']:.0f} MB (first 5 s {rss['first_5_s_max']:.0f} MB); "
        f"{'PASS' if not failed else 'FAIL: ' + '; '.join(failed)} -> {path}"
    )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
