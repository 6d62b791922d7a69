"""ParkAPI bike lockers (Freiburg VAG GeoJSON, Kienzler occupancy, v3 items)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from routing.errors import DataError
from routing.stations.model import StationKind
from routing.stations.parkapi import load_parkapi, parse_realtime
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
FETCHED = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


def test_freiburg_vag_bike_boxes(mirror_dir: Path) -> None:
    sites = load_parkapi(mirror_dir / "bikelockers" / "freiburg_vag_bike.geojson")
    assert sites.format == "geojson"
    assert sites.source == "parkapi:freiburg_vag_bike"
    assert len(sites.stations) == 8
    assert sites.warnings == []
    assert all(s.kind is StationKind.BIKE_BOX for s in sites.stations)
    assert sum(s.capacity or 0 for s in sites.stations) == 41
    by_name = {s.name: s for s in sites.stations}
    padua = by_name["Paduaallee"]
    assert padua.id == "parkapi:freiburg_vag_bike:3"
    # The geometry is authoritative, not the differing lat/lon properties.
    assert (padua.lat, padua.lon) == (48.0282803187136, 7.8090290878335)
    assert padua.capacity == 3
    assert padua.cargo_capacity == 3
    assert padua.ebike_charging is False
    assert padua.charging_capacity == 0
    assert padua.covered is True
    assert padua.fee is True
    assert padua.operator == "Freiburger Verkehrs-AG"
    wiehre = by_name["Bahnhof Wiehre"]
    assert wiehre.capacity == 15
    # Static data only: free boxes unknown, never offered as available.
    assert not wiehre.realtime
    assert wiehre.boxes_available is None
    assert not wiehre.has_free_space()


def test_kienzler_occupancy(mirror_dir: Path) -> None:
    path = mirror_dir / "bikelockers" / "kienzler.json"
    sites = load_parkapi(path, fetched_at=FETCHED, now=FETCHED)
    assert sites.format == "kienzler"
    # 5 units, 3 of them luggage lockers ("Schließfächer").
    assert [s.id for s in sites.stations] == [
        "parkapi:kienzler:unit574",
        "parkapi:kienzler:unit621",
    ]
    graben, ettlingen = sites.stations
    assert graben.name == "Graben-Neudorf, Bahnhof"
    assert (graben.lat, graben.lon) == (49.162067, 8.491533)
    assert (graben.capacity, graben.boxes_available) == (10, 7)
    assert graben.has_free_space(7)
    assert not graben.has_free_space(8)
    assert (ettlingen.capacity, ettlingen.boxes_available) == (12, 3)
    # The unit total (3) and the per-box flags (2) disagree in the real file.
    assert any("unit621" in w and "2 boxes are bookable" in w for w in sites.warnings)
    with_items = load_parkapi(path, fetched_at=FETCHED, now=FETCHED, include_item_lockers=True)
    assert len(with_items.stations) == 5


def test_kienzler_goes_stale_after_ttl(mirror_dir: Path) -> None:
    later = datetime(2024, 5, 2, 8, 15, 1, tzinfo=UTC)  # 600 s ttl + 300 s grace
    sites = load_parkapi(
        mirror_dir / "bikelockers" / "kienzler.json", fetched_at=FETCHED, now=later
    )
    assert all(s.stale for s in sites.stations)
    assert not any(s.has_free_space() for s in sites.stations)
    assert any("marked stale" in w for w in sites.warnings)


def test_parkapi_v3_ebox_items() -> None:
    now = datetime(2024, 5, 2, 8, 5, tzinfo=UTC)
    sites = load_parkapi(FIXTURES / "parkapi_v3_ebox.json", source_uid="gera_ebox", now=now)
    assert sites.format == "parkapi_v3"
    ids = [s.id for s in sites.stations]
    assert ids == [
        "parkapi:gera_ebox:ebox-hbf",
        "parkapi:gera_ebox:ebox-lusan",
        "parkapi:gera_ebox:stands-markt",
    ]  # fmt: skip  (the car park is not a bike site; the row without uid is skipped)
    hbf, lusan, stands = sites.stations
    assert hbf.kind is StationKind.BIKE_BOX
    assert stands.kind is StationKind.BIKE_PARKING
    assert (hbf.capacity, hbf.boxes_available, hbf.ebike_charging) == (10, 4, True)
    assert hbf.charging_capacity == 10
    assert hbf.has_free_space(4)
    assert lusan.stale
    assert not lusan.has_free_space()
    assert any("items[4] has no uid" in w for w in sites.warnings)


def test_not_a_parkapi_file(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(DataError, match=r"other.json: not a ParkAPI file"):
        load_parkapi(path)
    path.write_text('[{"id": "unit1", "sum_boxes": 3,')
    with pytest.raises(DataError, match=r"other.json: ParkAPI data is not valid JSON"):
        load_parkapi(path)


def test_bad_feature_rows_are_skipped_with_warnings(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"original_uid": 1, "name": "ok", "capacity": 4,
             "type": "Schließfächer/Boxen", "purpose": "bike"},
             "geometry": {"type": "Point", "coordinates": [12.08, 50.88]}},
            {"type": "Feature", "properties": {"name": "no uid", "capacity": 2},
             "geometry": {"type": "Point", "coordinates": [12.08, 50.88]}},
            {"type": "Feature", "properties": {"original_uid": 3, "name": "no position"},
             "geometry": None},
            {"type": "Feature", "properties": {"original_uid": 4, "capacity": "viele",
             "capacity_charging": "vielleicht"},
             "geometry": {"type": "Point", "coordinates": [12.09, 50.87]}},
        ],
    }  # fmt: skip
    path = tmp_path / "boxes.geojson"
    path.write_text(json.dumps(doc))
    sites = load_parkapi(path)
    assert [s.id for s in sites.stations] == ["parkapi:boxes:1", "parkapi:boxes:4"]
    assert sites.stations[1].name == "4"
    assert sites.stations[1].capacity is None
    text = "\n".join(sites.warnings)
    assert "features[1] has no uid" in text
    assert "features[2] (uid 3) has no valid position" in text
    assert "features[3] (uid 4): missing or invalid capacity 'viele'" in text
    assert "capacity_charging 'vielleicht'" in text


def test_parse_realtime_layouts(mirror_dir: Path) -> None:
    doc = json.loads((mirror_dir / "bikelockers" / "kienzler.json").read_text())
    records, warnings = parse_realtime(doc)
    assert [(r.uid, r.free, r.capacity) for r in records][:2] == [
        ("unit1676", 10, 11), ("unit567", 11, 11),
    ]  # fmt: skip
    assert warnings == []
    records, warnings = parse_realtime(
        {"items": [{"uid": "a", "realtime_free_capacity": 2,
                    "realtime_data_updated_at": "2024-05-02T08:00:00Z"}, {"uid": "b"}]}
    )  # fmt: skip
    assert [(r.uid, r.free, r.updated_at) for r in records] == [("a", 2, FETCHED)]
    assert "site 'b' has no valid 'realtime_free_capacity'" in warnings[0]
    with pytest.raises(DataError):
        parse_realtime({"nothing": 1})
