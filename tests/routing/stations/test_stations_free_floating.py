"""Free-floating GBFS (v2.3 free_bike_status, v3 vehicle_status), geofencing zones, the store.

The fixtures in ``tests/fixtures/stations/gbfs_free_v3`` (e-scooters) and
``gbfs_free_v23`` (dockless bikes) follow the official GBFS field names of
each version; they place vehicles and zones in Heidelberg for the planner tests.
"""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from routing.errors import DataError, RequestError
from routing.stations.free_floating import (
    build_snapshot,
    load_free_floating,
    parse_vehicle_status,
)
from routing.stations.gbfs import load_gbfs, parse_vehicle_types
from routing.stations.geofencing import parse_geofencing_zones
from routing.stations.vehicle_store import VehicleStore
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
V3 = FIXTURES / "gbfs_free_v3"
V23 = FIXTURES / "gbfs_free_v23"
NOW = datetime(2022, 9, 14, 6, 0, tzinfo=UTC)


def doc(path: Path) -> dict:
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- vehicles


def test_v3_vehicle_status_and_types() -> None:
    snap = load_free_floating(V3, now=NOW)
    assert (snap.system_id, snap.name) == ("hd_scoot", "Heidelberg E-Scooter")
    assert snap.last_updated == datetime(2022, 9, 14, 5, 58, tzinfo=UTC)
    assert snap.ttl == 60
    assert snap.valid_until == snap.last_updated + timedelta(seconds=60 + 300)
    assert not snap.stale(NOW)
    assert snap.stale(NOW + timedelta(minutes=10))
    by_id = {v.id.rsplit(":", 1)[1]: v for v in snap.vehicles}
    assert len(by_id) == 8
    ok = by_id["scoot-ok"]
    assert ok.id == "gbfs:hd_scoot:vehicle:scoot-ok"
    assert (ok.lat, ok.lon, ok.current_range_meters, ok.rentable) == (49.4046, 8.6795, 6000, True)
    assert not by_id["scoot-reserved"].rentable
    assert not by_id["scoot-disabled"].rentable
    scooter = snap.vehicle_types["escooter"]
    assert (scooter.form_factor, scooter.propulsion_type, scooter.name) == (
        "scooter_standing", "electric", "E-Scooter",
    )  # fmt: skip
    assert (scooter.max_range_meters, scooter.max_permitted_speed_kph) == (20000, 20)
    assert scooter.motorised
    # range: published, or charge x full range
    assert snap.range_m(ok) == 6000
    assert snap.range_m(by_id["scoot-fuel"]) == pytest.approx(10000)


def test_v23_free_bike_status_survives_defects() -> None:
    snap = load_free_floating(V23, now=NOW)
    assert snap.system_id == "hd_rad"
    ids = sorted(v.id.rsplit(":", 1)[1] for v in snap.vehicles)
    # docked bike left to the station feed, null position and missing id skipped
    assert ids == ["ebike-empty", "rad-1", "rad-2"]
    rad2 = next(v for v in snap.vehicles if v.id.endswith("rad-2"))
    assert (rad2.lat, rad2.lon) == (49.4091, 8.6861)  # the later of two reports
    text = "\n".join(snap.warnings)
    assert "'rad-broken-pos' has no valid lat/lon" in text
    assert "'rad-2' is listed more than once" in text
    assert "vehicle 6 has no vehicle_id/bike_id" in text
    bike = next(v for v in snap.vehicles if v.id.endswith("rad-1"))
    assert snap.range_m(bike) is None  # human-powered: no range limit
    assert not snap.vehicle_types["bike"].motorised
    batch = parse_vehicle_status(doc(V23 / "free_bike_status.json"), system_id="hd_rad")
    assert batch.docked == 1


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        ('{"data": {"stations": []}}', "data.vehicles"),
        ("[]", "data.vehicles"),
        ('{"data": {"vehicles": {"a": 1}}}', "data.vehicles"),
    ],
)
def test_malformed_vehicle_documents_are_data_errors(raw, match) -> None:
    with pytest.raises(DataError, match=match):
        parse_vehicle_status(raw, "feed.json", system_id="x")


def test_bad_values_are_warnings_not_crashes() -> None:
    batch = parse_vehicle_status(
        {
            "last_updated": "yesterday",
            "ttl": -5,
            "data": {
                "vehicles": [
                    "nonsense",
                    {"vehicle_id": "a", "lat": 0, "lon": 0},
                    {"vehicle_id": "b", "lat": 95, "lon": 8.6},
                    {"vehicle_id": "c", "lat": 49.4, "lon": 8.6, "current_range_meters": -3,
                     "is_reserved": "maybe", "current_fuel_percent": 40},
                ]
            },
        },
        system_id="x",
    )  # fmt: skip
    assert [v.id for v in batch.vehicles] == ["gbfs:x:vehicle:c"]
    c = batch.vehicles[0]
    assert c.current_range_meters is None
    assert c.current_fuel_percent is None
    assert not c.rentable  # an unreadable is_reserved is taken as not rentable
    text = "\n".join(batch.warnings)
    for part in ("not an object", "'a' has no valid lat/lon", "'b' has no valid lat/lon",
                 "current_range_meters -3", "is_reserved 'maybe'", "invalid ttl",
                 "invalid last_updated"):  # fmt: skip
        assert part in text


def test_vehicle_types_layouts_and_defects() -> None:
    types, warnings = parse_vehicle_types(doc(V3 / "vehicle_types.json"))
    assert types["ecar"].form_factor == "car"
    types, warnings = parse_vehicle_types(
        {"data": {"vehicle_types": [
            {"vehicle_type_id": "s", "form_factor": "scooter", "propulsion_type": "electric"},
            {"vehicle_type_id": "t", "form_factor": "scooter", "propulsion_type": "electric",
             "max_range_meters": "far"},
            {"form_factor": "bicycle"},
        ]}}
    )  # fmt: skip
    assert types["s"].max_range_meters is None
    assert any("'s' is motorised but has no max_range_meters" in w for w in warnings)
    assert any("'far' is not a positive number" in w for w in warnings)
    assert any("has no vehicle_type_id" in w for w in warnings)
    with pytest.raises(DataError, match=r"data\.vehicle_types"):
        parse_vehicle_types({"data": {}}, "vehicle_types.json")


# --------------------------------------------------------------------------- discovery


def test_station_loader_points_free_floating_feeds_to_the_right_reader() -> None:
    with pytest.raises(DataError, match="free-floating GBFS system"):
        load_gbfs(V3, now=NOW)


def test_station_feed_is_not_free_floating(mirror_dir: Path) -> None:
    with pytest.raises(DataError, match="not a free-floating system"):
        load_free_floating(mirror_dir / "gbfs" / "helsinki", now=NOW)


def test_missing_feed_and_broken_optional_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="GBFS feed not found"):
        load_free_floating(tmp_path / "nowhere")
    feed = tmp_path / "feed"
    shutil.copytree(V3, feed)
    (feed / "geofencing_zones.json").write_text('{"data": ')
    (feed / "vehicle_types.json").write_text('{"data": {"vehicle_types": 5}}')
    snap = load_free_floating(feed, now=NOW)
    assert len(snap.vehicles) == 8
    assert snap.geofencing.zones == ()
    assert snap.vehicle_types == {}
    text = "\n".join(snap.warnings)
    assert "geofencing_zones.json" in text and "not valid JSON" in text
    assert "vehicle_types" in text
    (feed / "vehicle_status.json").write_text("[1, 2")
    with pytest.raises(DataError, match=r"vehicle_status\.json.*not valid JSON"):
        load_free_floating(feed, now=NOW)


def test_feed_over_http(tmp_path: Path) -> None:
    import functools
    import http.server

    root = tmp_path / "srv"
    shutil.copytree(V23, root)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    discovery = doc(V23 / "gbfs.json")
    for feed in discovery["data"]["de"]["feeds"]:
        feed["url"] = f"http://127.0.0.1:{port}/{feed['name']}.json"
    (root / "gbfs.json").write_text(json.dumps(discovery))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        snap = load_free_floating(f"http://127.0.0.1:{port}/gbfs.json", now=NOW)
    finally:
        server.shutdown()
    assert snap.system_id == "hd_rad"
    assert len(snap.vehicles) == 3
    assert len(snap.geofencing.zones) == 2


# --------------------------------------------------------------------------- zones


def test_v3_zones_global_rules_and_precedence() -> None:
    zones = parse_geofencing_zones(doc(V3 / "geofencing_zones.json"))
    assert [z.name for z in zones.zones] == [
        "Hauptbahnhof Vorplatz (kein Start)",
        "Baustelle Kurfürsten-Anlage (Durchfahrt verboten)",
        "Bismarckplatz (Parkverbot, Schritttempo)",
    ]
    no_start = zones.rule_at(49.40425, 8.6783, "escooter")
    assert (no_start.ride_start_allowed, no_start.ride_end_allowed) == (False, True)
    works = zones.rule_at(49.4064, 8.6878, "escooter")
    assert not works.ride_through_allowed and not works.parking_allowed
    centre = zones.rule_at(49.4095, 8.6930, "escooter")
    assert centre.ride_through_allowed and not centre.parking_allowed
    assert centre.maximum_speed_kph == 10
    outside = zones.rule_at(49.38, 8.69, "escooter")  # global rule
    assert outside.parking_allowed and outside.maximum_speed_kph == 20
    # the zones' rules name only e-scooters: a car type gets the global rules there
    assert zones.rule_at(49.4064, 8.6878, "ecar").ride_through_allowed
    # vectorised lookup agrees with the point lookup
    lats = np.array([49.40425, 49.4064, 49.4095, 49.38])
    lons = np.array([8.6783, 8.6878, 8.6930, 8.69])
    many = zones.rules_at(lats, lons, "escooter")
    for i in range(4):
        one = zones.rule_at(float(lats[i]), float(lons[i]), "escooter")
        assert many.start[i] == one.ride_start_allowed
        assert many.end[i] == one.parking_allowed
        assert many.through[i] == one.ride_through_allowed
        assert many.speed_kph[i] == (one.maximum_speed_kph or np.inf)


def test_v23_zones_ride_allowed_and_station_parking() -> None:
    zones = parse_geofencing_zones(doc(V23 / "geofencing_zones.json"))
    market = zones.rule_at(49.4160, 8.6930, "bike")
    assert market.ride_start_allowed and market.ride_end_allowed and market.station_parking
    assert not market.parking_allowed  # only at stations: no free-floating end
    bridge_ebike = zones.rule_at(49.4120, 8.6930, "ebike")
    assert not bridge_ebike.ride_start_allowed and not bridge_ebike.ride_end_allowed
    assert bridge_ebike.ride_through_allowed and bridge_ebike.maximum_speed_kph == 12
    bridge_bike = zones.rule_at(49.4120, 8.6930, "bike")  # rule is for e-bikes only
    assert bridge_bike.parking_allowed and bridge_bike.maximum_speed_kph is None
    # overlapping zones: the first listed decides (the market, not the bridge)
    first = zones.rule_at(49.4142, 8.6930, "ebike")
    assert first.station_parking and first.ride_start_allowed


def test_invalid_zone_geometry_is_skipped_or_repaired() -> None:
    bowtie = [[[8.0, 49.0], [8.1, 49.1], [8.1, 49.0], [8.0, 49.1], [8.0, 49.0]]]
    zones = parse_geofencing_zones(
        {"data": {"geofencing_zones": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [8, 49]},
             "properties": {"rules": [{"ride_allowed": False}]}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[8, 49]]]},
             "properties": {"rules": [{"ride_allowed": False}]}},
            {"type": "Feature", "geometry": {"type": "Polygon",
                                             "coordinates": [[[49, 800], [50, 800], [50, 801]]]},
             "properties": {"rules": [{"ride_allowed": False}]}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": bowtie},
             "properties": {"name": "bowtie", "rules": [{"ride_through_allowed": False}]}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": bowtie},
             "properties": {"rules": "none"}},
            "junk",
        ]}}},
        "zones.json",
    )  # fmt: skip
    assert [z.name for z in zones.zones] == ["bowtie"]
    text = "\n".join(zones.warnings)
    assert "must be a Polygon or MultiPolygon, got 'Point'" in text
    assert "unreadable geometry" in text
    assert "out of range" in text
    assert "invalid polygon" in text and "repaired" in text
    assert "no usable rules" in text
    assert "not a GeoJSON feature" in text
    assert not zones.rule_at(49.05, 8.02, None).ride_through_allowed  # left lobe
    assert zones.rule_at(49.2, 8.02, None).ride_through_allowed
    for bad in ({}, {"data": {"geofencing_zones": {"features": "x"}}}, []):
        with pytest.raises(DataError, match=r"data\.geofencing_zones"):
            parse_geofencing_zones(bad, "zones.json")


# --------------------------------------------------------------------------- store


def test_store_nearby_and_atomic_updates() -> None:
    store = VehicleStore([load_free_floating(V3, now=NOW), load_free_floating(V23, now=NOW)])
    assert store.systems() == ["hd_rad", "hd_scoot"]
    near = store.nearby(49.4043, 8.6785, 150, now=NOW)
    ids = [h.vehicle.id.rsplit(":", 1)[1] for h in near]
    assert "scoot-reserved" not in ids and "scoot-disabled" not in ids
    assert ids[0] == "car-1"  # nearest, but not rideable:
    ride = store.nearby(49.4043, 8.6785, 150, now=NOW, form_factors={"scooter_standing"})
    assert "car-1" not in [h.vehicle.id.rsplit(":", 1)[1] for h in ride]
    assert [h.distance_m for h in near] == sorted(h.distance_m for h in near)
    # a poller applies the next vehicle_status: only scoot-ok is left, a minute later
    before = store.view()
    update = doc(V3 / "vehicle_status.json")
    update["last_updated"] = "2022-09-14T05:59:00Z"
    update["data"]["vehicles"] = [
        v for v in update["data"]["vehicles"] if v["vehicle_id"] == "scoot-ok"
    ]
    report = store.apply_vehicle_status("hd_scoot", json.dumps(update).encode(), now=NOW)
    assert report.applied == 1
    after = store.nearby(49.4043, 8.6785, 150, now=NOW, form_factors={"scooter_standing"})
    assert [h.vehicle.id for h in after] == ["gbfs:hd_scoot:vehicle:scoot-ok"]
    assert after[0].snapshot.geofencing.zones  # zones and types survive a vehicle update
    assert after[0].snapshot.vehicle_types
    # the old view a planner still holds is unchanged
    assert len(before.snapshots["hd_scoot"].vehicles) == 8
    # a broken document changes nothing
    with pytest.raises(DataError):
        store.apply_vehicle_status("hd_scoot", b"<html>502 Bad Gateway</html>", now=NOW)
    assert store.nearby(49.4043, 8.6785, 150, now=NOW, form_factors={"scooter_standing"}) == after
    # stale data is not offered
    assert store.nearby(49.4043, 8.6785, 150, now=NOW + timedelta(minutes=10)) == []
    # an empty feed empties the system
    empty = {"last_updated": "2022-09-14T05:59:30Z", "ttl": 60, "data": {"vehicles": []}}
    store.apply_vehicle_status("hd_scoot", empty, now=NOW)
    assert store.nearby(49.4043, 8.6785, 150, now=NOW, form_factors={"scooter_standing"}) == []


def test_store_zone_and_type_updates_and_bad_queries() -> None:
    store = VehicleStore()
    assert len(store) == 0 and store.nearby(49.4, 8.7, 100) == []
    store.apply_geofencing("new", (V3 / "geofencing_zones.json").read_bytes())
    store.apply_vehicle_types("new", (V3 / "vehicle_types.json").read_text())
    snap = store.snapshot("new")
    assert snap is not None and len(snap.geofencing.zones) == 3 and "escooter" in snap.vehicle_types
    with pytest.raises(DataError):
        store.apply_geofencing("new", b"{}")
    assert len(store.snapshot("new").geofencing.zones) == 3
    with pytest.raises(RequestError):
        store.nearby(95.0, 8.7, 100)
    assert store.remove("new") and not store.remove("new")


def test_build_snapshot_reports_unknown_types() -> None:
    batch = parse_vehicle_status(doc(V3 / "vehicle_status.json"), system_id="hd_scoot")
    types, _ = parse_vehicle_types(doc(V23 / "vehicle_types.json"))
    snap = build_snapshot(batch, system_id="hd_scoot", vehicle_types=types, now=NOW)
    assert any("not in vehicle_types (ecar, escooter)" in w for w in snap.warnings)
    assert snap.range_m(snap.vehicles[0]) == 6000


REGION_TOML = """
name = "hd-free"
title = "Heidelberg with free-floating systems"
timezone = "Europe/Berlin"
bbox = [8.58, 49.39, 8.84, 49.51]

[sources.bikes]
kind = "gbfs"
path = "gbfs/hd_bikes"

[sources.scooters]
kind = "gbfs"
path = "gbfs/hd_scoot"

[sources.rad]
kind = "gbfs"
path = "gbfs/hd_rad"
"""


def test_region_loader_splits_station_and_free_floating_feeds(tmp_path: Path) -> None:
    from routing.regions import load_region
    from routing.stations import load_stations, load_vehicles

    data = tmp_path / "data"
    from benchmarks.support.planner import PLANNER_FIXTURES

    planner = PLANNER_FIXTURES / "gbfs_heidelberg"
    shutil.copytree(planner, data / "gbfs" / "hd_bikes")
    shutil.copytree(V3, data / "gbfs" / "hd_scoot")
    shutil.copytree(V23, data / "gbfs" / "hd_rad")
    toml = tmp_path / "hd-free.toml"
    toml.write_text(REGION_TOML)
    region = load_region(toml)
    stations = load_stations(region, data, now=NOW)  # free-floating feeds are not refused
    assert stations.snapshot() and all(s.id.startswith("gbfs:hd_bikes:") for s in stations)
    vehicles = load_vehicles(region, data, now=NOW)
    assert vehicles.systems() == ["hd_rad", "hd_scoot"]
    ids = {v.id for v in vehicles.snapshot("hd_scoot").vehicles}
    assert "gbfs:hd_scoot:vehicle:scoot-rohrbach" not in ids  # south of the region's box
    assert "gbfs:hd_scoot:vehicle:scoot-ok" in ids
    (data / "gbfs" / "hd_scoot" / "vehicle_status.json").write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_vehicles(region, data, now=NOW)


def test_feed_without_vehicle_types_has_bikes() -> None:
    """GBFS v2.0-style free_bike_status: no vehicle_types, every vehicle is a bicycle."""
    batch = parse_vehicle_status(
        {"last_updated": 1663135080, "ttl": 60,
         "data": {"bikes": [{"bike_id": "b1", "lat": 49.41, "lon": 8.69,
                             "is_reserved": 0, "is_disabled": 0}]}},
        system_id="old",
    )  # fmt: skip
    snap = build_snapshot(batch, system_id="old", now=NOW)
    store = VehicleStore([snap])
    hits = store.nearby(49.41, 8.69, 50, now=NOW, form_factors={"bicycle"})
    assert [h.vehicle.id for h in hits] == ["gbfs:old:vehicle:b1"]
    assert snap.form_factor(hits[0].vehicle) == "bicycle"
    assert snap.range_m(hits[0].vehicle) is None
    # with vehicle_types published, a vehicle of an unlisted type has no known form
    typed = build_snapshot(
        batch, system_id="old", now=NOW, vehicle_types=load_free_floating(V3, now=NOW).vehicle_types
    )
    assert typed.form_factor(typed.vehicles[0]) is None
