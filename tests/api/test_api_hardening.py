"""Issue 17's adversarial findings on the full Heidelberg app (one loaded region, many apps)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.validation import attach_zone
from routing.errors import RequestError
from tests.support.api import OPERATOR_KEY, hd_settings, shared_state

A = (49.4094, 8.6937)  # Bismarckplatz
B = (49.4183, 8.6758)  # Neuenheim
OPS = {"X-API-Key": OPERATOR_KEY}


@pytest.fixture(scope="module")
def state(hd_data_dir: Path, cache_dir: Path):
    return shared_state(hd_data_dir, cache_dir)


def make_client(state, tmp_path: Path, **extra: object) -> TestClient:
    db = tmp_path / "bookings.db"
    settings = hd_settings(
        state.settings.data_dir, state.settings.cache_dir, f"sqlite:///{db}", **extra
    )
    return TestClient(create_app(settings, state=state))


@pytest.fixture(scope="module")
def client(state, tmp_path_factory):
    with make_client(state, tmp_path_factory.mktemp("db")) as c:
        yield c


# -- finding 7: local times in the DST gap ---------------------------------------------------


def test_attach_zone_refuses_the_dst_gap_and_keeps_real_times() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    with pytest.raises(RequestError, match=r"pickupAfter 2026-03-29T02:30:00 does not exist.*"
                       r"2026-03-29T03:30:00\+02:00"):  # fmt: skip
        attach_zone(datetime(2026, 3, 29, 2, 30), berlin, name="pickupAfter")
    assert attach_zone(datetime(2026, 3, 29, 3, 30), berlin, name="t").utcoffset().seconds == 7200
    assert attach_zone(datetime(2026, 3, 29, 1, 59), berlin, name="t").utcoffset().seconds == 3600
    # The repeated hour in October: the first (summer time) occurrence.
    assert attach_zone(datetime(2026, 10, 25, 2, 30), berlin, name="t").utcoffset().seconds == 7200
    given = datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("UTC"))  # explicit offsets pass
    assert attach_zone(given, berlin, name="t") == given


def test_dst_gap_is_422_on_every_endpoint_taking_a_local_time(client) -> None:
    gap = "2026-03-29T02:30:00"
    trip = {"from": {"lat": A[0], "lon": A[1]}, "to": {"lat": B[0], "lon": B[1]},
            "pickupAfter": gap}  # fmt: skip
    answers = {
        "pickupAfter": client.post("/api/v1/shuttle/quote", json=trip),
        "pickupAfter ": client.post("/api/v1/shuttle/bookings", json=trip),
        "time": client.get(
            "/api/v1/plan",
            params={
                "fromPlace": f"{A[0]},{A[1]}",
                "toPlace": f"{B[0]},{B[1]}",
                "time": gap,
                "modes": "walk",
            },
        ),
        "start": client.post(
            "/api/v1/operations/closures", headers=OPS, json={"way_ids": [1], "start": gap}
        ),
        "readings.0.timestamp": client.post(
            "/api/v1/operations/traffic",
            headers=OPS,
            json={"readings": [{"way_id": 1, "speed_kmh": 5, "timestamp": gap}]},
        ),
    }
    for field, answer in answers.items():
        assert answer.status_code == 422, (field, answer.text)
        body = answer.json()
        assert field.strip() in body["message"] and "does not exist" in body["message"], body
        assert "03:30:00+02:00" in body["message"]
        assert body["fix"]


def test_cli_plan_refuses_a_local_time_in_the_dst_gap(hd_data_dir, cache_dir) -> None:
    from tests.support.cli import run_elster

    done = run_elster("plan", "heidelberg", "--from", f"{A[0]},{A[1]}", "--to", f"{B[0]},{B[1]}",
                   "--at", "2026-03-29T02:30", "--modes", "walk",
                   data_dir=hd_data_dir, cache_dir=cache_dir)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--at 2026-03-29T02:30:00 does not exist" in done.stderr


# -- finding 5: the public shuttle layer shows no passenger's door ---------------------------


def test_public_shuttle_layer_coarsens_a_vehicle_standing_at_a_pickup(client, state, monkeypatch):
    from api.routers.map_layers import coarsen
    from routing.geo import haversine_m

    door = (49.40123, 8.69321)  # a vehicle standing at a passenger's pickup point
    stop = {"booking": "b1", "lat": door[0], "lon": door[1]}
    parked = {"id": "v1", "lat": door[0], "lon": door[1], "mode": "serving", "capacity": 8,
              "onboard": 1, "stops": [stop]}  # fmt: skip
    monkeypatch.setattr(state.shuttle, "vehicles", lambda: [parked])
    layer = client.get("/api/v1/map/shuttles")
    assert layer.status_code == 200, layer.text
    assert layer.headers["content-type"].startswith("application/geo+json")
    [f] = layer.json()["features"]
    lon, lat = f["geometry"]["coordinates"]
    assert (lat, lon) != door
    assert 100 < haversine_m(lat, lon, *door) < 1000  # inside its 1 km cell, not at the door
    assert set(f["properties"]) == {"id", "mode", "capacity", "freeSeats", "precisionM"}
    # Every point of a cell shows the same position: nothing finer leaks.
    centre = coarsen(49.4001, 8.6901, 1000)
    for dlat, dlon in ((0.004, 0.006), (-0.004, -0.006), (0.004, -0.006)):  # < 500 m away
        assert coarsen(centre[0] + dlat, centre[1] + dlon, 1000) == centre
    assert coarsen(door[0], door[1], 1000) == (lat, lon)


# -- finding 8: one error contract, all documented -------------------------------------------


def _error(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) >= {"error", "message", "fix"}
    assert body["error"] != "http_error" and body["message"] and body["fix"], body
    return body


@pytest.mark.parametrize(
    "raw",
    [b'{"from": "\xff\xfe"}', b"\xff" * 10, b"[" * 25_000 + b"]" * 25_000,
     b'{"a":' * 10_000 + b"1" + b"}" * 10_000],
)  # fmt: skip
def test_bodies_that_are_not_utf8_json_are_422_with_a_fix(client, raw) -> None:
    answer = client.post("/api/v1/shuttle/quote", content=raw,
                         headers={"content-type": "application/json"})  # fmt: skip
    body = _error(answer, 422)
    assert body["error"] == "invalid_request"
    assert "not valid JSON" in body["message"]


def test_allow_lists_every_method_of_the_path(client) -> None:
    answer = client.options("/api/v1/operations/closures")
    _error(answer, 405)
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    assert "PUT" not in allowed
    _error(client.delete("/api/v1/health"), 405)


def test_openapi_documents_every_error_status_and_the_geojson_media_type(client) -> None:
    doc = client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"400", "422", "500"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert {"408", "413"} <= statuses, (method, path)
    for layer in ("network", "transit", "shuttles"):
        content = doc["paths"][f"/api/v1/map/{layer}"]["get"]["responses"]["200"]["content"]
        assert list(content) == ["application/geo+json"]
    served = client.get("/api/v1/map/network", params={"profile": "car"})
    assert served.headers["content-type"] == "application/geo+json"


# -- finding 11: security headers, no PID, docs without a CDN --------------------------------


def test_every_answer_carries_the_security_headers(client) -> None:
    for path in ("/", "/docs", "/api/v1/health", "/api/v1/nowhere", "/static/app.js",
                 "/openapi.json"):  # fmt: skip
        answer = client.get(path)
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp


def test_worker_header_is_not_a_pid(client) -> None:
    import os
    import re

    worker = client.get("/api/v1/health").headers["x-elster-worker"]
    assert re.fullmatch(r"[0-9a-f]{8}", worker)
    assert worker != str(os.getpid())


def test_docs_are_served_from_this_server_only(client) -> None:
    import re

    page = client.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text), page.text  # no CDN
    assert "<script>" not in page.text  # no inline script: the CSP forbids it
    for asset in re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", page.text):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200


# -- finding 2: isochrones bounded in cost and output -----------------------------------------


def test_worst_case_isochrone_is_a_small_polygon_covering_what_is_reached(client, state) -> None:
    import shapely

    from api.services.isochrone_shape import MAX_VERTICES

    params = {"place": f"{A[0]},{A[1]}", "profile": "bike", "minutes": 60}
    answer = client.get("/api/v1/isochrone", params=params)
    assert answer.status_code == 200, answer.text
    assert len(answer.content) < 100_000  # was 6.4 MB of street pieces
    [feature] = answer.json()["features"]
    props = feature["properties"]
    assert props["edges"] > 10_000 and props["vertices"] <= MAX_VERTICES
    area = shapely.geometry.shape(feature["geometry"])
    assert area.is_valid and area.contains(shapely.Point(A[1], A[0]))
    # Every node reached in time lies inside (or within a cell of) the polygon.
    network = state.networks["bike"]
    reached = network.isochrone_edges(A, 3600.0)
    graph = network.current_graph()
    tails = graph.tail()[reached.edges[reached.fraction >= 1.0]]
    sample = np.unique(tails)[:: max(1, tails.size // 2000)]
    cell_deg = props["cellM"] / 111_320.0
    grown = area.buffer(2 * cell_deg)
    inside = shapely.contains_xy(grown, graph.lon[sample], graph.lat[sample])
    assert inside.mean() > 0.99, inside.mean()
    # The same request again is answered from the cache, identically.
    assert client.get("/api/v1/isochrone", params=params).content == answer.content


def test_isochrones_beyond_the_queue_limit_get_503_busy(client, monkeypatch) -> None:
    from api.routers import isochrone as iso

    monkeypatch.setattr(iso, "_pending", 10_000)  # every thread busy, the queue full
    answer = client.get("/api/v1/isochrone", params={"place": "49.4000,8.6900", "minutes": 7})
    body = _error(answer, 503)
    assert body["error"] == "busy" and answer.headers["retry-after"] == "2"
    monkeypatch.setattr(iso, "_pending", 0)
    again = client.get("/api/v1/isochrone", params={"place": "49.4000,8.6900", "minutes": 7})
    assert again.status_code == 200


def test_isochrones_are_computed_on_their_own_few_threads(client, state) -> None:
    """Concurrent requests share the pool's threads (bounded allocator arenas, bounded RSS)."""
    import threading as th
    from concurrent.futures import ThreadPoolExecutor

    from api.routers import isochrone as iso

    seen: set[str] = set()
    real = iso._compute

    def spy(*args):
        seen.add(th.current_thread().name)
        return real(*args)

    iso._compute = spy
    try:
        with ThreadPoolExecutor(8) as clients:
            answers = list(clients.map(
                lambda i: client.get("/api/v1/isochrone",
                                     params={"place": f"49.40{i:02d},8.69", "minutes": 4}),
                range(12),
            ))  # fmt: skip
    finally:
        iso._compute = real
    assert all(a.status_code == 200 for a in answers)
    assert seen and all(name.startswith("isochrone") for name in seen)
    assert len(seen) <= state.settings.isochrone_concurrency
