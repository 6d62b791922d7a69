"""Free-floating GBFS feeds polled by the server, and station feeds that go down.

Real-format feeds (``fixtures/stations/gbfs_free_v3`` e-scooters, ``gbfs_free_v23``
dockless bikes, the Kienzler bike-box file, the OCPI Locations fixture) are
served by a local HTTP server and changed between polls. Polling runs on an
explicit clock (``step(now)``), so "within one poll interval" is exact; the
GBFS documents are stamped with the wall-clock time, which is what the
vehicles' own ``ttl`` is checked against.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.live.feeds import LiveFeeds
from routing.live_sources import LiveSource
from routing.stations.model import Availability
from routing.stations.ocpi import load_ocpi
from routing.stations.parkapi import load_parkapi
from routing.stations.store import ChargerStore, StationStore
from routing.stations.vehicle_store import VehicleStore
from tests.support.feed_server import FeedServer, fresh, serve_gbfs
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
V3 = FIXTURES / "gbfs_free_v3"
V23 = FIXTURES / "gbfs_free_v23"
HBF = (49.4043, 8.6785)


@pytest.fixture
def server():
    with FeedServer() as srv:
        yield srv


def gbfs_source(url: str, key: str = "scoot", **kw) -> LiveSource:
    opts = {"interval_s": 30.0, "timeout_s": 1.0, "max_age_s": 120.0, **kw}
    return LiveSource(key=key, kind="gbfs", url=url, **opts)


def ids(store: VehicleStore, near=HBF, radius=3000.0) -> set[str]:
    """Vehicles offered now near ``near`` (what the planner would be given)."""
    return {h.vehicle.id.rsplit(":", 1)[1] for h in store.nearby(*near, radius)}


def vehicle_doc(folder: Path, name: str) -> dict:
    return json.loads((folder / f"{name}.json").read_text())


def test_v3_scooters_follow_the_feed_within_one_interval(server, tmp_path) -> None:
    url = serve_gbfs(server, V3, "/v3/")
    store = VehicleStore()
    feeds = LiveFeeds({"scoot": gbfs_source(url)}, spool_dir=tmp_path, vehicles=store)
    assert feeds.step(now=0.0)
    assert store.systems() == ["hd_scoot"]
    snap = store.snapshot("hd_scoot")
    assert snap.name == "Heidelberg E-Scooter" and len(snap.geofencing.zones) == 3
    assert snap.vehicle_types["escooter"].max_range_meters
    assert {"ok", "low", "rohrbach"} <= {i.removeprefix("scoot-") for i in ids(store)}
    assert "scoot-reserved" not in ids(store)
    zones = snap.geofencing
    # scoot-ok is rented away, a new scooter appears: the store follows at the next poll.
    doc = vehicle_doc(V3, "vehicle_status")
    rows = [r for r in doc["data"]["vehicles"] if r["vehicle_id"] != "scoot-ok"]
    rows.append({**rows[0], "vehicle_id": "scoot-new", "lat": 49.4050, "lon": 8.6800})
    doc["data"]["vehicles"] = rows
    server.set("/v3/vehicle_status.json", body=fresh(doc))
    feeds.step(now=10.0)  # not due: the interval is 30 s
    assert "scoot-ok" in ids(store) and "scoot-new" not in ids(store)
    feeds.step(now=30.0)
    assert "scoot-ok" not in ids(store) and "scoot-new" in ids(store)
    # One atomic swap per version; unchanged zones stay the same object (cached ride weights).
    assert store.snapshot("hd_scoot").geofencing is zones
    # Conditional requests: the status every poll, the slow documents only after their ttl.
    assert len(server.hits("/v3/vehicle_status.json")) == 2
    assert len(server.hits("/v3/geofencing_zones.json")) == 1
    assert len(server.hits("/v3/vehicle_types.json")) == 1
    assert len(server.hits("/v3/gbfs.json")) == 1
    feeds.step(now=60.0)  # unchanged: 304, no new version
    assert server.hits("/v3/vehicle_status.json")[-1]["If-None-Match"].startswith('"')
    row = feeds.health(now=60.0)[0]
    assert row["version"] == 2 and row["not_modified_total"] == 1 and row["ok"]
    assert row["entities"] == len(store.snapshot("hd_scoot").vehicles)


def test_v23_free_bikes_and_region_bbox(server, tmp_path) -> None:
    url = serve_gbfs(server, V23, "/v2/")
    store = VehicleStore()
    box = (8.60, 49.35, 8.80, 49.45)
    feeds = LiveFeeds(
        {"rad": gbfs_source(url, "rad")}, spool_dir=tmp_path, vehicles=store, bbox=box
    )
    feeds.step(now=0.0)
    (system,) = store.systems()
    snap = store.snapshot(system)
    assert {v.id.rsplit(":", 1)[1] for v in snap.vehicles} >= {"rad-1", "rad-2"}
    assert "rad-docked" not in {v.id.rsplit(":", 1)[1] for v in snap.vehicles}
    assert len(snap.geofencing.zones) > 0 and snap.form_factor(snap.vehicles[0]) == "bicycle"
    narrow = (8.0, 40.0, 8.1, 40.1)  # another region: every vehicle is outside
    other = VehicleStore()
    LiveFeeds(
        {"rad": gbfs_source(url, "rad")}, spool_dir=tmp_path / "b", vehicles=other, bbox=narrow
    ).step(now=0.0)
    assert other.snapshot(system).vehicles == ()


def test_broken_feed_never_breaks_and_expiry_withdraws_the_vehicles(server, tmp_path) -> None:
    url = serve_gbfs(server, V3, "/v3/")
    store = VehicleStore()
    src = gbfs_source(url, timeout_s=0.3, max_age_s=1000.0)
    feeds = LiveFeeds({"scoot": src}, spool_dir=tmp_path, vehicles=store)
    feeds.step(now=0.0)
    offered = ids(store)
    updater = feeds.updaters["scoot"]
    good = server.answers["/v3/vehicle_status.json"]

    # 500: the last good vehicles stay (not yet past max_age), the error shows.
    server.set("/v3/vehicle_status.json", status=500)
    feeds.step(now=30.0)
    row = feeds.health(now=30.0)[0]
    assert "HTTP 500" in row["last_error"] and not row["ok"] and not row["expired"]
    assert ids(store) == offered
    # A hanging server: the poll times out, nothing changes.
    server.set("/v3/vehicle_status.json", body=good.body, hang_s=2.0)
    feeds.step(now=updater.next_poll_at)
    assert (
        "timeout" in feeds.health()[0]["last_error"] or "within" in feeds.health()[0]["last_error"]
    )
    assert ids(store) == offered
    # Malformed JSON, then a JSON document that is not a vehicle list: refused.
    server.set("/v3/vehicle_status.json", body=b'{"data": {"vehicles": [', content_type="x")
    feeds.step(now=updater.next_poll_at)
    assert "not valid JSON" in feeds.health()[0]["last_error"]
    server.set("/v3/vehicle_status.json", body=b'{"data": {"cars": []}}')
    feeds.step(now=updater.next_poll_at)
    assert "data.vehicles" in feeds.health()[0]["last_error"]
    assert ids(store) == offered and updater.applied_version == 1

    assert "scoot" not in feeds.current().status()["message"]  # down, vehicles still offered
    # Past max_age without a good answer: withdrawn, and it says so.
    assert updater.next_poll_at < 1000.0
    feeds.step(now=1001.0)
    assert ids(store) == set()
    snap = store.snapshot("hd_scoot")
    assert "live feed scoot" in snap.withdrawn and len(snap.vehicles) == 8  # kept, not offered
    status = feeds.current().status()
    (use,) = status["feeds"]
    assert use["feed"] == "scoot" and use["kind"] == "gbfs" and not use["used"] and use["expired"]
    assert "live availability not used from scoot (expired)" in status["message"]
    assert feeds.health(now=1001.0)[0]["expired"]

    # The feed answers again with what it had (304 for every document): offered again.
    server.answers["/v3/vehicle_status.json"] = good
    feeds.step(now=max(updater.next_poll_at, 1001.0))
    assert ids(store) == offered and store.snapshot("hd_scoot").withdrawn is None
    assert feeds.current().status()["feeds"][0]["used"]
    assert len(server.hits("/v3/gbfs.json")) > 1  # discovery read again after the errors


def test_suddenly_empty_feed_means_no_vehicles(server, tmp_path) -> None:
    url = serve_gbfs(server, V3, "/v3/")
    store = VehicleStore()
    feeds = LiveFeeds({"scoot": gbfs_source(url)}, spool_dir=tmp_path, vehicles=store)
    feeds.step(now=0.0)
    assert ids(store)
    doc = vehicle_doc(V3, "vehicle_status")
    doc["data"]["vehicles"] = []
    server.set("/v3/vehicle_status.json", body=fresh(doc))
    feeds.step(now=30.0)
    assert ids(store) == set()
    row = feeds.health(now=30.0)[0]
    assert row["ok"] and row["entities"] == 0 and row["errors_total"] == 0


def test_two_workers_fetch_once_and_hold_the_same_vehicles(server, tmp_path) -> None:
    url = serve_gbfs(server, V3, "/v3/")
    a_store, b_store = VehicleStore(), VehicleStore()
    a = LiveFeeds({"scoot": gbfs_source(url)}, spool_dir=tmp_path, vehicles=a_store)
    b = LiveFeeds({"scoot": gbfs_source(url)}, spool_dir=tmp_path, vehicles=b_store)
    a.step(now=0.0)
    b.step(now=0.0)
    assert a.updaters["scoot"].spool.leader and not b.updaters["scoot"].spool.leader
    assert len(server.hits("/v3/vehicle_status.json")) == 1
    assert ids(a_store) == ids(b_store) and ids(a_store)
    a.stop()


# ----------------------------------------------------------------- station feeds that fail


def test_bike_box_feed_down_makes_boxes_unknown_until_it_answers(
    server, tmp_path, mirror_dir: Path
) -> None:
    path = mirror_dir / "bikelockers" / "kienzler.json"
    fetched = datetime.now(UTC)
    store = StationStore(load_parkapi(path, fetched_at=fetched, now=fetched).stations)
    body = path.read_bytes()
    server.set("/boxes.json", body=body, content_type="application/json")
    src = LiveSource("boxes", "parkapi", server.url("/boxes.json"), 30.0, 1.0, 120.0,
                     options={"source_uid": "kienzler"})  # fmt: skip
    feeds = LiveFeeds({"boxes": src}, spool_dir=tmp_path, stations=store)
    feeds.step(now=0.0)
    graben = "parkapi:kienzler:unit574"
    assert store.get(graben).space_availability() is Availability.AVAILABLE
    server.set("/boxes.json", status=500)
    feeds.step(now=30.0)  # down: the counts are no longer trusted
    site = store.get(graben)
    assert site.space_availability() is Availability.UNKNOWN and site.boxes_available == 7
    assert "boxes (down)" in feeds.current().status()["message"]
    server.set("/boxes.json", body=body, content_type="application/json", hang_s=2.0)
    feeds.step(now=feeds.updaters["boxes"].next_poll_at)  # hangs: times out, still unknown
    assert "within 1 s" in feeds.health()[0]["last_error"]
    assert store.get(graben).space_availability() is Availability.UNKNOWN
    server.set("/boxes.json", body=body, content_type="application/json")
    feeds.step(now=feeds.updaters["boxes"].next_poll_at)  # 304: the same counts, confirmed
    assert store.get(graben).space_availability() is Availability.AVAILABLE
    assert "boxes" not in feeds.current().status()["message"]


def test_charger_feed_expired_makes_chargers_unknown_until_new_data(server, tmp_path) -> None:
    doc = json.loads((FIXTURES / "ocpi_locations_gera.json").read_text())
    store = ChargerStore(load_ocpi(FIXTURES / "ocpi_locations_gera.json").chargers)
    server.set("/ocpi", body=json.dumps(doc).encode(), content_type="application/json")
    src = LiveSource("chargers", "ocpi", server.url("/ocpi"), 30.0, 1.0, 60.0)
    feeds = LiveFeeds({"chargers": src}, spool_dir=tmp_path, chargers=store)
    feeds.step(now=0.0)
    lusan = "ocpi:DE*EGA:GERA-LUSAN"
    assert not store.get(lusan).stale
    server.set("/ocpi", body=b"<html>maintenance</html>", content_type="text/html")
    updater = feeds.updaters["chargers"]
    while updater.next_poll_at <= 61.0:
        feeds.step(now=updater.next_poll_at)
    feeds.step(now=61.0)
    assert store.get(lusan).stale and feeds.health(now=61.0)[0]["expired"]
    assert "chargers (expired)" in feeds.current().status()["message"]
    server.set("/ocpi", body=json.dumps(doc).encode(), content_type="application/json")
    feeds.step(now=updater.next_poll_at)
    assert not store.get(lusan).stale
