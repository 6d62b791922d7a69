"""Kill -9 the live server in the middle of a stream of bookings; nothing confirmed may be lost.

uvicorn runs in a subprocess on 127.0.0.1 (random free port) with two worker
processes, the fleet's real online dispatcher on the Heidelberg car graph and
bookings in SQLite (WAL) or PostgreSQL. The whole process group (supervisor and workers) is
killed with SIGKILL mid-stream; after a restart every booking that got a 2xx
is stored once, intact, and planned on a vehicle again (the restarted
dispatcher replays the dispatch log).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from api.storage.bookings import make_engine
from benchmarks.support.server import server_env as bench_server_env
from tests.support.api import OPERATOR_KEY, free_port, start_server

CLIENTS = 4
KILL_AFTER = 40  # confirmed bookings before the kill


@pytest.fixture
def server_env(tmp_path: Path, hd_data_dir: Path, cache_dir: Path, db_url: str) -> dict[str, str]:
    return bench_server_env(
        data_dir=hd_data_dir,
        cache_dir=cache_dir,
        database_url=db_url,
        api_keys=OPERATOR_KEY,
        live_path=tmp_path / "live.json",
        profiles="shuttle",
        shuttle_vehicles=40,
        shuttle_seats=8,
    )


def test_kill_9_during_booking_stream_loses_and_duplicates_nothing(server_env, tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}/api/v1"
    pickup = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(hours=2)).replace(microsecond=0)

    def body(i: int) -> dict:
        return {
            "from": {"lat": 49.40 + (i % 50) * 0.001, "lon": 8.69},
            "to": {"lat": 49.39, "lon": 8.68 + (i % 30) * 0.001},
            "pickupAfter": (pickup + timedelta(minutes=5 * (i % 24))).isoformat(),
            "passengers": 1 + i % 3,
        }

    confirmed: dict[str, dict] = {}  # key -> 2xx answer
    refused: set[str] = set()  # keys the dispatcher said no to (nothing stored)
    in_flight: dict[str, dict] = {}  # key -> body whose answer never came
    sent: dict[str, dict] = {}
    lock = threading.Lock()
    stop = threading.Event()
    unexpected: list[str] = []

    def client(worker: int) -> None:
        with httpx.Client(timeout=10) as http:
            i = 0
            while not stop.is_set():
                key = f"crash-{worker}-{i:05d}"
                payload = body(worker * 10_000 + i)
                with lock:
                    sent[key] = payload
                try:
                    r = http.post(
                        f"{base}/shuttle/bookings", json=payload, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError:
                    with lock:
                        in_flight[key] = payload
                    return
                with lock:
                    if r.status_code == 201:
                        confirmed[key] = r.json()
                    elif r.status_code == 422 and "no shuttle" in r.json()["message"]:
                        refused.add(key)
                    else:
                        unexpected.append(f"{key}: {r.status_code} {r.text[:200]}")
                        return
                i += 1

    proc = start_server(port, server_env, log, "api.app:create_app", workers=2)
    threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(confirmed) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # every worker, mid-stream: requests in flight
        proc.wait(timeout=10)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not unexpected, unexpected
    assert len(confirmed) >= KILL_AFTER

    proc = start_server(port, server_env, log, "api.app:create_app", workers=2)
    stored_in_flight = 0
    try:
        with httpx.Client(timeout=10) as http:
            # Every confirmed booking is still there, intact, readable with its token.
            for key, answer in confirmed.items():
                got = http.get(
                    f"{base}/shuttle/bookings/{answer['id']}",
                    headers={"X-Booking-Token": answer["token"]},
                )
                assert got.status_code == 200, (key, got.text)
                stored = got.json()
                assert stored["status"] == "confirmed"
                for field in ("from", "to", "passengers", "pickupAfter", "quote"):
                    assert stored[field] == answer[field], (key, field)
                # Re-sending the same key returns the same booking, not a new one.
                again = http.post(
                    f"{base}/shuttle/bookings", json=sent[key], headers={"Idempotency-Key": key}
                )
                assert again.status_code == 200
                assert again.json()["id"] == answer["id"]
                assert again.json()["token"] == answer["token"]
            # A request whose answer was lost is stored once or not at all; a retry settles it.
            for key, payload in in_flight.items():
                retry = http.post(
                    f"{base}/shuttle/bookings", json=payload, headers={"Idempotency-Key": key}
                )
                if retry.status_code == 422:  # not stored before the kill, and now refused
                    assert "no shuttle" in retry.json()["message"], retry.text
                    continue
                assert retry.status_code in (200, 201), retry.text
                stored_in_flight += 1
                confirmed[key] = retry.json()
                second = http.post(
                    f"{base}/shuttle/bookings", json=payload, headers={"Idempotency-Key": key}
                )
                assert second.status_code == 200
                assert second.json()["id"] == retry.json()["id"]
            open_requests = http.get(
                f"{base}/fleet/requests",
                params={"status": "all", "limit": 2000},
                headers={"X-API-Key": OPERATOR_KEY},
            ).json()
            vehicles = http.get(
                f"{base}/fleet/vehicles", headers={"X-API-Key": OPERATOR_KEY}
            ).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    expected = len(confirmed)  # the in-flight ones that ended stored were added to it
    assert len(open_requests) == expected
    assert {b["id"] for b in open_requests} == {a["id"] for a in confirmed.values()}
    # The restarted dispatcher planned every open booking again (log replayed).
    planned = {s["request"] for v in vehicles for s in v["stops"]}
    assert planned == {a["id"] for a in confirmed.values()}
    assert stored_in_flight <= len(in_flight)
    engine = make_engine(server_env["ELSTER_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            keys = [k for (k,) in conn.execute(sa.text("SELECT idempotency_key FROM bookings"))]
            assert len(keys) == len(set(keys)) == expected
            for (text,) in conn.execute(sa.text("SELECT request_json FROM bookings")):
                json.loads(text)
            events = conn.execute(sa.text("SELECT COUNT(*) FROM booking_events")).scalar()
            assert events == expected  # one 'confirmed' event per booking, none half-written
            logged = conn.execute(
                sa.text(
                    "SELECT COUNT(DISTINCT booking_id) FROM dispatch_log WHERE kind LIKE 'book%'"
                )
            ).scalar()
            assert logged == expected  # every stored booking is in the dispatch log, once
    finally:
        engine.dispose()
