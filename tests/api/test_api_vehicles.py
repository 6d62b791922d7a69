"""Real vehicles over HTTP: credentials, shifts, GPS fixes, stop events, passengers' live view.

The server runs the live dispatcher on Heidelberg's shuttle network, on a
clock file the test moves by hand (``ELSTER_CLOCK_FILE``), as the vehicle
simulator does.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.clock import write_clock
from api.state import load_state
from tests.support.api import hd_settings
from tests.support.live_day import NEAR_A, OPS, A, B, LiveDay


@pytest.fixture
def day(db_url: str, hd_data_dir: Path, cache_dir: Path, tmp_path: Path):
    t0 = float(int(time.time()))
    clock_file = tmp_path / "clock"
    write_clock(clock_file, t0)
    settings = hd_settings(
        hd_data_dir, cache_dir, db_url, profiles="shuttle", transit=False, shuttle_vehicles=3,
        shuttle_operation="live", clock_file=clock_file, shuttle_reoptimise_s=0,
        shuttle_no_show_wait_s=120,
    )  # fmt: skip
    state = load_state(settings)
    assert state.component("shuttle").ready, state.component("shuttle").detail
    with TestClient(create_app(settings, state=state)) as client:
        yield LiveDay(client, clock_file, t0)


def test_a_driver_serves_a_booking_and_the_passenger_follows_it(day: LiveDay) -> None:
    v1 = day.credential("V001")
    refused = day.client.post(
        "/api/v1/shuttle/quote",
        json={"from": {"lat": A[0], "lon": A[1]}, "to": {"lat": B[0], "lon": B[1]},
              "pickupAfter": day.iso(day.t + 60)},
    ).json()  # fmt: skip
    assert refused["accepted"] is False  # nobody is on shift yet
    start = day.report("V001", "shift/start", v1, lat=NEAR_A[0], lon=NEAR_A[1], seats=4,
                       wheelchairs=1)  # fmt: skip
    assert start.status_code == 200 and start.json()["applied"], start.text
    booking = day.book()
    day.at(day.t + 20)
    assert day.report("V001", "positions", v1, lat=NEAR_A[0], lon=NEAR_A[1]).status_code == 200
    manifest = day.client.get("/api/v1/vehicles/V001/manifest", headers=v1).json()
    pickup = manifest["stops"][0]
    assert (pickup["booking"], pickup["kind"]) == (booking["id"], "pickup")
    passenger = day.read(booking)
    assert pickup["pickupCode"] == passenger["pickupCode"] and len(pickup["pickupCode"]) == 4
    assert passenger["status"] in ("assigned", "arriving")
    assert passenger["live"]["vehicleId"] == "V001"
    assert passenger["live"]["position"] == {"lat": NEAR_A[0], "lon": NEAR_A[1]}
    day.at(day.t + 120)
    assert day.report("V001", "events", v1, kind="arrived", booking=booking["id"],
                      stop="pickup").status_code == 200  # fmt: skip
    boarded = day.report("V001", "events", v1, kind="picked_up", booking=booking["id"],
                         passengers=1)  # fmt: skip
    assert boarded.status_code == 200, boarded.text
    # the same report again (a retry after a lost answer) counts once
    again = day.client.post(
        "/api/v1/vehicles/V001/events", headers=v1,
        json={"reportId": "retry-0001", "ts": day.iso(), "kind": "arrived",
              "booking": booking["id"], "stop": "dropoff"},
    )  # fmt: skip
    replay = day.client.post(
        "/api/v1/vehicles/V001/events", headers=v1,
        json={"reportId": "retry-0001", "ts": day.iso(), "kind": "arrived",
              "booking": booking["id"], "stop": "dropoff"},
    )  # fmt: skip
    assert again.status_code == replay.status_code == 200
    assert (again.json()["replayed"], replay.json()["replayed"]) == (False, True)
    assert day.read(booking)["status"] == "picked_up"
    day.at(day.t + 600)
    done = day.report("V001", "events", v1, kind="dropped_off", booking=booking["id"])
    assert done.status_code == 200, done.text
    final = day.read(booking)
    statuses = [e["status"] for e in final["events"]]
    assert final["status"] == "completed" and final["live"] is None
    assert statuses[0] == "confirmed" and statuses[-2:] == ["picked_up", "completed"]
    assert "arriving" in statuses and statuses.count("picked_up") == 1
    kpis = day.client.get("/api/v1/fleet/kpis", headers=OPS).json()
    assert kpis["served"] == 1 and kpis["refused"] >= 0 and kpis["vehicleKm"] >= 0
    vehicles = day.client.get("/api/v1/fleet/vehicles", headers=OPS).json()
    assert vehicles[0]["id"] == "V001"
    end = day.report("V001", "shift/end", v1)
    assert end.status_code == 200, end.text


def test_each_vehicle_reports_only_with_its_own_credential(day: LiveDay) -> None:
    v1, v2 = day.credential("V001"), day.credential("V002")
    body = {"lat": NEAR_A[0], "lon": NEAR_A[1], "seats": 4}
    assert day.report("V001", "shift/start", {}, **body).status_code == 401
    wrong = day.report("V001", "shift/start", v2, **body)
    assert wrong.status_code == 401 and "V001" in wrong.json()["message"]
    assert day.client.post("/api/v1/fleet/vehicles/V001/credential").status_code == 401
    unknown = day.client.post("/api/v1/fleet/vehicles/V999/credential", headers=OPS)
    assert unknown.status_code == 404 and "V001" in unknown.json()["fix"]
    never = day.report("V003", "positions", v1, lat=NEAR_A[0], lon=NEAR_A[1])
    assert never.status_code == 404 and "V003" in never.json()["message"]
    fresh = day.credential("V001")  # a new credential revokes the old one
    assert day.report("V001", "shift/start", v1, **body).status_code == 401
    assert day.report("V001", "shift/start", fresh, **body).status_code == 200


def test_bad_reports_get_a_clear_4xx_and_store_nothing(day: LiveDay) -> None:
    v1 = day.credential("V001")
    day.report("V001", "shift/start", v1, lat=NEAR_A[0], lon=NEAR_A[1], seats=4)
    booking = day.book()
    day.at(day.t + 30)
    assert day.report("V001", "positions", v1, lat=NEAR_A[0], lon=NEAR_A[1]).status_code == 200
    before = day.read(booking)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        # (path, body, status, words in the message)
        ("positions", {"lat": 49.85, "lon": 8.65}, 422, "outside"),  # ~50 km north
        ("positions", {"lat": 49.3925, "lon": 8.6890, "ts": day.iso(day.t + 1)}, 422,
         "physically impossible"),
        ("positions", {"lat": NEAR_A[0], "lon": NEAR_A[1], "ts": day.iso(day.t + 3600)}, 422,
         "future"),
        ("positions", {"lat": NEAR_A[0], "lon": NEAR_A[1], "ts": day.iso(day.t - 10)}, 409,
         "not newer"),
        ("positions", {"lat": NEAR_A[0], "lon": NEAR_A[1], "ts": "2026-12-03T10:00:00"}, 422,
         "timezone"),
        ("events", {"kind": "picked_up", "booking": booking["id"], "passengers": 1}, 409,
         "picked_up before arrived"),
        ("events", {"kind": "dropped_off", "booking": booking["id"]}, 409,
         "dropped_off without picked_up"),
        ("events", {"kind": "arrived", "booking": str(uuid.uuid4()), "stop": "pickup"}, 404,
         "no booking"),
        ("events", {"kind": "arrived", "stop": "pickup"}, 422, "needs the booking"),
        ("events", {"kind": "teleported", "booking": booking["id"]}, 422, "kind"),
        ("positions", {"lat": NEAR_A[0], "lon": NEAR_A[1], "reportId": "x"}, 422, "reportId"),
    ]  # fmt: skip
    for path, body, status, words in cases:
        got = day.report("V001", path, v1, **body)
        assert got.status_code == status, (body, got.text)
        answer = got.json()
        text = json.dumps(answer).lower()
        assert words.lower() in text, (body, answer)
        assert answer.get("fix"), answer
    after = day.read(booking)
    assert after["status"] == before["status"] and after["events"] == before["events"]
    breakdown = day.client.post(
        "/api/v1/vehicles/V001/events", headers=v1,
        json={"reportId": "breakdown-1", "ts": day.iso(), "kind": "out_of_service"},
    )  # fmt: skip
    assert breakdown.status_code == 200  # its own breakdown: the booking is handed on
    assert day.read(booking)["status"] in ("cancelled_by_operator", "delayed")


def test_a_stream_sends_the_booking_until_it_is_final(day: LiveDay) -> None:
    v1 = day.credential("V001")
    day.report("V001", "shift/start", v1, lat=NEAR_A[0], lon=NEAR_A[1], seats=4)
    booking = day.book()
    url = f"/api/v1/shuttle/bookings/{booking['id']}/stream"
    assert day.client.get(url).status_code == 401
    assert day.client.get(url, params={"token": "0" * 40}).status_code == 404
    cancelled = day.client.post(
        f"/api/v1/shuttle/bookings/{booking['id']}/cancel",
        headers={"X-Booking-Token": booking["token"]},
    )
    assert cancelled.status_code == 200, cancelled.text
    with day.client.stream("GET", url, params={"token": booking["token"]}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    events = [block for block in text.split("\n\n") if block.startswith("id:")]
    assert len(events) == 1
    data = json.loads(events[0].split("data: ", 1)[1])
    assert data["id"] == booking["id"] and data["status"] == "cancelled"


def test_one_booking_cannot_hold_more_than_three_streams(day: LiveDay, monkeypatch) -> None:
    from api.routers import shuttle as shuttle_router

    v1 = day.credential("V001")
    day.report("V001", "shift/start", v1, lat=NEAR_A[0], lon=NEAR_A[1], seats=4)
    booking = day.book()
    url = f"/api/v1/shuttle/bookings/{booking['id']}/stream"
    # three streams of this booking already open in this worker
    monkeypatch.setitem(shuttle_router._streams_of, booking["id"], 3)
    refused = day.client.get(url, params={"token": booking["token"]})
    assert refused.status_code == 409 and "3 live streams" in refused.json()["message"]
