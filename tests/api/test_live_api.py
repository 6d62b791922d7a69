"""Operator endpoints for closures and traffic (``/operations``) on a bare app with the router."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from api.routers import operations
from api.services.booking_batch import BookingBatcher
from api.services.shuttle import BookingService
from api.settings import Settings
from api.state import Component, RegionState, build_live_sync
from api.storage import BookingStore
from routing.road import load_road_networks

KEY = "ops-test-key"


@pytest.fixture(scope="module")
def networks(hd_region, hd_data_dir, cache_dir):
    """The car and walk networks only (what the closures below touch)."""
    return load_road_networks(hd_region, ("car", "walk"), data_dir=hd_data_dir, cache_dir=cache_dir)


@pytest.fixture
def client(tmp_path, networks, hd_region):
    settings = Settings(region="heidelberg", data_dir=tmp_path, cache_dir=tmp_path / "cache",
                        api_keys=KEY)  # fmt: skip
    bookings = BookingStore(f"sqlite:///{tmp_path / 'b.db'}")
    shuttle = BookingService(bookings, None)
    served = dict(networks)
    state = RegionState(
        region=hd_region,
        settings=settings,
        bookings=bookings,
        shuttle=shuttle,
        booking_batcher=BookingBatcher(shuttle),
        networks=served,
        live=build_live_sync(hd_region, settings, served),
    )
    state.components["live"] = Component("live", True, "ready")
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(operations.router, prefix="/api/v1")
    app.state.elster = state
    with TestClient(app) as test_client:
        test_client.elster_state = state  # type: ignore[attr-defined]
        yield test_client
    bookings.close()


def test_live_sync_is_attached_to_the_served_networks(client) -> None:
    """The one live-state builder attaches every loaded state to the networks it serves."""
    state = client.elster_state
    live = operations.live_state(state)
    assert all(n.live is live for n in state.networks.values())
    assert state.live.snapper is state.networks["car"].snapper


def test_without_live_state_operations_answer_503_naming_why(client) -> None:
    state = client.elster_state
    state.live = None
    state.components["live"] = Component(
        "live",
        False,
        "disabled: live road state needs the road networks",
        fix="set ELSTER_PROFILES",
    )
    answer = client.get("/api/v1/operations/closures", headers={"X-API-Key": KEY})
    assert answer.status_code == 503
    body = answer.json()
    assert "live road state needs the road networks" in body["message"]
    assert body["fix"] == "set ELSTER_PROFILES"


def test_closure_lifecycle_and_persistence(client, hd_graphs, tmp_path) -> None:
    car = hd_graphs["car"]
    way = int(car.way_id[10])
    headers = {"X-API-Key": KEY}
    assert client.post("/api/v1/operations/closures", json={"way_ids": [way]}).status_code == 401
    made = client.post("/api/v1/operations/closures", headers=headers,
                       json={"way_ids": [way], "reason": "flood", "id": "flood-1"})  # fmt: skip
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["id"] == "flood-1" and body["active"]
    assert body["edges_per_profile"]["car"] == int((car.way_id == way).sum())
    live = operations.live_state(client.elster_state)
    assert np.isinf(live.weights("car").travel_time[car.way_id == way]).all()
    assert (tmp_path / "live" / "heidelberg.json").is_file()
    listed = client.get("/api/v1/operations/closures", headers=headers).json()
    assert [c["id"] for c in listed["closures"]] == ["flood-1"]
    layer = client.get("/api/v1/operations/closures.geojson").json()
    assert layer["features"][0]["properties"]["id"] == "flood-1"
    assert layer["features"][0]["geometry"]["type"] == "MultiLineString"
    assert client.delete("/api/v1/operations/closures/flood-1", headers=headers).status_code == 204
    missing = client.delete("/api/v1/operations/closures/flood-1", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert not live.weights("car").changed


def test_bad_closure_and_traffic(client, hd_graphs) -> None:
    headers = {"X-API-Key": KEY}
    bad = client.post("/api/v1/operations/closures", headers=headers, json={"reason": "nothing"})
    assert bad.status_code == 422 and "way_ids" in bad.json()["message"]
    poly = client.post("/api/v1/operations/closures", headers=headers,
                       json={"polygon": {"type": "Point", "coordinates": [8.7, 49.4]}})  # fmt: skip
    assert poly.status_code == 422
    import time

    way = int(hd_graphs["car"].way_id[5])
    result = client.post("/api/v1/operations/traffic", headers=headers, json={"readings": [
        {"way_id": way, "speed_kmh": 8, "timestamp": time.time()},
        {"way_id": way, "speed_kmh": 8, "timestamp": time.time() - 86400},
    ]})  # fmt: skip
    assert result.status_code == 200, result.text
    assert result.json()["applied"] == 1 and result.json()["stale"] == 1
    reading = {"way_id": way, "speed_kmh": "fast", "timestamp": 1}
    broken = client.post(
        "/api/v1/operations/traffic", headers=headers, json={"readings": [reading]}
    )
    assert broken.status_code == 422 and "speed_kmh" in broken.json()["message"]


@pytest.mark.parametrize("start", [-1.1564073865257286e16, 1e300, "99999-01-01"])
def test_closure_times_outside_any_calendar_are_refused(client, hd_graphs, start) -> None:
    headers = {"X-API-Key": KEY}
    way = int(hd_graphs["car"].way_id[7])
    made = client.post(
        "/api/v1/operations/closures", headers=headers, json={"way_ids": [way], "start": start}
    )
    assert made.status_code == 422, made.text
    # Nothing half-stored: the list still renders.
    assert client.get("/api/v1/operations/closures", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("closures", {"way_ids": [2**63]}, "way_ids.0"),
        ("closures", {"way_ids": [-(2**63) - 1]}, "way_ids.0"),
        ("closures", {"way_ids": [5, 2**70]}, "way_ids.1"),
        ("closures", {"way_ids": [-1]}, "way_ids.0"),
        ("closures", {"edges": [2**70], "edge_profile": "car"}, "edges.0"),
        ("closures", {"way_ids": list(range(3001))}, "way_ids"),
        ("traffic", {"readings": [{"way_id": 2**70, "speed_kmh": 8, "timestamp": 1}]},
         "readings.0.way_id"),
        ("traffic", {"readings": [{"way": str(2**70), "speed": 8, "time": 1}]},
         "readings.0.way"),
    ],
)  # fmt: skip
def test_out_of_range_ids_are_422_naming_the_field(client, path, body, field) -> None:
    """Issue 17, finding 3: huge ids gave 500 (OverflowError in routing.live)."""
    headers = {"X-API-Key": KEY}
    answer = client.post(f"/api/v1/operations/{path}", headers=headers, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["error"] == "invalid_request"
    assert f"'{field}'" in error["message"]
    assert error["fix"]
    # The connection and the server are fine afterwards.
    assert client.get("/api/v1/operations/closures", headers=headers).status_code == 200


def test_traffic_alias_fields_still_work(client, hd_graphs) -> None:
    import time

    way = int(hd_graphs["car"].way_id[5])
    result = client.post(
        "/api/v1/operations/traffic",
        headers={"X-API-Key": KEY},
        json={"readings": [{"osm_way_id": str(way), "kmh": 12, "measured_at": time.time()}]},
    )
    assert result.status_code == 200, result.text
    assert result.json()["applied"] == 1
