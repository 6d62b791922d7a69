"""Pure helpers of the HTTP load benchmark: the fleet booking stream and answer classes."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from benchmarks.api_load import (
    MIN_TRIP_M,
    PASSENGERS,
    PICKUP_AHEAD_MIN,
    booking_kind,
    booking_stats,
    refusal_reason,
    sample_trips,
    trip_body,
)
from routing.geo import haversine_m

BBOX = (8.60, 49.38, 8.72, 49.44)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Road-like nodes on a grid that overhangs the box on every side."""
    lat, lon = np.meshgrid(np.linspace(49.36, 49.46, 41), np.linspace(8.58, 8.74, 41))
    return lat.ravel(), lon.ravel()


def test_sampled_trips_are_inside_long_enough_and_reproducible() -> None:
    lat, lon = _grid()
    trips = sample_trips(lat, lon, BBOX, 300, seed=7)
    assert len(trips) == 300
    min_lon, min_lat, max_lon, max_lat = BBOX
    for t in trips:
        for p_lat, p_lon in (t["origin"], t["destination"]):
            assert min_lat <= p_lat <= max_lat and min_lon <= p_lon <= max_lon
        metres = haversine_m(*t["origin"], *t["destination"])
        assert metres >= MIN_TRIP_M
        assert abs(metres - t["metres"]) < 1.0
        assert PICKUP_AHEAD_MIN[0] <= t["ahead_min"] <= PICKUP_AHEAD_MIN[1]
        assert PASSENGERS[0] <= t["passengers"] <= PASSENGERS[1]
    assert {t["passengers"] for t in trips} == set(range(PASSENGERS[0], PASSENGERS[1] + 1))
    assert sample_trips(lat, lon, BBOX, 300, seed=7) == trips
    assert sample_trips(lat, lon, BBOX, 300, seed=8) != trips


def test_trip_body_pickup_is_ahead_of_now_on_the_minute() -> None:
    lat, lon = _grid()
    trip = sample_trips(lat, lon, BBOX, 1, seed=1)[0]
    now = datetime(2024, 3, 31, 1, 17, 42, 123, tzinfo=ZoneInfo("Europe/Berlin"))
    body = trip_body(trip, now)
    pickup = datetime.fromisoformat(body["pickupAfter"])
    # Real minutes, across the switch to summer time at 02:00 that night.
    minutes = (pickup.timestamp() - now.replace(second=0, microsecond=0).timestamp()) / 60
    assert minutes == trip["ahead_min"] > 60
    assert pickup.second == 0 and pickup.tzinfo is not None
    assert (body["from"]["lat"], body["from"]["lon"]) == trip["origin"]
    assert (body["to"]["lat"], body["to"]["lon"]) == trip["destination"]
    assert body["passengers"] == trip["passengers"]


def _refusal(status: int = 422) -> bytes:
    return json.dumps(
        {
            "error": "rejected",
            "message": "no shuttle can serve this trip: no vehicle can serve it within the "
            "promise rules",
            "fix": "try a later pickup time or fewer passengers",
        }
    ).encode()


def test_booking_answers_are_classified() -> None:
    assert booking_kind(201, b'{"id":"x"}') == "booked"
    assert booking_kind(200, b'{"id":"x"}') == "replayed"
    assert booking_kind(422, _refusal()) == "refused"
    assert booking_kind(409, _refusal()) == "refused"
    # A different 422 (bad input), a commit that lost its quote, a 5xx, a transport error.
    assert booking_kind(422, b'{"error":"invalid_request","message":"body field"}') == "error"
    assert booking_kind(422, b'{"message":"the quoted shuttle trip can no longer"}') == "error"
    assert booking_kind(500, _refusal()) == "error"
    assert booking_kind(0, b"") == "error"
    assert refusal_reason(_refusal()) == "no vehicle can serve it within the promise rules"
    assert refusal_reason(b"not json") == "unreadable answer"


def test_booking_stats_counts_and_reasons() -> None:
    kinds = ["booked", "refused", "booked", "error", "refused"]
    latencies = [0.010, 0.020, 0.030, 0.040, 0.050]
    bodies = [b'{"id":"a"}', _refusal(), b'{"id":"b"}', _refusal()]
    row = booking_stats(latencies, kinds, ["500 boom"], 0.5, 0.05, bodies)
    assert (row["booked"], row["refused"], row["errors"], row["replayed"]) == (2, 2, 1, 0)
    assert row["n"] == 5 and row["throughput_rps"] == 10.0
    assert row["by_answer"]["booked"]["n"] == 2 and row["by_answer"]["refused"]["n"] == 2
    assert abs(row["by_answer"]["refused"]["p50_ms"] - 35.0) < 1e-9
    assert row["refusal_reasons"] == {"no vehicle can serve it within the promise rules": 2}
    assert row["error_samples"] == ["500 boom"]
