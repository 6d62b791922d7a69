"""Station/charger stores: radius lookup (brute-force oracle), filters, live updates, threads."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from routing.errors import DataError, RequestError
from routing.geo import haversine_scalar_m as haversine_m
from routing.stations.gbfs import load_gbfs
from routing.stations.geojson import chargers_to_geojson, stations_to_geojson
from routing.stations.model import Station, StationKind
from routing.stations.ocpi import load_ocpi
from routing.stations.parkapi import load_parkapi
from routing.stations.store import ChargerStore, StationStore
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
V3_TIME = datetime(2025, 11, 5, 12, 0, 30, tzinfo=UTC)


def make_station(i: int, lat: float, lon: float, **kw: object) -> Station:
    fields: dict[str, object] = {"kind": StationKind.BIKE_PARKING, "source": "test"}
    fields.update(kw)
    return Station(id=f"t:{i}", name=f"s{i}", lat=lat, lon=lon, **fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- spatial


def test_nearby_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    lats = np.concatenate([rng.uniform(49.34, 49.51, 400), rng.uniform(-89.9, 89.9, 60),
                           [0.0005, 10.0, 10.0], rng.uniform(89.99, 90.0, 5)])  # fmt: skip
    lons = np.concatenate([rng.uniform(8.58, 8.84, 400), rng.uniform(-180, 180, 60),
                           [179.9999, -179.9995, 179.9995], rng.uniform(-180, 180, 5)])  # fmt: skip
    stations = [
        make_station(i, float(a), float(o)) for i, (a, o) in enumerate(zip(lats, lons, strict=True))
    ]
    store = StationStore(stations)
    query_lats, query_lons = rng.uniform(49.3, 49.55, 40), rng.uniform(8.5, 8.9, 40)
    queries = [(float(a), float(o)) for a, o in zip(query_lats, query_lons, strict=True)]
    queries += [(10.0, 180.0), (10.0, -180.0), (90.0, 0.0), (0.0, 0.0)]
    for lat, lon in queries:
        for radius in (0.0, 150.0, 800.0, 3000.0, 20000.0):
            got = store.nearby(lat, lon, radius)
            expected = sorted(
                (haversine_m(lat, lon, s.lat, s.lon), s.id)
                for s in stations
                if haversine_m(lat, lon, s.lat, s.lon) <= radius
            )
            assert [n.item.id for n in got] == [i for _, i in expected]
            assert [n.distance_m for n in got] == pytest.approx([d for d, _ in expected])
    # Across the antimeridian: 179.9995 and -179.9995 are ~110 m apart at lat 10.
    across = store.nearby(10.0, 179.9995, 200)
    assert {n.item.lon for n in across} >= {-179.9995, 179.9995}


def test_bad_queries() -> None:
    store = StationStore([make_station(0, 50.88, 12.08)])
    for lat, lon, radius in ((91.0, 0.0, 10.0), (0.0, 181.0, 10.0), (50.0, 12.0, -1.0),
                             (float("nan"), 12.0, 10.0)):  # fmt: skip
        with pytest.raises(RequestError, match="bad station query"):
            store.nearby(lat, lon, radius)
    assert StationStore().nearby(50.0, 12.0, 1000) == []


def test_filters_and_limit() -> None:
    now = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
    live = {"realtime": True, "valid_until": now + timedelta(minutes=5)}
    stations = [
        make_station(1, 50.8800, 12.0800, kind=StationKind.BIKE_SHARE, bikes_available=3,
                     docks_available=0, is_renting=True, is_returning=True, **live),
        make_station(2, 50.8801, 12.0801, kind=StationKind.BIKE_SHARE, bikes_available=0,
                     docks_available=5, is_renting=True, is_returning=True, **live),
        make_station(3, 50.8802, 12.0802, kind=StationKind.BIKE_BOX, docks_available=2,
                     ebike_charging=True, **live),
        make_station(4, 50.8803, 12.0803, kind=StationKind.BIKE_BOX, docks_available=None,
                     ebike_charging=False),
        make_station(5, 50.8804, 12.0804),
    ]  # fmt: skip
    store = StationStore(stations)

    def ids(**kw: object) -> list[str]:
        return [n.item.id for n in store.nearby(50.88, 12.08, 500, now=now, **kw)]  # type: ignore[arg-type]

    assert ids() == ["t:1", "t:2", "t:3", "t:4", "t:5"]
    assert ids(has_bikes=True) == ["t:1"]
    assert ids(has_bikes=True, min_count=4) == []
    assert ids(has_free_space=True) == ["t:2", "t:3"]
    assert ids(kinds=StationKind.BIKE_BOX, has_free_space=True) == ["t:3"]
    assert ids(kinds=[StationKind.BIKE_BOX, StationKind.BIKE_PARKING]) == ["t:3", "t:4", "t:5"]
    assert ids(ebike_charging=True) == ["t:3"]
    assert ids(limit=2) == ["t:1", "t:2"]
    # Ten minutes later the live counts have expired: nothing is known to be available.
    later = now + timedelta(minutes=10)
    assert [
        n.item.id for n in store.nearby(50.88, 12.08, 500, has_free_space=True, now=later)
    ] == []
    assert store.get("t:3").stale
    assert not store.get("t:5").stale


# ---------------------------------------------------------------------------- live updates


@pytest.fixture
def v3_store(mirror_dir: Path) -> tuple[StationStore, dict]:
    path = mirror_dir / "gbfs" / "duplicate-stations-v3"
    feed = load_gbfs(path, now=V3_TIME)
    status = json.loads((path / "station_status.json").read_text())
    return StationStore(feed.stations, feed.warnings), status


def test_gbfs_status_update_without_rebuild(v3_store: tuple[StationStore, dict]) -> None:
    store, status = v3_store
    sid = "gbfs:test_duplicate_system_v3:station_1"
    doc = copy.deepcopy(status)
    doc["last_updated"] = "2025-11-05T12:05:00+00:00"
    doc["data"]["stations"] = [
        dict(doc["data"]["stations"][0], num_vehicles_available=0, num_docks_available=20,
             last_reported="2025-11-05T12:04:00+00:00"),
        {"station_id": "station_new", "num_vehicles_available": 1, "num_docks_available": 1,
         "is_installed": True, "is_renting": True, "is_returning": True,
         "last_reported": "2025-11-05T12:04:00+00:00"},
    ]  # fmt: skip
    now = datetime(2025, 11, 5, 12, 5, 10, tzinfo=UTC)
    report = store.apply_gbfs_status(doc, system_id="test_duplicate_system_v3", now=now)
    assert report.applied == 1
    assert report.unknown == ["gbfs:test_duplicate_system_v3:station_new"]
    station = store.get(sid)
    assert (station.bikes_available, station.docks_available) == (0, 20)
    assert station.valid_until == datetime(2025, 11, 5, 12, 11, tzinfo=UTC)
    assert [
        n.item.id for n in store.nearby(59.911491, 10.757933, 10, has_bikes=True, now=now)
    ] == []
    # station_3 was not in the update: it keeps its counts until its own expiry (12:06).
    at_1207 = datetime(2025, 11, 5, 12, 7, tzinfo=UTC)
    near = store.nearby(59.913491, 10.759933, 10, now=at_1207)
    assert near[0].item.stale
    assert near[0].item.bikes_available == 3
    assert not store.get(sid).stale


def test_stale_status_document_is_applied_but_unknown(v3_store: tuple[StationStore, dict]) -> None:
    store, status = v3_store
    report = store.apply_gbfs_status(
        status, system_id="test_duplicate_system_v3", now=datetime(2025, 11, 6, tzinfo=UTC)
    )
    assert report.applied == 3  # includes the duplicated station once
    assert any("already stale" in w for w in report.warnings)
    assert any("listed 2 times" in w for w in report.warnings)
    assert all(s.stale for s in store)


def test_broken_status_document_changes_nothing(v3_store: tuple[StationStore, dict]) -> None:
    store, _ = v3_store
    before = store.snapshot()
    with pytest.raises(DataError, match=r"data\.stations"):
        store.apply_gbfs_status({"data": None}, system_id="test_duplicate_system_v3", now=V3_TIME)
    assert store.snapshot() == before


def test_parkapi_realtime_update(mirror_dir: Path) -> None:
    fetched = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
    path = mirror_dir / "bikelockers" / "kienzler.json"
    store = StationStore(load_parkapi(path, fetched_at=fetched, now=fetched).stations)
    doc = json.loads(path.read_text())
    for unit in doc:
        unit["bookable"] = 0 if unit["id"] == "unit574" else unit["bookable"]
    doc.append({"id": "unit999", "bookable": 1, "sum_boxes": 2})
    doc[3]["bookable"] = 99  # Ettlingen has 12 boxes
    now = fetched + timedelta(minutes=1)
    report = store.apply_parkapi_realtime(doc, source_uid="kienzler", now=now)
    assert report.applied == 1
    # Luggage lockers are not in the store, nor is the new unit.
    assert "parkapi:kienzler:unit999" in report.unknown
    assert "parkapi:kienzler:unit1676" in report.unknown
    assert "exceed capacity 12" in report.rejected[0]
    assert store.get("parkapi:kienzler:unit574").boxes_available == 0
    assert store.get("parkapi:kienzler:unit621").boxes_available == 3
    hits = store.nearby(49.162067, 8.491533, 50, has_free_space=True, now=now)
    assert hits == []


def test_update_availability_single_station() -> None:
    now = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
    store = StationStore([make_station(1, 50.88, 12.08, kind=StationKind.BIKE_BOX, capacity=4)])
    assert store.update_availability("t:1", docks_available=2, valid_for_s=60, now=now).applied == 1
    assert store.nearby(50.88, 12.08, 10, has_free_space=True, min_count=2, now=now)
    assert store.update_availability("t:9", docks_available=1).unknown == ["t:9"]
    assert store.update_availability("t:1", docks_available=-3).rejected
    assert not store.nearby(50.88, 12.08, 10, has_free_space=True, now=now + timedelta(seconds=61))


def test_concurrent_updates_and_queries(mirror_dir: Path) -> None:
    path = mirror_dir / "gbfs" / "lillestrombysykkel"
    feed = load_gbfs(path, now=datetime(2021, 9, 10, 7, 24, tzinfo=UTC))
    store = StationStore(feed.stations)
    base = json.loads((path / "station_status.json").read_text())
    now = datetime(2021, 9, 10, 7, 24, tzinfo=UTC)
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for k in range(60):
                doc = copy.deepcopy(base)
                for row in doc["data"]["stations"]:
                    row["num_bikes_available"] = (k + offset) % 7
                    row["last_reported"] = base["last_updated"] + k
                store.apply_gbfs_status(doc, system_id="lillestrombysykkel", now=now)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(150):
                for hit in store.nearby(59.955, 11.047, 5000, now=now):
                    assert 0 <= (hit.item.bikes_available or 0) < 11
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store) == 6
    assert all(s.bikes_available in range(7) for s in store)


# ---------------------------------------------------------------------------- GeoJSON


def test_geojson_output(mirror_dir: Path) -> None:
    feed = load_gbfs(mirror_dir / "gbfs" / "duplicate-stations-v3", now=V3_TIME)
    store = StationStore(feed.stations)
    collection = stations_to_geojson(store.nearby(59.911491, 10.757933, 500, now=V3_TIME))
    json.dumps(collection)  # serialisable as is
    first = collection["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [10.757933, 59.911491]}
    assert first["properties"]["distance_m"] == 0.0
    assert first["properties"]["kind"] == "bike_share"
    assert first["properties"]["last_reported"] == "2025-11-05T12:00:00+00:00"
    chargers = ChargerStore(load_ocpi(FIXTURES / "ocpi_locations_gera.json").chargers)
    out = chargers_to_geojson(chargers)
    json.dumps(out)
    park = next(f for f in out["features"] if f["id"] == "ocpi:DE*EGA:GERA-PARKSTR")
    assert park["geometry"]["coordinates"] == [12.074507, 50.881207]
    assert park["properties"]["standards"] == ["CHADEMO", "IEC_62196_T2_COMBO"]
    assert park["properties"]["available_evses"] == 1
    assert park["properties"]["evses"][1]["status"] == "OUTOFORDER"
    assert park["properties"]["max_power_kw"] == 150.0
