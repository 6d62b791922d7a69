"""Station feeds polled by the server: ParkAPI bike boxes, OCPI chargers (paged), GBFS status.

Real-format documents (the Kienzler locker file, the OCPI fixture, the
Helsinki GBFS feed) are served by a local HTTP server and changed between polls.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.live.feeds import LiveFeeds
from routing.live_sources import LiveSource
from routing.stations.model import EvseStatus
from routing.stations.ocpi import load_ocpi
from routing.stations.parkapi import load_parkapi
from routing.stations.store import ChargerStore, StationStore
from tests.support.feed_server import FeedServer
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
FETCHED = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def server():
    with FeedServer() as srv:
        yield srv


def source(server, key, kind, path, **options) -> LiveSource:
    return LiveSource(key, kind, server.url(path), 30.0, 1.0, 120.0, options=options)


def test_bike_box_site_empties_and_bad_json_changes_nothing(
    server, tmp_path, mirror_dir: Path
) -> None:
    path = mirror_dir / "bikelockers" / "kienzler.json"
    store = StationStore(load_parkapi(path, fetched_at=FETCHED, now=FETCHED).stations)
    doc = json.loads(path.read_text())
    server.set("/boxes.json", body=json.dumps(doc).encode(), content_type="application/json")
    feeds = LiveFeeds(
        {"boxes": source(server, "boxes", "parkapi", "/boxes.json", source_uid="kienzler")},
        spool_dir=tmp_path,
        stations=store,
    )
    feeds.step(now=0.0)
    graben = "parkapi:kienzler:unit574"
    assert store.get(graben).boxes_available == 7 and store.get(graben).has_free_space()
    for row in doc:
        if row["id"] == "unit574":
            row["bookable"] = 0
            row["boxes"] = {k: {**v, "bookable": 0} for k, v in row["boxes"].items()}
    server.set("/boxes.json", body=json.dumps(doc).encode(), content_type="application/json")
    feeds.step(now=30.0)
    assert store.get(graben).boxes_available == 0 and not store.get(graben).has_free_space()
    server.set("/boxes.json", body=b"{not json", content_type="application/json")
    feeds.step(now=60.0)
    row = feeds.health(now=60.0)[0]
    assert "not JSON" in row["last_error"] and row["errors_total"] == 1
    assert store.get(graben).boxes_available == 0


def test_charger_goes_out_of_order_through_paged_ocpi(server, tmp_path) -> None:
    doc = json.loads((FIXTURES / "ocpi_locations_gera.json").read_text())
    store = ChargerStore(load_ocpi(FIXTURES / "ocpi_locations_gera.json").chargers)
    first, rest = doc["data"][:1], doc["data"][1:]

    def serve(rows_a, rows_b):
        link = {"Link": f'<{server.url("/ocpi/page2")}>; rel="next"'}
        server.set(
            "/ocpi/locations",
            body=json.dumps({"data": rows_a, "status_code": 1000}).encode(),
            content_type="application/json",
            headers=link,
        )
        server.set(
            "/ocpi/page2",
            body=json.dumps({"data": rows_b, "status_code": 1000}).encode(),
            content_type="application/json",
        )

    serve(first, rest)
    token = LiveSource(
        "chargers",
        "ocpi",
        server.url("/ocpi/locations"),
        30.0,
        2.0,
        120.0,
        auth_header="Authorization",
        auth_value="Token abc",
    )
    feeds = LiveFeeds({"chargers": token}, spool_dir=tmp_path, chargers=store)
    feeds.step(now=0.0)
    lusan = "ocpi:DE*EGA:GERA-LUSAN"
    assert store.get(lusan).evses[0].status is not EvseStatus.OUTOFORDER
    broken = json.loads(json.dumps(rest))
    for loc in broken:
        if loc["id"] == "GERA-LUSAN":
            loc["evses"][0]["status"] = "OUTOFORDER"
    serve(first, broken)
    feeds.step(now=30.0)
    assert store.get(lusan).evses[0].status is EvseStatus.OUTOFORDER
    hits = server.hits("/ocpi/locations")
    assert hits[0]["Authorization"] == "Token abc" and len(server.hits("/ocpi/page2")) == 2
    assert feeds.health(now=30.0)[0]["entities"] == len(store) == 3  # 2 unpublished or unplaced


def test_gbfs_station_status_is_polled_after_discovery(server, tmp_path, mirror_dir) -> None:
    folder = mirror_dir / "gbfs" / "helsinki"
    base = server.url("/gbfs/")
    discovery = json.loads((folder / "gbfs.json").read_text())
    for lang in discovery["data"].values():
        for item in lang["feeds"]:
            item["url"] = base + item["name"] + ".json"
    server.set("/gbfs/gbfs.json", body=json.dumps(discovery).encode())
    for name in ("station_information", "system_information", "station_status"):
        server.set(f"/gbfs/{name}.json", body=(folder / f"{name}.json").read_bytes())
    status = json.loads((folder / "station_status.json").read_text())
    store = StationStore([])
    feeds = LiveFeeds(
        {"bikes": source(server, "bikes", "gbfs", "/gbfs/gbfs.json")},
        spool_dir=tmp_path,
        stations=store,
    )
    feeds.step(now=0.0)
    assert len(store) > 0, feeds.health(now=0.0)
    station = status["data"]["stations"][0]
    sid = next(s.id for s in store.snapshot() if s.id.endswith(":" + str(station["station_id"])))
    station["num_bikes_available"] = 0
    station["last_reported"] = int(station.get("last_reported", 0)) + 60
    status["last_updated"] = int(status.get("last_updated", 0)) + 60
    server.set("/gbfs/station_status.json", body=json.dumps(status).encode())
    feeds.step(now=30.0)
    assert store.get(sid).bikes_available == 0
    assert feeds.health(now=30.0)[0]["version"] == 2
