"""Two hosts, one database: two ``elster serve`` instances on one PostgreSQL keep one shuttle plan.

Two ``elster serve`` processes (each with two workers) on two ports stand in
for two machines behind a load balancer; both point at one PostgreSQL
database and share nothing else (each has its own live-state file). A small
fleet (3 vehicles, 3 seats) makes capacity bind. Clients book through both
hosts at once:

* no vehicle is over-booked, and every host's plans (every worker's) hold
  exactly the confirmed bookings, none refused or cancelled;
* a booking made on one host is read and cancelled on the other with its token;
* host A is killed with SIGKILL (all its processes) mid-stream: host B goes on
  serving, a retry on B of every request whose answer was lost settles it,
  and B's plans, then the restarted A's, hold every confirmed booking.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from benchmarks.support.server import server_env
from tests.support.api import OPERATOR_KEY, free_port, start_server
from tests.support.shuttle_plans import DESTINATIONS, ORIGINS, SEATS, check_plans, shape

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TZ = ZoneInfo("Europe/Berlin")
ADMIN = {"X-API-Key": OPERATOR_KEY}


class Host:
    """One ``elster serve`` instance (a stand-in for one machine)."""

    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.log = tmp_path / f"host-{name}.log"
        self.env = {**env, "ELSTER_LIVE_PATH": str(tmp_path / f"live-{name}.json")}
        self.proc = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "api", "serve", "heidelberg",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2",
            "--log-level", "warning",
        ]  # fmt: skip
        self.proc = start_server(self.port, self.env, self.log, workers=2, command=command)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except Exception:
                self.kill()

    def plans(self) -> dict[str, list[dict]]:
        """``/fleet/vehicles`` from each of the host's two workers."""
        answers: dict[str, list[dict]] = {}
        for _ in range(60):
            r = httpx.get(f"{self.base}/fleet/vehicles", headers=ADMIN, timeout=30)
            assert r.status_code == 200, r.text
            answers.setdefault(r.headers["x-elster-worker"], r.json())
            if len(answers) == 2:
                break
        assert len(answers) == 2, f"host {self.name}: both workers should have answered"
        return answers


@pytest.fixture
def hosts(tmp_path, hd_data_dir, cache_dir, pg_server):
    url = pg_server.create_database()
    env = server_env(
        data_dir=hd_data_dir,
        cache_dir=cache_dir,
        database_url=url,
        api_keys=OPERATOR_KEY,
        profiles="shuttle",
        shuttle_vehicles=3,
        shuttle_seats=SEATS,
        reoptimise_s=2,
    )
    pair = [Host("a", tmp_path, env), Host("b", tmp_path, env)]
    try:
        for host in pair:
            host.start()
        yield pair
    finally:
        for host in pair:
            host.stop()
        pg_server.drop_database(url)
    for host in pair:
        log = host.log.read_text()
        assert "rebuilding" not in log and "failed" not in log, log[-3000:]


def same_plans_everywhere(hosts: list[Host], rounds: int = 20) -> list[list[dict]]:
    """Every worker's plans of every live host, once they agree (re-optimisation runs every 2 s)."""
    views: list[list[dict]] = []
    for _ in range(rounds):
        views = [v for host in hosts for v in host.plans().values()]
        if all(shape(v) == shape(views[0]) for v in views):
            return views
    pytest.fail(f"the hosts' plans differ: {views}")


def trip(n: int, start: datetime) -> dict:
    o, d = ORIGINS[n % len(ORIGINS)], DESTINATIONS[n % len(DESTINATIONS)]
    return {
        "from": {"lat": o[0], "lon": o[1]},
        "to": {"lat": d[0], "lon": d[1]},
        "pickupAfter": (start + timedelta(minutes=3 * (n % 5))).isoformat(),
        "passengers": 1 + n % 2,
    }


class Traffic:
    """Booking clients, each sending to one host; answers sorted by outcome."""

    def __init__(self) -> None:
        self.confirmed: dict[str, dict] = {}  # booking id -> answer
        self.passengers: dict[str, int] = {}
        self.refused: list[str] = []
        self.lost: dict[str, dict] = {}  # Idempotency-Key -> body whose answer never came
        self.errors: list[str] = []
        self.by_host: dict[str, int] = {}
        self.lock = threading.Lock()

    def book(self, host: Host, key: str, body: dict) -> bool:
        """One booking over a new connection; False when the host is gone."""
        try:
            r = httpx.post(
                f"{host.base}/shuttle/bookings",
                json=body,
                headers={"Idempotency-Key": key},
                timeout=60,
            )
        except httpx.HTTPError:
            with self.lock:
                self.lost[key] = body
            return False
        with self.lock:
            self.record(host.name, r, body)
        return True

    def record(self, host: str, r: httpx.Response, body: dict) -> None:
        if r.status_code in (200, 201):
            self.confirmed[r.json()["id"]] = r.json()
            self.passengers[r.json()["id"]] = body["passengers"]
            self.by_host[host] = self.by_host.get(host, 0) + 1
        elif r.status_code == 422 and "no shuttle" in r.json()["message"]:
            self.refused.append(r.json()["message"])
        else:
            self.errors.append(f"{host}: {r.status_code} {r.text[:300]}")


def test_two_hosts_on_one_postgres_keep_one_plan_and_survive_a_killed_host(hosts):
    a, b = hosts
    start = (datetime.now(TZ) + timedelta(minutes=45)).replace(second=0, microsecond=0)
    traffic = Traffic()

    # 1. Concurrent bookings to both hosts: capacity binds, nobody is over-booked.
    def client(c: int) -> None:
        for i in range(6):
            n = c * 6 + i
            # Each host gets every kind of trip (a trip kind alternates with n).
            traffic.book(hosts[(n // 2) % 2], f"two-hosts-{n:04d}", trip(n, start))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not traffic.errors and not traffic.lost, (traffic.errors, traffic.lost)
    assert traffic.confirmed and traffic.refused, (len(traffic.confirmed), len(traffic.refused))
    assert set(traffic.by_host) == {"a", "b"}, "both hosts should have taken bookings"
    for vehicles in same_plans_everywhere(hosts):
        check_plans(vehicles, traffic.passengers, set())

    # 2. A booking made on A is read and cancelled on B with its token.
    cancelled = set()
    for rid, answer in list(traffic.confirmed.items())[::3]:
        token = {"X-Booking-Token": answer["token"]}
        got = httpx.get(f"{b.base}/shuttle/bookings/{rid}", headers=token, timeout=30)
        assert got.status_code == 200 and got.json()["status"] == "confirmed", got.text
        r = httpx.post(f"{b.base}/shuttle/bookings/{rid}/cancel", headers=token, timeout=30)
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        cancelled.add(rid)
    kept = {rid: p for rid, p in traffic.passengers.items() if rid not in cancelled}
    for vehicles in same_plans_everywhere(hosts):
        check_plans(vehicles, kept, cancelled)

    # 3. kill -9 host A mid-stream; B goes on, nothing acknowledged is lost.
    later = start + timedelta(minutes=30)
    stop = threading.Event()

    def stream(c: int) -> None:
        n = 1000 + c * 1000
        while not stop.is_set() and n < 1000 + c * 1000 + 200:
            host = hosts[n % 2]
            if not traffic.book(host, f"two-hosts-{n:05d}", trip(n, later)) and host is b:
                return
            n += 1

    threads = [threading.Thread(target=stream, args=(c,)) for c in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    before = len(traffic.confirmed)
    while len(traffic.confirmed) + len(traffic.refused) < before + 40:
        assert time.monotonic() < deadline, "the booking stream stalled"
        time.sleep(0.01)
    a.kill()
    time.sleep(0.5)  # B goes on taking the stream's bookings meanwhile
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not traffic.errors, traffic.errors
    assert traffic.lost, "requests to the killed host should have failed"
    # Every request whose answer was lost (sent to A) is settled by a retry on B.
    for key, body in sorted(traffic.lost.items()):
        r = httpx.post(
            f"{b.base}/shuttle/bookings", json=body, headers={"Idempotency-Key": key}, timeout=60
        )
        traffic.record("b", r, body)
    assert not traffic.errors, traffic.errors
    kept = {rid: p for rid, p in traffic.passengers.items() if rid not in cancelled}
    listed = httpx.get(
        f"{b.base}/fleet/requests", params={"status": "all", "limit": 2000}, headers=ADMIN
    ).json()
    open_ids = {r["id"] for r in listed if r["status"] in ("confirmed", "assigned", "picked_up")}
    assert open_ids == set(kept)  # stored once each: nothing lost, nothing extra
    for vehicles in same_plans_everywhere([b]):
        check_plans(vehicles, kept, cancelled)
    a.start()  # the restarted host replays the log and holds the same plans
    for vehicles in same_plans_everywhere(hosts):
        check_plans(vehicles, kept, cancelled)
