"""Two worker processes, one GTFS-RT feed: fetched by one leader, the same version everywhere.

A real server (``api.workers``, 2 workers) on a copy of the Heidelberg region
file with a ``[live.tu]`` table pointing at a local feed server. The delay
the feed announces must reach the departure board of both workers, both must
report the same feed version, and only one of them polls the feed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
from google.transit import gtfs_realtime_pb2

from routing.regions import PROJECT_ROOT
from tests.support.api import free_port, start_server
from tests.support.feed_server import FeedServer

WHEN = "2022-09-14T08:00"


def message(trip: str | None = None, stop: str | None = None, delay: int = 0) -> bytes:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    if trip:
        entity = msg.entity.add()
        entity.id = "1"
        entity.trip_update.trip.trip_id = trip
        stu = entity.trip_update.stop_time_update.add()
        stu.stop_id = stop
        stu.departure.delay = delay
    return msg.SerializeToString()


def by_worker(url: str, want: int = 2, tries: int = 80, **params) -> dict[str, dict]:
    """One answer per worker process (fresh connections until both answered)."""
    seen: dict[str, dict] = {}
    for _ in range(tries):
        r = httpx.get(url, params=params, timeout=10)
        assert r.status_code == 200, r.text
        seen[r.headers["x-elster-worker"]] = r.json()
        if len(seen) >= want:
            break
    assert len(seen) >= want, f"only {len(seen)} worker(s) answered"
    return seen


def test_two_workers_share_one_feed(tmp_path: Path, hd_data_dir: Path, cache_dir: Path) -> None:
    with FeedServer() as feeds:
        feeds.set("/tu.pb", body=message())
        region = tmp_path / "heidelberg-live.toml"
        region.write_text(
            (PROJECT_ROOT / "regions" / "heidelberg.toml").read_text()
            + f'\n[live.tu]\nkind = "gtfs_rt_trip_updates"\nurl = "{feeds.url("/tu.pb")}"\n'
            "interval_s = 1\ntimeout_s = 1\nmax_age_s = 60\n"
        )
        env = dict(os.environ)
        env.update(
            ELSTER_REGION=str(region),
            ELSTER_DATA_DIR=str(hd_data_dir),
            ELSTER_CACHE_DIR=str(cache_dir),
            ELSTER_DATABASE_URL=f"sqlite:///{tmp_path / 'bookings.db'}",
            ELSTER_LIVE_PATH=str(tmp_path / "live.json"),
            ELSTER_PROFILES="walk",
            ELSTER_WHEELCHAIR="false",
            ELSTER_SHUTTLE_VEHICLES="0",
            PYTHONPATH=str(PROJECT_ROOT),
        )
        # The spool lives in the data directory: keep this test's apart.
        spool = hd_data_dir / "live" / "feeds" / "heidelberg"
        for old in spool.glob("tu.*"):
            old.unlink()
        port = free_port()
        proc = start_server(
            port, env, tmp_path / "server.log", factory="api.app:create_app", workers=2
        )
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            stop = httpx.get(f"{base}/stops", params={"name": "Bismarckplatz"}).json()[0]["id"]
            board = httpx.get(f"{base}/departures", params={"stopId": stop, "time": WHEN}).json()
            trip = board["departures"][0]["tripId"]
            feeds.set("/tu.pb", body=message(trip, stop, 180))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                boards = by_worker(f"{base}/departures", stopId=stop, time=WHEN, limit=20)
                delays = [
                    next((d["delay"] for d in b["departures"] if d["tripId"] == trip), None)
                    for b in boards.values()
                ]
                if delays == [180, 180]:
                    break
                time.sleep(0.3)
            assert delays == [180, 180]
            health = by_worker(f"{base}/health")
            rows = [next(f for f in h["feeds"] if f["key"] == "tu") for h in health.values()]
            assert sorted(r["leader"] for r in rows) == [False, True]
            assert all(r["ok"] for r in rows)
            versions = {r["version"] for r in rows}
            if len(versions) > 1:  # a poll landed between the two answers: ask again
                health = by_worker(f"{base}/health")
                rows = [next(f for f in h["feeds"] if f["key"] == "tu") for h in health.values()]
                versions = {r["version"] for r in rows}
            assert len(versions) == 1
            # One poller: about one request per second of uptime, not two.
            started = time.monotonic()
            before = len(feeds.hits("/tu.pb"))
            time.sleep(3)
            polls = len(feeds.hits("/tu.pb")) - before
            assert polls <= (time.monotonic() - started) / 1.0 + 2
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
