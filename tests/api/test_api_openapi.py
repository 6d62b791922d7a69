"""The committed openapi.json matches the code, and documents what clients rely on."""

from __future__ import annotations

import json

from api.export_openapi import OPENAPI_PATH, openapi_document, render


def test_committed_openapi_is_current():
    assert OPENAPI_PATH.exists(), "openapi.json missing; run: python -m api.export_openapi"
    assert OPENAPI_PATH.read_text(encoding="utf-8") == render(openapi_document()), (
        "openapi.json is stale; run: python -m api.export_openapi and commit it"
    )


def test_openapi_documents_endpoints_and_auth():
    doc = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    paths = doc["paths"]
    for path in (
        "/api/v1/plan",
        "/api/v1/route",
        "/api/v1/stops",
        "/api/v1/departures",
        "/api/v1/stations",
        "/api/v1/chargers",
        "/api/v1/shuttle/quote",
        "/api/v1/shuttle/bookings",
        "/api/v1/fleet/vehicles",
        "/api/v1/fleet/requests",
        "/api/v1/health",
        "/api/v1/metrics",
        "/api/v1/map/network",
    ):
        assert path in paths, path
    assert doc["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert paths["/api/v1/fleet/vehicles"]["get"]["security"]
    assert "422" in paths["/api/v1/plan"]["get"]["responses"]
