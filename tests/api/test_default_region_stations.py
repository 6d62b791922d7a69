"""The default region as a new user meets it: bike+ride, boxes and chargers without live data.

Heidelberg's real data has 54 public bicycle-parking sites from OSM (capacity
known, live state unknown), no bike-share feed and 39 chargers from the
BNetzA register (no live status). Unknown is not "none": these sites must be
offered, say "availability unknown" on the leg, and show on the map, both
through the planner (as ``elster plan`` uses it) and through the HTTP API.
Free-floating vehicles are added to a copy of the served state to check the
API end to end (mode, legs, map layers).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from routing.planner import EvSpec, PlanRequest, load_plan_context, plan
from routing.stations.free_floating import load_free_floating
from routing.stations.vehicle_store import VehicleStore
from tests.support.api import hd_settings, shared_state
from tests.support.cli import run_elster
from tests.support.paths import FIXTURES_DIR

HANDSCHUHSHEIM = (49.4270, 8.6840)
ROHRBACH = (49.3790, 8.6890)
DEPART = dt.datetime(2022, 9, 14, 8, 0)
FIXTURES = FIXTURES_DIR / "stations"


@pytest.fixture(scope="module")
def hd_ctx(hd_region, hd_data_dir, cache_dir):
    """The plan context exactly as ``elster plan heidelberg`` loads it."""
    return load_plan_context(hd_region, data_dir=hd_data_dir, cache_dir=cache_dir)


def test_region_has_parking_of_unknown_availability(hd_ctx) -> None:
    sites = [s for s in hd_ctx.stations if s.kind.value in ("bike_parking", "bike_box")]
    assert len(sites) == 54
    assert not any(s.availability_known for s in sites)
    assert all(s.space_availability().value == "unknown" for s in sites)


def test_bike_ride_appears_in_default_region_plans(hd_ctx) -> None:
    result = plan(
        PlanRequest(HANDSCHUHSHEIM, ROHRBACH, DEPART, modes="bike_ride,bike_share"), hd_ctx
    )
    rides = [it for it in result.itineraries if it.mode == "bike_ride"]
    assert rides, result.reasons
    for it in rides:
        bike = it.legs[0]
        assert bike.mode == "BICYCLE"
        site = bike.extra["toStation"]
        assert site["id"].startswith("osm:")
        assert site["kind"] == "bike_parking"
        assert site["availability"] == "unknown"
        assert "availability unknown" in site["availabilityNote"]
        assert bike.extra["availability"] == "unknown"
        assert bike.extra["reliesOnRealtime"] is False
        assert any(leg.transit for leg in it.legs)
        store = hd_ctx.stations.get(site["id"])
        assert (bike.to_place.lat, bike.to_place.lon) == (store.lat, store.lon)
    # no bike share in the region: said why, not a crash
    assert "bike-share station" in result.reasons["bike_share"]


def test_register_chargers_are_offered_as_unknown(hd_ctx) -> None:
    car = EvSpec(capacity_kwh=40.0, battery_percent=60)
    result = plan(
        PlanRequest(HANDSCHUHSHEIM, (49.4030, 8.6750), DEPART, modes="ev_park_charge", ev=car),
        hd_ctx,
    )
    assert result.itineraries, result.reasons
    info = result.itineraries[0].legs[0].extra["toCharger"]
    assert info["id"].startswith("bnetza:")
    assert info["availability"] == "unknown"
    assert result.itineraries[0].legs[0].extra["reliesOnRealtime"] is False


# ------------------------------------------------------------------------------------ API


@pytest.fixture(scope="module")
def state(hd_data_dir: Path, cache_dir: Path):
    return shared_state(hd_data_dir, cache_dir)


@pytest.fixture(scope="module")
def client(state, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "b.db"
    settings_ = hd_settings(state.settings.data_dir, state.settings.cache_dir, f"sqlite:///{db}")
    with TestClient(create_app(settings_, state=state)) as c:
        yield c


def test_api_plan_offers_bike_ride_with_unknown_availability(client, state) -> None:
    r = client.get(
        "/api/v1/plan",
        params={
            "fromPlace": f"{HANDSCHUHSHEIM[0]},{HANDSCHUHSHEIM[1]}",
            "toPlace": f"{ROHRBACH[0]},{ROHRBACH[1]}",
            "time": "2022-09-14T08:00:00",
            "modes": "bike_ride,bike_share",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    rides = [it for it in body["itineraries"] if it["mode"] == "bike_ride"]
    assert rides, body["reasons"]
    for it in rides:
        bike = it["legs"][0]
        assert bike["mode"] == "BICYCLE"
        site = state.stations.get(bike["toStation"]["id"])
        # (another API test of this session may have PUT live counts on one site)
        known = site.availability_known
        assert bike["availability"] == ("available" if known else "unknown")
        assert bike["reliesOnRealtime"] is known
        assert bike["toStation"]["availability"] == bike["availability"]
    assert any(it["legs"][0]["availability"] == "unknown" for it in rides)


def test_api_map_shows_sites_with_availability(client) -> None:
    doc = client.get("/api/v1/stations", params={"format": "geojson"}).json()
    props = [f["properties"] for f in doc["features"]]
    assert len(props) == 54
    # (other API tests of this session may have PUT live counts on a station)
    for p in props:
        if not p["realtime"] or p["stale"]:
            assert p["availability"] == "unknown", p
        else:
            assert p["availability"] == ("available" if p["docks_available"] else "none"), p
    assert sum(p["availability"] == "unknown" for p in props) >= 50
    chargers = client.get("/api/v1/chargers", params={"format": "geojson"}).json()
    assert {f["properties"]["availability"] for f in chargers["features"]} == {"unknown"}
    # the region has no free-floating feed: empty layers, not errors
    assert client.get("/api/v1/map/free-floating").json()["features"] == []
    assert client.get("/api/v1/map/geofencing").json()["features"] == []
    health = client.get("/api/v1/health").json()
    assert health["components"]["vehicles"]["ready"] is True


def test_api_free_floating_end_to_end(state, tmp_path_factory) -> None:
    now = dt.datetime.now(dt.UTC)
    # The fixture feeds stamped "now", so they are fresh when the server plans.
    scoot = load_free_floating(FIXTURES / "gbfs_free_v3", now=now)
    scoot = dataclasses.replace(scoot, valid_until=now + dt.timedelta(minutes=10), last_updated=now)
    vehicles = VehicleStore([scoot])
    planner = dataclasses.replace(state.planner, vehicles=vehicles)
    served = dataclasses.replace(state, vehicles=vehicles, planner=planner, cache={})
    db = tmp_path_factory.mktemp("db") / "ff.db"
    settings_ = hd_settings(state.settings.data_dir, state.settings.cache_dir, f"sqlite:///{db}")
    with TestClient(create_app(settings_, state=served)) as c:
        r = c.get(
            "/api/v1/plan",
            params={
                "fromPlace": "49.4043,8.6785",
                "toPlace": "49.4095,8.6930",
                "modes": "free_floating",
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["modes"] == ["free_floating"]
        it = body["itineraries"][0]
        assert [leg["mode"] for leg in it["legs"]] == ["WALK", "SCOOTER", "WALK"]
        ride = it["legs"][1]
        assert ride["rentedVehicle"]["id"] == "gbfs:hd_scoot:vehicle:scoot-ok"
        assert ride["reliesOnRealtime"] is True
        assert ride["geofencing"]["parkingAllowedAtEnd"] is True
        layer = c.get("/api/v1/map/free-floating").json()
        ids = {f["properties"]["id"] for f in layer["features"]}
        assert "gbfs:hd_scoot:vehicle:scoot-ok" in ids
        assert "gbfs:hd_scoot:vehicle:scoot-reserved" not in ids
        zones = c.get("/api/v1/map/geofencing").json()
        assert len(zones["features"]) == 3
        bad = c.get("/api/v1/plan", params={"fromPlace": "49.40,8.67", "toPlace": "49.41,8.69",
                                             "modes": "free_floating,scooter"})  # fmt: skip
        assert bad.status_code == 422
        assert "free_floating" in bad.json()["message"]


# ------------------------------------------------------------------------------------ CLI


def test_cli_plan_bike_ride_and_free_floating(hd_data_dir: Path, cache_dir: Path) -> None:
    done = run_elster(
        "plan", "heidelberg", "--from", "49.4270,8.6840", "--to", "49.3790,8.6890",
        "--at", "2022-09-14T08:00", "--modes", "bike_ride,bike_share,free_floating",
        data_dir=hd_data_dir, cache_dir=cache_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "BICYCLE" in done.stdout
    assert "[availability unknown: no live data]" in done.stdout
    assert "(free_floating: no free-floating vehicles loaded" in done.stderr
    assert "no bike box with a free box" not in done.stdout + done.stderr
    bad = run_elster(
        "plan", "heidelberg", "--from", "49.4270,8.6840", "--to", "49.3790,8.6890",
        "--at", "2022-09-14T08:00", "--modes", "scooter",
        data_dir=hd_data_dir, cache_dir=cache_dir,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "unknown mode(s) 'scooter'" in bad.stderr and "free_floating" in bad.stderr
    assert "Traceback" not in bad.stderr
