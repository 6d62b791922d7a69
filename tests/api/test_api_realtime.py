"""GTFS-Realtime through the API on Heidelberg: /plan, /departures, /alerts, map, health, metrics.

The feeds are served by a local HTTP server (127.0.0.1) and polled with an
explicit clock, so each change reaches the next request deterministically.
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2

from api.app import create_app
from api.live.feeds import LiveFeeds
from routing.live_sources import LiveSource
from tests.support.api import OPERATOR_KEY, hd_settings, shared_state
from tests.support.feed_server import FeedServer

A = "49.4094,8.6937"  # Bismarckplatz
B = "49.3925,8.6890"  # Rohrbach
WHEN = "2022-09-14T08:00"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server():
    with FeedServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def env(hd_data_dir: Path, cache_dir: Path, server, tmp_path_factory):
    base = shared_state(hd_data_dir, cache_dir)
    state = copy.copy(base)  # the shared state, with its own live feeds
    clock = Clock()
    sources = {
        "tu": LiveSource("tu", "gtfs_rt_trip_updates", server.url("/tu.pb"), 30, 1, 120),
        "al": LiveSource("al", "gtfs_rt_alerts", server.url("/al.pb"), 30, 1, 120),
        "vp": LiveSource("vp", "gtfs_rt_vehicle_positions", server.url("/vp.pb"), 30, 1, 120),
    }
    state.realtime = LiveFeeds(
        sources,
        spool_dir=tmp_path_factory.mktemp("spool"),
        transit=base.transit,
        clock=clock,
    )
    db = tmp_path_factory.mktemp("db") / "b.db"
    settings = hd_settings(
        base.settings.data_dir, base.settings.cache_dir, f"sqlite:///{db}", live_feeds=False
    )
    for path in ("/tu.pb", "/al.pb", "/vp.pb"):
        server.set(path, body=message())
    with TestClient(create_app(settings, state=state)) as client:
        yield client, state, clock


def message(*fills) -> bytes:
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    for i, fill in enumerate(fills):
        entity = msg.entity.add()
        entity.id = str(i)
        fill(entity)
    return msg.SerializeToString()


def poll(state, clock) -> None:
    """Let one poll interval pass and poll every feed (what the threads do)."""
    clock.now += 30
    state.realtime.step()


def plan(client, **extra):
    r = client.get("/api/v1/plan", params={"fromPlace": A, "toPlace": B, "time": WHEN, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def transit_legs(body):
    return [leg for it in body["itineraries"] for leg in it["legs"] if leg["transitLeg"]]


def test_realtime_plans_departures_alerts_and_expiry(env, server) -> None:
    client, state, clock = env
    poll(state, clock)
    body = plan(client)
    assert body["realtime"]["applied"] is True  # an empty feed: no delays, but realtime
    legs = transit_legs(body)
    assert legs and all(leg["realtime"] is False for leg in legs)
    assert all(leg["departureDelay"] == 0 for leg in legs)
    first = legs[0]
    trip, stop, route = first["tripId"], first["from"]["stopId"], first["routeId"]

    # A delay of 4 minutes at the boarding stop: the departure board and the plan show it.
    def late(seconds):
        def fill(entity):
            entity.trip_update.trip.trip_id = trip
            stu = entity.trip_update.stop_time_update.add()
            stu.stop_id = stop
            stu.departure.delay = seconds

        return fill

    server.set("/tu.pb", body=message(late(240)))
    poll(state, clock)
    board = client.get("/api/v1/departures", params={"stopId": stop, "time": WHEN, "limit": 30})
    assert board.status_code == 200, board.text
    row = next(d for d in board.json()["departures"] if d["tripId"] == trip)
    assert row["realtime"] and row["delay"] == 240 and not row["cancelled"]
    scheduled = datetime.fromisoformat(row["scheduledTime"])
    assert (datetime.fromisoformat(row["time"]) - scheduled).total_seconds() == 240
    delayed = [leg for leg in transit_legs(plan(client)) if leg["tripId"] == trip]
    assert delayed
    for leg in delayed:
        assert leg["realtime"] and leg["departureDelay"] == 240
        assert leg["scheduledStartTime"] == first["startTime"]

    # The delay grows: the next poll shows it.
    server.set("/tu.pb", body=message(late(600)))
    poll(state, clock)
    board = client.get("/api/v1/departures", params={"stopId": stop, "time": WHEN, "limit": 30})
    row = next(d for d in board.json()["departures"] if d["tripId"] == trip)
    assert row["delay"] == 600

    # Cancelled: listed as cancelled, never planned.
    def cancel(entity):
        entity.trip_update.trip.trip_id = trip
        entity.trip_update.trip.schedule_relationship = gtfs_realtime_pb2.TripDescriptor.CANCELED

    server.set("/tu.pb", body=message(cancel))
    poll(state, clock)
    assert all(leg["tripId"] != trip for leg in transit_legs(plan(client)))
    board = client.get("/api/v1/departures", params={"stopId": stop, "time": WHEN, "limit": 30})
    rows = [d for d in board.json()["departures"] if d["tripId"] == trip]
    assert rows and rows[0]["cancelled"] is True

    # An alert on the route reaches legs of that route, the board and /alerts.
    def alert(entity):
        entity.alert.header_text.translation.add(text="Umleitung", language="de")
        entity.alert.effect = gtfs_realtime_pb2.Alert.DETOUR
        entity.alert.informed_entity.add(route_id=route)

    server.set("/al.pb", body=message(alert))
    server.set("/tu.pb", body=message())
    poll(state, clock)
    legs = [leg for leg in transit_legs(plan(client)) if leg["routeId"] == route]
    assert legs and all(leg["alerts"][0]["headerText"] == "Umleitung" for leg in legs)
    assert [a["effect"] for a in client.get(f"/api/v1/alerts?routeId={route}").json()] == ["DETOUR"]
    assert client.get("/api/v1/alerts?routeId=nope").json() == []

    # Vehicles on the map.
    def vehicle(entity):
        entity.vehicle.trip.trip_id = trip
        entity.vehicle.vehicle.id = "tram-1"
        entity.vehicle.position.latitude = 49.4094
        entity.vehicle.position.longitude = 8.6937

    server.set("/vp.pb", body=message(vehicle))
    poll(state, clock)
    layer = client.get("/api/v1/map/vehicles").json()
    (feature,) = layer["features"]
    assert feature["geometry"]["coordinates"] == pytest.approx([8.6937, 49.4094], abs=1e-5)
    assert feature["properties"]["vehicleId"] == "tram-1"
    assert feature["properties"]["routeId"] == route

    # Health and metrics per feed.
    feeds = {f["key"]: f for f in client.get("/api/v1/health").json()["feeds"]}
    assert set(feeds) == {"tu", "al", "vp"} and all(f["ok"] for f in feeds.values())
    assert feeds["vp"]["entities"] == 1 and feeds["al"]["age_s"] == 0
    metrics = client.get("/api/v1/metrics", headers={"X-API-Key": OPERATOR_KEY}).text
    assert 'elster_live_feed_up{feed="tu",kind="gtfs_rt_trip_updates"} 1.0' in metrics
    assert 'elster_live_feed_entities{feed="vp",kind="gtfs_rt_vehicle_positions"} 1.0' in metrics

    # The trip-update feed breaks (500): planning goes on; past max age it says so.
    server.set("/tu.pb", body=message(late(300)))
    poll(state, clock)
    server.set("/tu.pb", status=500)
    for _ in range(6):
        poll(state, clock)
    body = plan(client)
    assert body["itineraries"] and body["realtime"]["applied"] is False
    assert "expired" in body["realtime"]["message"]
    assert all(not leg["realtime"] for leg in transit_legs(body))
    tu = {f["key"]: f for f in client.get("/api/v1/health").json()["feeds"]}["tu"]
    assert tu["expired"] and tu["errors_total"] >= 1 and "HTTP 500" in tu["last_error"]
    assert 'elster_live_feed_up{feed="tu",kind="gtfs_rt_trip_updates"} 0.0' in (
        client.get("/api/v1/metrics", headers={"X-API-Key": OPERATOR_KEY}).text
    )
    # Malformed protobuf afterwards changes nothing either.
    server.set("/tu.pb", body=b"\x08\x96\x01garbage")
    poll(state, clock)
    assert plan(client)["itineraries"]
