"""Kill -9 every worker in the middle of a stream of vehicle reports; none lost, none doubled.

Two uvicorn workers run the live dispatcher on Heidelberg's shuttle network
(clock file, SQLite WAL or PostgreSQL). Four vehicles stream GPS fixes; the
process group is killed with SIGKILL mid-stream. After a restart, every
report that got a 2xx is stored once, every report whose answer was lost is
settled by resending it with the same ``reportId`` (applied once, or
answered as a replay), and the restarted dispatcher has every vehicle on
shift where its last applied fix put it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from api.clock import write_clock
from api.storage.bookings import make_engine
from benchmarks.support.server import server_env as bench_server_env
from tests.support.api import OPERATOR_KEY, free_port, start_server

TZ = ZoneInfo("Europe/Berlin")
OPS = {"X-API-Key": OPERATOR_KEY}
VEHICLES = ("V001", "V002", "V003", "V004")
STARTS = ((49.4094, 8.6937), (49.3925, 8.6890), (49.4035, 8.6760), (49.3990, 8.6720))
KILL_AFTER = 60  # applied fixes before the kill


@pytest.fixture
def env(tmp_path: Path, hd_data_dir: Path, cache_dir: Path, db_url: str) -> dict[str, str]:
    clock = tmp_path / "clock"
    write_clock(clock, float(int(time.time())))
    return bench_server_env(
        data_dir=hd_data_dir, cache_dir=cache_dir, database_url=db_url, api_keys=OPERATOR_KEY,
        live_path=tmp_path / "live.json", profiles="shuttle", shuttle_vehicles=len(VEHICLES),
        reoptimise_s=0, ELSTER_SHUTTLE_OPERATION="live", ELSTER_CLOCK_FILE=str(clock),
    )  # fmt: skip


def test_kill_9_during_vehicle_reports_loses_and_duplicates_nothing(env, tmp_path) -> None:
    now = float(Path(env["ELSTER_CLOCK_FILE"]).read_text())
    port = free_port()
    log = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}/api/v1"

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, TZ).isoformat()

    proc = start_server(port, env, log, "api.app:create_app", workers=2)
    tokens: dict[str, dict[str, str]] = {}
    applied: dict[str, dict] = {}  # reportId -> body, answered 2xx
    in_flight: dict[str, tuple[str, dict]] = {}  # reportId -> (vehicle, body) never answered
    lock = threading.Lock()
    stop = threading.Event()
    unexpected: list[str] = []
    try:
        with httpx.Client(timeout=10) as http:
            for vehicle, (lat, lon) in zip(VEHICLES, STARTS, strict=True):
                got = http.post(f"{base}/fleet/vehicles/{vehicle}/credential", headers=OPS)
                tokens[vehicle] = {"X-Vehicle-Token": got.json()["token"]}
                started = http.post(
                    f"{base}/vehicles/{vehicle}/shift/start", headers=tokens[vehicle],
                    json={"reportId": f"{vehicle}-start", "ts": iso(now - 290), "lat": lat,
                          "lon": lon, "seats": 4},
                )  # fmt: skip
                assert started.status_code == 200, started.text

        def stream(k: int) -> None:
            vehicle, (lat, lon) = VEHICLES[k], STARTS[k]
            with httpx.Client(timeout=10) as http:
                i = 0
                while not stop.is_set():
                    rid = f"{vehicle}-fix-{i:05d}"
                    body = {"reportId": rid, "ts": iso(now - 280 + 0.05 * i),
                            "lat": lat + 0.0001 * (i % 5), "lon": lon}  # fmt: skip
                    try:
                        r = http.post(f"{base}/vehicles/{vehicle}/positions", json=body,
                                      headers=tokens[vehicle])  # fmt: skip
                    except httpx.HTTPError:
                        with lock:
                            in_flight[rid] = (vehicle, body)
                        return
                    with lock:
                        if r.status_code == 200 and not r.json()["replayed"]:
                            applied[rid] = body
                        else:
                            unexpected.append(f"{rid}: {r.status_code} {r.text[:200]}")
                            return
                    i += 1

        threads = [threading.Thread(target=stream, args=(k,)) for k in range(len(VEHICLES))]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(applied) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        for t in threads if "threads" in locals() else ():
            t.join(timeout=30)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not unexpected, unexpected
    assert len(applied) >= KILL_AFTER

    proc = start_server(port, env, log, "api.app:create_app", workers=2)
    try:
        with httpx.Client(timeout=10) as http:
            # an answer lost in the kill: resending settles it, once
            for rid, (vehicle, body) in in_flight.items():
                first = http.post(f"{base}/vehicles/{vehicle}/positions", json=body,
                                  headers=tokens[vehicle])  # fmt: skip
                assert first.status_code == 200, first.text
                again = http.post(f"{base}/vehicles/{vehicle}/positions", json=body,
                                  headers=tokens[vehicle])  # fmt: skip
                assert again.status_code == 200 and again.json()["replayed"], again.text
                applied[rid] = body
            # an applied report sent again is a replay, not a second fix
            for rid, body in list(applied.items())[:10]:
                vehicle = rid.split("-")[0]
                again = http.post(f"{base}/vehicles/{vehicle}/positions", json=body,
                                  headers=tokens[vehicle])  # fmt: skip
                assert again.status_code == 200 and again.json()["replayed"], again.text
            vehicles = {v["id"]: v for v in http.get(f"{base}/fleet/vehicles", headers=OPS).json()}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    last_fix = {}
    for rid, body in sorted(applied.items()):
        last_fix[rid.split("-")[0]] = body
    for vehicle in VEHICLES:
        v = vehicles[vehicle]
        assert v["on_shift"] is True
        if vehicle in last_fix:
            assert (v["lat"], v["lon"]) == (last_fix[vehicle]["lat"], last_fix[vehicle]["lon"])
    engine = make_engine(env["ELSTER_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            ids = [r for (r,) in conn.execute(sa.text("SELECT report_id FROM vehicle_reports"))]
            fixes = [r for r in ids if "-fix-" in r]
            assert len(fixes) == len(set(fixes)) == len(applied)
            assert set(fixes) == set(applied)
            logged = conn.execute(
                sa.text("SELECT COUNT(*) FROM dispatch_log WHERE kind = 'vehicle_report'")
            ).scalar()
            assert logged == len(ids)  # each stored report is in the dispatch log, once
    finally:
        engine.dispose()
