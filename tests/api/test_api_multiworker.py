"""Two uvicorn worker processes, one shuttle fleet and one live road state.

A real server (``uvicorn --workers 2``, the app factory ``api.app:create_app``)
with the fleet's online dispatcher on the Heidelberg car graph, bookings in
SQLite or PostgreSQL (each test runs on both), a small fleet
(3 vehicles, 3 seats) so capacity binds, and the background re-optimisation
running every 2 s. Many clients book at once over fresh connections (the
kernel spreads them over both workers). Whichever worker answers
``/fleet/vehicles`` must show every confirmed booking, none that was refused
or cancelled, and no vehicle over its capacity at any point of its plan; both
workers must show the same plans. A road closure posted to one worker changes
the next route answered by either worker, and lifting it restores the route.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from benchmarks.support.server import server_env as bench_server_env
from routing.polyline import decode_polyline
from tests.support.api import OPERATOR_KEY, free_port, start_server
from tests.support.shuttle_plans import DESTINATIONS, ORIGINS, SEATS, check_plans, shape

TZ = ZoneInfo("Europe/Berlin")
CLIENTS = 8
PER_CLIENT = 6


def server_env(tmp_path: Path, hd_data_dir: Path, cache_dir: Path, db_url: str) -> dict[str, str]:
    return bench_server_env(
        data_dir=hd_data_dir,
        cache_dir=cache_dir,
        database_url=db_url,
        api_keys=OPERATOR_KEY,
        live_path=tmp_path / "live.json",
        profiles="car,shuttle",
        shuttle_vehicles=3,
        shuttle_seats=SEATS,
        reoptimise_s=2,
    )


def plans_by_worker(base: str, want: int = 2, tries: int = 60) -> dict[str, list[dict]]:
    """``/fleet/vehicles`` from each worker (fresh connections until both answered)."""
    answers: dict[str, list[dict]] = {}
    for _ in range(tries):
        r = httpx.get(f"{base}/fleet/vehicles", headers={"X-API-Key": OPERATOR_KEY}, timeout=30)
        assert r.status_code == 200, r.text
        answers.setdefault(r.headers["x-elster-worker"], r.json())
        if len(answers) >= want:
            break
    return answers


def same_plans(base: str, rounds: int = 20) -> dict[str, list[dict]]:
    """Both workers' views, once they agree.

    The background re-optimisation (every 2 s) may improve the plans between
    the two answers; two answers taken with no change in between are equal.
    """
    for _ in range(rounds):
        answers = plans_by_worker(base)
        assert len(answers) == 2, "both workers should have answered /fleet/vehicles"
        first, second = answers.values()
        if shape(first) == shape(second):
            return answers
    pytest.fail(f"the workers' plans differ: {answers}")


@pytest.fixture
def two_workers(tmp_path, hd_data_dir, cache_dir, db_url):
    port = free_port()
    proc = start_server(
        port,
        server_env(tmp_path, hd_data_dir, cache_dir, db_url),
        tmp_path / "server.log",
        "api.app:create_app",
        workers=2,
    )
    try:
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except Exception:
            os.killpg(proc.pid, signal.SIGKILL)
    log = (tmp_path / "server.log").read_text()
    # No worker ever had to rebuild its plans (a replay that differed) or failed one.
    assert "rebuilding" not in log and "failed" not in log, log[-3000:]


def test_concurrent_bookings_on_two_workers_share_one_plan(two_workers):
    base = two_workers
    start = (datetime.now(TZ) + timedelta(minutes=45)).replace(second=0, microsecond=0)
    confirmed: dict[str, int] = {}  # booking id -> passengers
    tokens: dict[str, str] = {}
    refused: list[str] = []
    workers_booking: set[str] = set()
    errors: list[str] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        for i in range(PER_CLIENT):
            n = c * PER_CLIENT + i
            o, d = ORIGINS[n % len(ORIGINS)], DESTINATIONS[n % len(DESTINATIONS)]
            body = {
                "from": {"lat": o[0], "lon": o[1]},
                "to": {"lat": d[0], "lon": d[1]},
                "pickupAfter": (start + timedelta(minutes=3 * (n % 5))).isoformat(),
                "passengers": 1 + n % 2,
            }
            try:  # a new connection per request: both workers take bookings
                r = httpx.post(
                    f"{base}/shuttle/bookings",
                    json=body,
                    headers={"Idempotency-Key": f"multi-worker-{n:04d}"},
                    timeout=60,
                )
            except httpx.HTTPError as exc:
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                if r.status_code == 201:
                    confirmed[r.json()["id"]] = body["passengers"]
                    tokens[r.json()["id"]] = r.json()["token"]
                    workers_booking.add(r.headers["x-elster-worker"])
                elif r.status_code == 422 and "no shuttle" in r.json()["message"]:
                    refused.append(r.json()["message"])
                else:
                    errors.append(f"{r.status_code} {r.text[:300]}")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # 48 requests for 3 vehicles of 3 seats in 15 minutes: capacity binds.
    assert confirmed and refused, (len(confirmed), len(refused))
    assert len(workers_booking) == 2, "both worker processes should have taken bookings"

    for vehicles in same_plans(base).values():
        check_plans(vehicles, confirmed, set())

    # Cancel a third of the bookings through whichever worker; both drop them.
    cancelled = set(list(confirmed)[::3])
    for rid in cancelled:
        r = httpx.post(
            f"{base}/shuttle/bookings/{rid}/cancel",
            headers={"X-Booking-Token": tokens[rid]},
            timeout=30,
        )
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    kept = {rid: p for rid, p in confirmed.items() if rid not in cancelled}
    for vehicles in same_plans(base).values():
        check_plans(vehicles, kept, cancelled)


def _segments(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Consecutive point pairs of a line as rows (lat0, lon0, lat1, lon1)."""
    return np.column_stack([lats[:-1], lons[:-1], lats[1:], lons[1:]])


def _edge_first_segments(graph, edges: np.ndarray) -> np.ndarray:
    """Each edge's first piece (tail to its first shape point or head), both directions."""
    tails = graph.tail()
    rows = []
    for e in edges.tolist():
        a = int(graph.geom_first[e])
        t, h = int(tails[e]), int(graph.head[e])
        if graph.geom_first[e + 1] > a:
            nxt = (float(graph.geom_lat[a]), float(graph.geom_lon[a]))
        else:
            nxt = (float(graph.lat[h]), float(graph.lon[h]))
        rows.append((float(graph.lat[t]), float(graph.lon[t]), *nxt))
    return np.array(rows)


def _uses_any(route_segments: np.ndarray, edge_segments: np.ndarray, tol: float = 3e-6) -> bool:
    """Whether the route drives one of the edge pieces (either direction, polyline rounding)."""
    fwd = np.abs(route_segments[:, None, :] - edge_segments[None, :, :]).max(axis=2) <= tol
    back = edge_segments[:, [2, 3, 0, 1]]
    rev = np.abs(route_segments[:, None, :] - back[None, :, :]).max(axis=2) <= tol
    return bool((fwd | rev).any())


def _route(base: str) -> tuple[dict, str]:
    r = httpx.get(
        f"{base}/route",
        params={"fromPlace": "49.4094,8.6937", "toPlace": "49.3925,8.6890", "profile": "car"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json(), r.headers["x-elster-worker"]


def _routes_from_both(base: str, tries: int = 60) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for _ in range(tries):
        body, worker = _route(base)
        found.setdefault(worker, body)
        if len(found) == 2:
            break
    assert len(found) == 2, "both workers should have answered /route"
    return found


# The live road state is a file shared by the workers, not the database: one backend is enough.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_closure_posted_to_one_worker_reroutes_on_both(two_workers, hd_graphs):
    base = two_workers
    car = hd_graphs["car"]
    before, _ = _route(base)
    lats, lons = decode_polyline(before["legGeometry"]["points"], 6)
    segs = _segments(lats, lons)
    # The ways of the route's middle third: close one of them.
    tails = car.tail()
    mids = []
    for i in range(len(lats) // 3, 2 * len(lats) // 3):
        hit = np.flatnonzero(
            (np.abs(car.lat[tails] - lats[i]) < 3e-6) & (np.abs(car.lon[tails] - lons[i]) < 3e-6)
        )
        mids.extend(int(e) for e in hit)
    used = [e for e in mids if _uses_any(segs, _edge_first_segments(car, np.array([e])))]
    assert used, "could not find the route's edges in the car graph"
    way = int(car.way_id[used[len(used) // 2]])
    closed_edges = np.flatnonzero(car.way_id == way)
    closed = _edge_first_segments(car, closed_edges)
    assert _uses_any(segs, closed)

    headers = {"X-API-Key": OPERATOR_KEY}
    made = httpx.post(
        f"{base}/operations/closures",
        json={"way_ids": [way], "reason": "test: flooded", "id": "test-flood"},
        headers=headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    assert made.json()["edges_per_profile"]["car"] == closed_edges.size
    # The very next answers, from either worker, avoid the closed way.
    for worker, body in _routes_from_both(base).items():
        la, lo = decode_polyline(body["legGeometry"]["points"], 6)
        assert not _uses_any(_segments(la, lo), closed), f"worker {worker} used the closed way"
        assert body["duration"] >= before["duration"]
    layer = httpx.get(f"{base}/operations/closures.geojson", timeout=30).json()
    assert any(f["properties"].get("id") == "test-flood" for f in layer["features"])

    gone = httpx.delete(f"{base}/operations/closures/test-flood", headers=headers, timeout=30)
    assert gone.status_code == 204
    for body in _routes_from_both(base).values():
        assert body["legGeometry"]["points"] == before["legGeometry"]["points"]
        assert body["duration"] == before["duration"]


def _created_count(text: str) -> float:
    import re

    found = re.search(r'^elster_shuttle_bookings_total\{outcome="created"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_sum_every_worker_and_need_the_operator_key(two_workers):
    """Issue 17, finding 4: /metrics answered from whichever worker took the scrape."""
    base = two_workers
    pickup = datetime.now(TZ) + timedelta(hours=2)
    created, workers_booking = 0, set()
    for i in range(12):  # a new connection each: the kernel spreads them over both workers
        body = {"from": {"lat": ORIGINS[i % 4][0], "lon": ORIGINS[i % 4][1]},
                "to": {"lat": DESTINATIONS[i % 3][0], "lon": DESTINATIONS[i % 3][1]},
                "pickupAfter": (pickup + timedelta(minutes=20 * i)).isoformat()}  # fmt: skip
        r = httpx.post(f"{base}/shuttle/bookings", json=body, timeout=30)
        assert r.status_code in (201, 422), r.text
        if r.status_code == 201:
            created += 1
            workers_booking.add(r.headers["x-elster-worker"])
    assert created >= 2
    scrapes: dict[str, float] = {}
    for _ in range(40):
        r = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                      timeout=30)  # fmt: skip
        assert r.status_code == 200, r.text
        scrapes.setdefault(r.headers["x-elster-worker"], _created_count(r.text))
        if len(scrapes) == 2:
            break
    assert len(scrapes) == 2, "the scrapes never reached both workers"
    assert set(scrapes.values()) == {float(created)}, (scrapes, created, workers_booking)
    public = httpx.get(f"{base}/metrics", timeout=30)
    assert public.status_code == 401
