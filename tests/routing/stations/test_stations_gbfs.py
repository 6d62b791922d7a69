"""GBFS v1/v2/v3 import: real OpenTripPlanner test feeds plus hand-made defects."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from routing.errors import DataError
from routing.stations.gbfs import load_gbfs, parse_station_status
from routing.stations.model import StationKind
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# ------------------------------------------------------------------------- real feeds


def test_helsinki_v1_skips_bad_rows_and_keeps_the_rest(mirror_dir: Path) -> None:
    feed = load_gbfs(mirror_dir / "gbfs" / "helsinki", now=ts(1631517720))
    assert feed.system_id == "HSL_FI_Helsinki"
    assert feed.name == "HSL Bikes Share"
    assert feed.timezone == "Europe/Helsinki"
    # 10 rows: null id, empty id and null coordinates are skipped.
    assert [s.id for s in feed.stations] == [
        f"gbfs:HSL_FI_Helsinki:{n}" for n in ("001", "002", "003", "004", "005", "008", "009")
    ]
    first = feed.stations[0]
    assert (first.name, first.lat, first.lon, first.capacity) == (
        "Kaivopuisto", 60.155444793821, 24.9502928896903, 30,
    )  # fmt: skip
    assert (first.bikes_available, first.docks_available) == (2, 29)
    assert first.last_reported == ts(1631517287)
    assert first.kind is StationKind.BIKE_SHARE
    assert first.realtime
    assert not first.stale
    # Missing names fall back to the id.
    by_id = {s.id.rsplit(":", 1)[1]: s for s in feed.stations}
    assert by_id["008"].name == "008"
    assert by_id["009"].name == "009"
    # Viiskulma is neither renting nor returning: bikes there are not usable.
    assert by_id["004"].bikes_available == 11
    assert by_id["004"].is_renting is False
    assert not by_id["004"].has_bikes()
    text = "\n".join(feed.warnings)
    assert "data.stations[5] has no station_id" in text
    assert "data.stations[6] has no station_id" in text
    assert "station '010' has no valid lat/lon" in text
    assert "not in station_information (006, 007, 010)" in text


def test_lillestrom_v22_vehicle_types(mirror_dir: Path) -> None:
    feed = load_gbfs(mirror_dir / "gbfs" / "lillestrombysykkel", now=ts(1631258640))
    assert feed.version == "2.2"
    assert feed.system_id == "lillestrombysykkel"
    assert feed.name == "Lillestrøm bysykkel"
    assert len(feed.stations) == 6
    assert set(feed.vehicle_types) == {"YLS:VehicleType:CityBike"}
    assert not feed.vehicle_types["YLS:VehicleType:CityBike"].is_ebike
    torvgata = feed.stations[0]
    assert torvgata.id == "gbfs:lillestrombysykkel:YLS:VehicleSharingParkingArea:3"
    assert torvgata.name == "TORVGATA"
    assert (torvgata.capacity, torvgata.bikes_available, torvgata.docks_available) == (3, 10, 10)
    assert torvgata.vehicle_types_available == {"YLS:VehicleType:CityBike": 10}
    assert feed.warnings == []
    assert feed.ttl == 61
    assert feed.last_updated == ts(1631258631)


def test_v3_duplicate_station_survives_with_one_kept(mirror_dir: Path) -> None:
    now = datetime(2025, 11, 5, 12, 0, 30, tzinfo=UTC)
    feed = load_gbfs(mirror_dir / "gbfs" / "duplicate-stations-v3", now=now)
    assert feed.version == "3.0"
    assert feed.system_id == "test_duplicate_system_v3"
    assert feed.name == "Test Duplicate System V3"  # v3 localised name list
    ids = [s.id for s in feed.stations]
    assert ids == [
        "gbfs:test_duplicate_system_v3:station_1",
        "gbfs:test_duplicate_system_v3:station_duplicate",
        "gbfs:test_duplicate_system_v3:station_3",
    ]
    dup = feed.stations[1]
    # The later of the two reports (12:00:01, 8 vehicles) is kept.
    assert (dup.bikes_available, dup.docks_available) == (8, 7)
    assert dup.last_reported == datetime(2025, 11, 5, 12, 0, 1, tzinfo=UTC)
    assert dup.name == "Station Duplicate First"
    assert any("'station_duplicate' is listed 2 times" in w for w in feed.warnings)
    assert not feed.stale
    assert dup.has_bikes()


def test_stale_feed_is_marked_and_availability_unknown(mirror_dir: Path) -> None:
    # ttl 60 s + grace 300 s after 12:00:00 -> stale at 12:06:01.
    now = datetime(2025, 11, 5, 12, 6, 1, tzinfo=UTC)
    feed = load_gbfs(mirror_dir / "gbfs" / "duplicate-stations-v3", now=now)
    assert feed.stale
    assert all(s.stale for s in feed.stations)
    assert not any(s.has_bikes() or s.has_free_space() for s in feed.stations)
    assert feed.stations[0].bikes_available == 5  # last counts kept for display
    assert any("station_status is stale" in w for w in feed.warnings)
    fresh = load_gbfs(
        mirror_dir / "gbfs" / "duplicate-stations-v3",
        now=datetime(2025, 11, 5, 12, 6, 0, tzinfo=UTC),
    )
    assert not fresh.stale


# ------------------------------------------------------------------------- hand-made feeds


def test_v23_feed_with_defects() -> None:
    feed = load_gbfs(FIXTURES / "gbfs_v23" / "gbfs.json", now=ts(1714636830))
    assert feed.system_id == "gera_ebike"
    assert set(feed.vehicle_types) == {"city", "pedelec"}
    assert feed.vehicle_types["pedelec"].is_ebike
    stations = {s.id.rsplit(":", 1)[1]: s for s in feed.stations}
    assert set(stations) == {"hbf", "markt", "lusan"}  # bieblach has lat 95
    hbf = stations["hbf"]
    assert hbf.ebike_charging is True
    assert hbf.vehicle_types_available == {"city": 2, "pedelec": 3}
    # Duplicate in station_information: the first is kept.
    assert stations["markt"].name == "Markt"
    assert stations["markt"].lat == 50.8790
    # Not installed: neither renting nor returning, whatever the flags say.
    assert stations["markt"].is_renting is False
    assert stations["markt"].is_returning is False
    assert not stations["markt"].has_bikes()
    lusan = stations["lusan"]
    assert lusan.capacity is None
    assert lusan.bikes_available is None
    assert not lusan.has_bikes()
    text = "\n".join(feed.warnings)
    for expected in (
        "vehicle_types[2] has no vehicle_type_id",
        "'markt' is listed more than once",
        "invalid capacity 'zehn'",
        "'bieblach' has no valid lat/lon",
        "invalid num_bikes_available -1",
        "(ghost)",
    ):
        assert expected in text


def test_truncated_station_information_is_a_data_error() -> None:
    with pytest.raises(DataError) as err:
        load_gbfs(FIXTURES / "gbfs_broken")
    message = str(err.value)
    assert "gbfs_broken/station_information.json" in message
    assert "not valid JSON" in message
    assert "line 4" in message
    assert "fetch it again" in message


def test_missing_data_stations_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "station_information.json").write_text('{"data": {"stationz": []}}')
    with pytest.raises(DataError, match=r"station_information.json: missing field data.stations"):
        load_gbfs(tmp_path)


def test_broken_station_status_keeps_stations_without_availability(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "gbfs_v23", tmp_path / "feed")
    (tmp_path / "feed" / "station_status.json").write_text("{not json")
    feed = load_gbfs(tmp_path / "feed", now=ts(1714636830))
    assert len(feed.stations) == 3
    assert all(not s.realtime and s.bikes_available is None for s in feed.stations)
    assert any("station_status.json" in w and "availability" in w for w in feed.warnings)


def test_missing_feed_directory() -> None:
    with pytest.raises(DataError, match="GBFS feed not found"):
        load_gbfs(FIXTURES / "no_such_feed")


def test_parse_station_status_requires_stations_list() -> None:
    with pytest.raises(DataError, match=r"data\.stations"):
        parse_station_status({"data": {}}, "status.json")


def test_load_from_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A feed served over HTTP: feed URLs in gbfs.json are followed."""
    for var in ("no_proxy", "NO_PROXY"):  # never send the local request to a proxy
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    root = tmp_path / "www"
    shutil.copytree(FIXTURES / "gbfs_v23", root)
    doc = json.loads((root / "gbfs.json").read_text())
    for feed in doc["data"]["de"]["feeds"]:
        feed["url"] = feed["url"].rsplit("/", 1)[1]  # relative to gbfs.json
    (root / "gbfs.json").write_text(json.dumps(doc))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args, **kwargs: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/gbfs.json"
        feed = load_gbfs(url, now=ts(1714636830))
    finally:
        server.shutdown()
        server.server_close()
    assert feed.system_id == "gera_ebike"
    assert len(feed.stations) == 3
    assert feed.stations[0].bikes_available == 5
