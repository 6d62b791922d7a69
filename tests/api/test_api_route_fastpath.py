"""The ``GET /api/v1/route`` fast path answers exactly what the FastAPI endpoint answers.

Well-formed requests are served by :class:`api.fastroute.RouteFastPath`; an
unknown query parameter sends the same request through FastAPI (which ignores
it), so the two answers can be compared. Everything else (bad input, errors)
must reach FastAPI and keep the JSON error contract, and the middleware around
the fast path (security headers, metrics, rate limits) must still apply.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.fastroute import ROUTE_PATH, RouteFastPath
from api.middleware import SECURITY_HEADERS
from tests.support.api import OPERATOR_KEY, hd_settings, shared_state


@pytest.fixture(scope="module")
def state(hd_data_dir: Path, cache_dir: Path):
    return shared_state(hd_data_dir, cache_dir)


@pytest.fixture(scope="module")
def app(state, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "b.db"
    settings = hd_settings(
        state.settings.data_dir,
        state.settings.cache_dir,
        f"sqlite:///{db}",
        rate_limit_expensive="0",
    )
    return create_app(settings, state=state)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def _points(state, n: int, seed: int) -> list[str]:
    """Random 'lat,lon' texts inside the region (some far from roads, some near)."""
    rng = np.random.default_rng(seed)
    min_lon, min_lat, max_lon, max_lat = state.region.bbox
    lats = rng.uniform(min_lat, max_lat, n)
    lons = rng.uniform(min_lon, max_lon, n)
    return [f"{a:.6f},{b:.6f}" for a, b in zip(lats, lons, strict=True)]


def _scope(query: str) -> dict:
    return {
        "type": "http",
        "method": "GET",
        "path": ROUTE_PATH,
        "root_path": "",
        "query_string": query.encode(),
        "headers": [],
    }


@pytest.mark.parametrize("profile", ["car", "bike", "walk", "shuttle"])
def test_fast_answers_equal_the_endpoint(client, app, state, profile):
    fast = RouteFastPath(app=None, fastapi_app=app)  # type: ignore[arg-type]
    points = _points(state, 40, seed=len(profile))
    served = 0
    for o, d in zip(points[::2], points[1::2], strict=True):
        query = f"fromPlace={o}&toPlace={d}&profile={profile}"
        slow = client.get(f"{ROUTE_PATH}?{query}&via=fastapi")  # unknown key: FastAPI answers
        body = fast._answer(_scope(query))
        if slow.status_code != 200:
            assert body is None, slow.text  # errors are FastAPI's to answer
            continue
        served += 1
        assert body == slow.content
        through_stack = client.get(f"{ROUTE_PATH}?{query}")
        assert through_stack.status_code == 200
        assert through_stack.content == slow.content
        assert through_stack.headers["content-type"] == "application/json"
    assert served >= 5


def test_fast_path_keeps_the_middleware(client):
    query = {"fromPlace": "49.4094,8.6937", "toPlace": "49.4183,8.6758"}
    r = client.get(ROUTE_PATH, params=query)
    assert r.status_code == 200
    for name, value in SECURITY_HEADERS:
        assert r.headers[name.decode()] == value.decode()
    assert r.headers["x-elster-worker"]
    text = client.get("/api/v1/metrics", headers={"X-API-Key": OPERATOR_KEY}).text
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("elster_http_requests_total")
        and ('route="/api/v1/route"' in line or 'route="/route"' in line)  # as for /health
        and 'status="200"' in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 1


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("toPlace=49.41,8.69", 422, "invalid_request"),  # fromPlace missing
        ("fromPlace=49.41;8.69&toPlace=49.41,8.69", 422, "invalid_request"),  # pattern
        ("fromPlace=" + "1" * 70 + "&toPlace=49.41,8.69", 422, "invalid_request"),  # length
        ("fromPlace=49.41,8.69&toPlace=49.41,8.69&profile=plane", 422, "invalid_request"),
        ("fromPlace=8.69,49.41&toPlace=49.41,8.69", 422, "bad_request"),  # swapped: outside
        ("fromPlace=99.41,8.69&toPlace=49.41,8.69", 422, "bad_request"),  # latitude range
    ],
)
def test_bad_input_keeps_the_error_contract(client, query, status, code):
    r = client.get(f"{ROUTE_PATH}?{query}")
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code
    assert body["message"] and body["fix"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_repeated_parameters_are_answered_by_fastapi(client, app):
    fast = RouteFastPath(app=None, fastapi_app=app)  # type: ignore[arg-type]
    query = "fromPlace=49.4094,8.6937&toPlace=49.4183,8.6758&toPlace=49.40,8.68"
    assert fast._answer(_scope(query)) is None
    assert client.get(f"{ROUTE_PATH}?{query}").status_code == 200


def test_geojson_is_answered_by_fastapi(client):
    r = client.get(
        ROUTE_PATH,
        params={"fromPlace": "49.4094,8.6937", "toPlace": "49.4183,8.6758", "format": "geojson"},
    )
    assert r.status_code == 200
    assert r.json()["type"] == "FeatureCollection"


def _reference_params(query: str) -> dict[str, str] | None:
    """The fast path's parameters by the standard library's parser (the former code)."""
    from urllib.parse import parse_qsl

    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in params or key not in {"fromPlace", "toPlace", "profile", "format"}:
            return None
        params[key] = value
    return params


def test_query_parsing_equals_the_standard_library():
    from api.fastroute import query_params

    rng = np.random.default_rng(7)
    pieces = [
        "fromPlace=49.4094,8.6937", "toPlace=49.4183,8.6758", "profile=car", "format=json",
        "fromPlace=49.4094%2C8.6937", "toPlace=49.41+,8.67", "profile=", "profile", "=car",
        "format=geojson", "via=x", "fromPlace=a=b", "", "toPlace=%zz", "prof%69le=bike",
        "fromPlace=+49.4,8.6", "toPlace=49.4,%208.6",
    ]  # fmt: skip
    queries = ["", "&", "&&profile=car&", "fromPlace=1,2&fromPlace=1,2"]
    for _ in range(3000):
        chosen = rng.choice(len(pieces), size=int(rng.integers(1, 6)))
        queries.append("&".join(pieces[i] for i in chosen))
    for query in queries:
        assert query_params(query) == _reference_params(query), query
