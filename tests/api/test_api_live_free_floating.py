"""A free-floating GBFS feed polled by the server: /plan (free_floating) and /map/free-floating.

The real-format v3 e-scooter feed (``fixtures/stations/gbfs_free_v3``) is
served by a local HTTP server on 127.0.0.1 and changed between polls; the
feeds are stepped with an explicit clock, so each change reaches the next
request deterministically (what the feed threads do every ``interval_s``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.live.feeds import LiveFeeds
from routing.live_sources import LiveSource
from routing.stations.vehicle_store import VehicleStore
from tests.support.api import hd_settings, shared_state
from tests.support.feed_server import FeedServer, fresh, serve_gbfs
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
HBF = "49.4043,8.6785"
BISMARCK = "49.4095,8.6930"
OK_ID = "gbfs:hd_scoot:vehicle:scoot-ok"


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
    vehicles = VehicleStore()  # nothing until the first poll
    state = copy.copy(base)
    state.vehicles = vehicles
    state.planner = dataclasses.replace(base.planner, vehicles=vehicles)
    state.cache = {}
    clock = Clock()
    url = serve_gbfs(server, FIXTURES / "gbfs_free_v3", "/scoot/")
    source = LiveSource("scoot", "gbfs", url, interval_s=30, timeout_s=1, max_age_s=300)
    state.realtime = LiveFeeds(
        {"scoot": source},
        spool_dir=tmp_path_factory.mktemp("spool"),
        transit=base.transit,
        vehicles=vehicles,
        bbox=base.region.bbox,
        clock=clock,
    )
    db = tmp_path_factory.mktemp("db") / "ff.db"
    settings = hd_settings(
        base.settings.data_dir, base.settings.cache_dir, f"sqlite:///{db}", live_feeds=False
    )
    with TestClient(create_app(settings, state=state)) as client:
        yield client, state, clock


def poll(state, clock, seconds: float = 30) -> None:
    clock.now += seconds
    state.realtime.step()


def plan(client) -> dict:
    r = client.get(
        "/api/v1/plan", params={"fromPlace": HBF, "toPlace": BISMARCK, "modes": "free_floating"}
    )
    assert r.status_code == 200, r.text
    return r.json()


def rides(body) -> list[str]:
    return [
        leg["rentedVehicle"]["id"]
        for it in body["itineraries"]
        for leg in it["legs"]
        if leg.get("rentedVehicle")
    ]


def on_map(client) -> set[str]:
    layer = client.get("/api/v1/map/free-floating")
    assert layer.status_code == 200, layer.text
    return {f["properties"]["id"] for f in layer.json()["features"]}


def test_vehicles_appear_move_and_expire_in_plans_and_on_the_map(env, server) -> None:
    client, state, clock = env
    body = plan(client)  # before the first poll: nothing to ride, and the plan says why
    assert not rides(body) and "free_floating" in json.dumps(body["reasons"])
    assert on_map(client) == set()

    poll(state, clock)
    body = plan(client)
    assert rides(body) == [OK_ID]
    assert OK_ID in on_map(client)
    (use,) = body["realtime"]["feeds"]
    assert use["feed"] == "scoot" and use["used"] and not use["expired"]

    # scoot-ok is rented away: one poll later plans and the map no longer offer it.
    doc = json.loads((FIXTURES / "gbfs_free_v3" / "vehicle_status.json").read_text())
    doc["data"]["vehicles"] = [v for v in doc["data"]["vehicles"] if v["vehicle_id"] != "scoot-ok"]
    server.set("/scoot/vehicle_status.json", body=fresh(doc))
    poll(state, clock, 10)  # not due yet
    assert OK_ID in on_map(client)
    poll(state, clock, 20)
    assert OK_ID not in on_map(client) and OK_ID not in rides(plan(client))

    # The feed breaks (500): planning goes on; past max_age the vehicles are withdrawn.
    server.set("/scoot/vehicle_status.json", status=500)
    poll(state, clock)
    assert plan(client)["realtime"]["feeds"][0]["used"]  # down, vehicles still offered
    for _ in range(10):
        poll(state, clock)
    body = plan(client)
    assert not rides(body) and on_map(client) == set()
    assert "live feed scoot" in json.dumps(body["reasons"])
    assert "live availability not used from scoot (expired)" in body["realtime"]["message"]
    feed = {f["key"]: f for f in client.get("/api/v1/health").json()["feeds"]}["scoot"]
    assert feed["expired"] and "HTTP 500" in feed["last_error"]

    # Back with scoot-ok parked again: offered at the next poll.
    server.set(
        "/scoot/vehicle_status.json",
        body=fresh(json.loads((FIXTURES / "gbfs_free_v3" / "vehicle_status.json").read_text())),
    )
    clock.now = state.realtime.updaters["scoot"].next_poll_at
    state.realtime.step()
    assert rides(plan(client)) == [OK_ID] and OK_ID in on_map(client)
