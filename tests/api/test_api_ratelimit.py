"""Per-client rate limits (issue 17, finding 12): one client cannot take every booking."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ratelimit import Limit, TokenBuckets
from api.settings import Settings
from benchmarks.support.shuttle_doubles import SeatLedgerDispatcher
from tests.support.api import OPERATOR_KEY


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(Limit("booking", 3, 60.0), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(20.0)  # one token per 20 s
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.t += 20.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0.0


def test_limits_are_shared_among_workers_and_parsed_strictly() -> None:
    assert Limit.parse("b", "10/60", workers=2) == Limit("b", 5.0, 60.0)
    assert Limit.parse("b", "9/60", workers=2) == Limit("b", 5.0, 60.0)  # rounded up
    assert Limit.parse("b", "0") is None
    with pytest.raises(ValueError, match="'N/S'"):
        Limit.parse("b", "ten per minute")
    with pytest.raises(ValueError):
        Settings(rate_limit_bookings="5/0")


@pytest.fixture
def limited(tmp_path: Path, hd_data_dir: Path, cache_dir: Path):
    settings = Settings(region="heidelberg", data_dir=hd_data_dir, cache_dir=cache_dir,
                        database_url=f"sqlite:///{tmp_path / 'b.db'}", api_keys=OPERATOR_KEY,
                        profiles="car", transit=False, wheelchair=False,
                        live_path=tmp_path / "live.json", rate_limit_bookings="3/60",
                        rate_limit_expensive="5/60")  # fmt: skip
    with TestClient(create_app(settings, dispatcher=SeatLedgerDispatcher())) as client:
        yield client


def _trip(i: int) -> dict:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    pickup = datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(hours=2, minutes=i)
    return {"from": {"lat": 49.4094, "lon": 8.6937}, "to": {"lat": 49.3925, "lon": 8.6890},
            "pickupAfter": pickup.isoformat()}  # fmt: skip


def test_one_client_cannot_book_more_than_its_limit(limited: TestClient) -> None:
    answers = [limited.post("/api/v1/shuttle/bookings", json=_trip(i)) for i in range(6)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429, 429]
    refused = answers[3]
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["error"] == "rate_limited" and "Retry-After" in body["fix"]
    # Other endpoints are not limited by the booking limit; operators are not limited.
    assert limited.get("/api/v1/health").status_code == 200
    operator = limited.post("/api/v1/shuttle/bookings", json=_trip(9),
                            headers={"X-API-Key": OPERATOR_KEY})  # fmt: skip
    assert operator.status_code == 201


def test_expensive_endpoints_are_limited_per_client(limited: TestClient) -> None:
    params = {"place": "49.4094,8.6937", "profile": "car", "minutes": 1}
    statuses = [limited.get("/api/v1/isochrone", params=params).status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    # The budget is per class: routes share it with isochrones.
    route = limited.get("/api/v1/route", params={"fromPlace": "49.4094,8.6937",
                                                  "toPlace": "49.3925,8.6890"})  # fmt: skip
    assert route.status_code == 429


def test_openapi_documents_429_on_the_limited_operations() -> None:
    doc = create_app(Settings()).openapi()
    assert "429" in doc["paths"]["/api/v1/shuttle/bookings"]["post"]["responses"]
    assert "429" in doc["paths"]["/api/v1/isochrone"]["get"]["responses"]
    assert "429" not in doc["paths"]["/api/v1/health"]["get"]["responses"]
