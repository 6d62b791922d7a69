"""Shuttle quotes and bookings served by the fleet's real online dispatcher."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.state import load_state
from tests.support.api import OPERATOR_KEY, hd_settings

TZ = ZoneInfo("Europe/Berlin")


def trip(minutes_ahead: float, origin: tuple[float, float], destination: tuple[float, float]):
    when = (datetime.now(TZ) + timedelta(minutes=minutes_ahead)).replace(microsecond=0)
    return {
        "from": {"lat": origin[0], "lon": origin[1]},
        "to": {"lat": destination[0], "lon": destination[1]},
        "pickupAfter": when.isoformat(),
        "passengers": 1,
    }


@pytest.fixture
def fleet_client(db_url: str, hd_data_dir: Path, cache_dir: Path):
    settings = hd_settings(
        hd_data_dir, cache_dir, db_url, profiles="shuttle", transit=False,
        shuttle_vehicles=2, shuttle_seats=3,
    )  # fmt: skip
    state = load_state(settings)
    assert state.component("shuttle").ready, state.component("shuttle").detail
    with TestClient(create_app(settings, state=state)) as client:
        yield client


def test_quote_book_and_vehicle_plan(fleet_client: TestClient) -> None:
    a, b = (49.4094, 8.6937), (49.3925, 8.6890)
    quote = fleet_client.post("/api/v1/shuttle/quote", json=trip(30, a, b)).json()
    assert quote["accepted"] is True, quote
    booked = fleet_client.post(
        "/api/v1/shuttle/bookings", json=trip(30, a, b), headers={"Idempotency-Key": "fleet-001"}
    )
    assert booked.status_code == 201, booked.text
    body = booked.json()
    vehicles = fleet_client.get("/api/v1/fleet/vehicles", headers={"X-API-Key": OPERATOR_KEY})
    assert vehicles.status_code == 200
    plans = vehicles.json()
    # The booked trip's pickup and drop-off are planned on exactly one vehicle.
    planned = [s for v in plans for s in v.get("stops", []) if body["id"] in str(s)]
    assert len(planned) == 2, plans
    cancel = fleet_client.post(
        f"/api/v1/shuttle/bookings/{body['id']}/cancel", headers={"X-Booking-Token": body["token"]}
    )
    assert cancel.json()["status"] == "cancelled"
    plans = fleet_client.get("/api/v1/fleet/vehicles", headers={"X-API-Key": OPERATOR_KEY}).json()
    assert not [s for v in plans for s in v.get("stops", []) if body["id"] in str(s)]


def test_a_full_fleet_rejects_with_a_reason(fleet_client: TestClient) -> None:
    a, b = (49.4094, 8.6937), (49.3800, 8.6600)
    statuses = [
        fleet_client.post("/api/v1/shuttle/bookings", json=trip(20, a, b)).status_code
        for _ in range(12)
    ]
    # Two vehicles with three seats cannot take twelve simultaneous riders.
    assert statuses.count(201) <= 6 and 422 in statuses
    refused = fleet_client.post("/api/v1/shuttle/quote", json=trip(20, a, b)).json()
    assert refused["accepted"] is False and refused["reason"]
