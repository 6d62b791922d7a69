"""Shuttle quotes and bookings: 503 without a dispatcher; idempotency, tokens, cancel, restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from benchmarks.support.shuttle_doubles import SeatLedgerDispatcher
from tests.support.api import OPERATOR_KEY, hd_settings

TZ = ZoneInfo("Europe/Berlin")


def trip(minutes_ahead: float = 60, passengers: int = 1, **extra):
    when = (datetime.now(TZ) + timedelta(minutes=minutes_ahead)).replace(microsecond=0)
    return {
        "from": {"lat": 49.4094, "lon": 8.6937},
        "to": {"lat": 49.3925, "lon": 8.6890},
        "pickupAfter": when.isoformat(),
        "passengers": passengers,
        **extra,
    }


def light_settings(db_url: str, hd_data_dir: Path, cache_dir: Path):
    """No road graphs or timetable: bookings do not need them, and startup stays fast."""
    return hd_settings(hd_data_dir, cache_dir, db_url, profiles="", transit=False)


def test_without_dispatcher_shuttle_is_503(hd_data_dir, cache_dir, tmp_path):
    settings = hd_settings(
        hd_data_dir, cache_dir, f"sqlite:///{tmp_path / 'b.db'}", profiles="", transit=False,
        shuttle_vehicles=0,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        for url in ("/api/v1/shuttle/quote", "/api/v1/shuttle/bookings"):
            r = client.post(url, json=trip())
            assert r.status_code == 503
            assert r.json()["message"] == "shuttle dispatch not available in this build"
        assert (
            client.get("/api/v1/fleet/vehicles", headers={"X-API-Key": OPERATOR_KEY}).status_code
            == 503
        )


@pytest.fixture
def ledger_client(db_url, hd_data_dir, cache_dir):
    """The API with a seat-ledger dispatcher, on SQLite and on PostgreSQL."""
    dispatcher = SeatLedgerDispatcher(seats_per_slot=3)
    settings = light_settings(db_url, hd_data_dir, cache_dir)
    with TestClient(create_app(settings, dispatcher=dispatcher)) as client:
        client.dispatcher = dispatcher
        yield client


def test_quote_then_book_then_read_and_cancel(ledger_client):
    c = ledger_client
    q = c.post("/api/v1/shuttle/quote", json=trip())
    assert q.status_code == 200
    assert q.json()["accepted"] is True
    assert q.json()["pickupWindow"]["start"] < q.json()["pickupWindow"]["end"]
    r = c.post("/api/v1/shuttle/bookings", json=trip(), headers={"Idempotency-Key": "trip-0001"})
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["status"] == "confirmed"
    assert booking["token"]
    assert booking["quote"]["priceEur"] == q.json()["priceEur"]
    url = f"/api/v1/shuttle/bookings/{booking['id']}"
    token = {"X-Booking-Token": booking["token"]}
    got = c.get(url, headers=token).json()
    assert got["id"] == booking["id"]
    assert got["token"] is None
    assert [e["status"] for e in got["events"]] == ["confirmed"]
    assert c.get(url).status_code == 401
    assert c.get(url, headers={"X-Booking-Token": "x" * 40}).status_code == 404
    assert c.post(f"{url}/cancel", headers={"X-Booking-Token": "nope"}).status_code == 404
    cancelled = c.post(f"{url}/cancel", headers=token)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert c.post(f"{url}/cancel", headers=token).json()["status"] == "cancelled"
    assert [e["status"] for e in c.get(url, headers=token).json()["events"]] == [
        "confirmed",
        "cancelled",
    ]
    assert booking["id"] not in c.dispatcher.booked


def test_idempotency_key_replays_and_conflicts(ledger_client):
    c = ledger_client
    body = trip()
    first = c.post("/api/v1/shuttle/bookings", json=body, headers={"Idempotency-Key": "same-key-1"})
    again = c.post("/api/v1/shuttle/bookings", json=body, headers={"Idempotency-Key": "same-key-1"})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["token"] == first.json()["token"]
    other = c.post(
        "/api/v1/shuttle/bookings",
        json=trip(passengers=2),
        headers={"Idempotency-Key": "same-key-1"},
    )
    assert other.status_code == 409
    assert "different" in other.json()["message"]
    listed = c.get(
        "/api/v1/fleet/requests", params={"status": "all"}, headers={"X-API-Key": OPERATOR_KEY}
    ).json()
    assert [b["id"] for b in listed] == [first.json()["id"]]


def test_full_slot_is_rejected_with_reason(ledger_client):
    c = ledger_client
    assert c.post("/api/v1/shuttle/bookings", json=trip(90, passengers=3)).status_code == 201
    r = c.post("/api/v1/shuttle/bookings", json=trip(90, passengers=1))
    assert r.status_code == 422
    assert "seats" in r.json()["message"]
    assert r.json()["fix"]
    assert c.post("/api/v1/shuttle/quote", json=trip(90)).json()["accepted"] is False


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"pickupAfter": "2001-01-01T08:00:00"}, "outside"),
        ({"pickupAfter": (datetime.now(TZ) + timedelta(days=30)).isoformat()}, "7 days"),
        ({"from": {"lat": 50.88, "lon": 12.08}}, "outside region"),
        ({"from": {"lat": 91, "lon": 8.69}}, "lat"),
        ({"passengers": 0}, "passengers"),
        ({"teleport": True}, "teleport"),
    ],
)
def test_bad_booking_requests_are_4xx(ledger_client, change, words):
    r = ledger_client.post("/api/v1/shuttle/bookings", json={**trip(), **change})
    assert r.status_code == 422, r.text
    assert words.lower() in (r.json()["message"] + r.json()["fix"]).lower()


def test_bad_idempotency_key_and_booking_id(ledger_client):
    r = ledger_client.post(
        "/api/v1/shuttle/bookings", json=trip(), headers={"Idempotency-Key": "a b"}
    )
    assert r.status_code == 422
    assert "Idempotency-Key" in r.json()["message"]
    assert ledger_client.get("/api/v1/shuttle/bookings/not-a-uuid").status_code == 422


def test_restart_restores_open_bookings_and_tokens(db_url, hd_data_dir, cache_dir):
    settings = light_settings(db_url, hd_data_dir, cache_dir)
    with TestClient(create_app(settings, dispatcher=SeatLedgerDispatcher())) as c:
        kept = c.post(
            "/api/v1/shuttle/bookings", json=trip(), headers={"Idempotency-Key": "keep-0001"}
        ).json()
        gone = c.post("/api/v1/shuttle/bookings", json=trip(120)).json()
        c.post(
            f"/api/v1/shuttle/bookings/{gone['id']}/cancel",
            headers={"X-Booking-Token": gone["token"]},
        )
    second = SeatLedgerDispatcher()
    with TestClient(create_app(settings, dispatcher=second)) as c:
        assert set(second.booked) == {kept["id"]}
        got = c.get(
            f"/api/v1/shuttle/bookings/{kept['id']}", headers={"X-Booking-Token": kept["token"]}
        )
        assert got.status_code == 200
        assert got.json()["status"] == "confirmed"
        body = {k: v for k, v in trip().items() if k != "pickupAfter"}
        first = c.post(
            "/api/v1/shuttle/bookings", json=body, headers={"Idempotency-Key": "now-0001"}
        )
        # A retry of a body without pickupAfter ("now") is the same request, even later.
        replay = c.post(
            "/api/v1/shuttle/bookings", json=body, headers={"Idempotency-Key": "now-0001"}
        )
        assert (first.status_code, replay.status_code) == (201, 200)
        assert replay.json()["id"] == first.json()["id"]
        vehicles = c.get("/api/v1/fleet/vehicles", headers={"X-API-Key": OPERATOR_KEY}).json()
        assert sum(v["bookings"] for v in vehicles) == 2


def test_metrics_count_booking_outcomes_and_batches(ledger_client):
    for i in range(3):
        r = ledger_client.post(
            "/api/v1/shuttle/bookings", json=trip(90 + i), headers={"Idempotency-Key": f"m-{i:06d}"}
        )
        assert r.status_code == 201
    text = ledger_client.get("/api/v1/metrics", headers={"X-API-Key": OPERATOR_KEY}).text
    assert 'elster_shuttle_bookings_total{outcome="created"} 3.0' in text
    assert "elster_shuttle_booking_batch_size_count 3.0" in text  # one at a time here
