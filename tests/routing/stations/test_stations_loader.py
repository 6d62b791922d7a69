"""Building a region's station and charger stores from its TOML sources."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from routing.errors import DataError
from routing.regions import Region, load_region
from routing.stations import StationKind, load_chargers, load_stations
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"


def test_heidelberg_stations_and_chargers(hd_region: Region, hd_data_dir: Path) -> None:
    stations = load_stations(hd_region, hd_data_dir)
    assert len(stations) == 54
    assert {s.kind for s in stations} == {StationKind.BIKE_PARKING}
    chargers = load_chargers(hd_region, hd_data_dir)
    assert len(chargers) == 39
    # Bismarckplatz: Type 2 at >= 11 kW within 600 m.
    near = chargers.nearby(49.4094, 8.6937, 600, standards="IEC_62196_T2", min_power_kw=11)
    assert [n.item.address for n in near] == [
        "Fahrtgasse 18", "Untere Neckarstraße 2", "Untere Neckarstraße 2", "Friedrich-Ebert-Platz",
        "Brückenkopfstraße 1",
    ]  # fmt: skip
    assert [round(n.distance_m) for n in near] == [109, 340, 340, 351, 468]
    assert chargers.nearby(49.4094, 8.6937, 600, standards="IEC_62196_T2_COMBO") == []
    fast = chargers.nearby(49.4094, 8.6937, 5000, standards="IEC_62196_T2_COMBO", min_power_kw=50)
    assert [n.item.address for n in fast] == ["Kirchheimer Weg 4"]


def test_gera_chargers_and_missing_osm(mirror_dir: Path) -> None:
    gera = load_region("gera")
    chargers = load_chargers(gera, mirror_dir)
    assert len(chargers) == 19
    assert {c.city for c in chargers} == {"Gera", "Ronneburg", "Bad Köstritz", "Neckarsulm"}
    # No Thuringia extract can be fetched offline: a clear error, or a warning on request.
    with pytest.raises(DataError, match=r"source 'osm' \(osm\) of region 'gera' is missing"):
        load_stations(gera, mirror_dir)
    stations = load_stations(gera, mirror_dir, skip_missing=True)
    assert len(stations) == 0
    assert "elster fetch gera" in stations.warnings[0]


REGION_TOML = """
name = "gera-test"
title = "Gera with bike boxes"
timezone = "Europe/Berlin"
bbox = [11.95, 50.80, 12.20, 50.95]

[sources.bike_share]
kind = "gbfs"
path = "gbfs/gera_ebike"
url = "https://gbfs.example.invalid/gera/gbfs.json"

[sources.ebox]
kind = "parkapi"
path = "bikelockers/gera_ebox.json"
source_uid = "gvb_ebox"

[sources.freiburg_boxes]
kind = "parkapi"
path = "bikelockers/freiburg_vag_bike.geojson"

[sources.chargers]
kind = "bnetza"
path = "germany/register.csv"

[sources.ocpi]
kind = "ocpi"
path = "ocpi/locations.json"
"""


def test_region_with_gbfs_parkapi_and_ocpi_sources(tmp_path: Path, mirror_dir: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "gbfs_v23", data / "gbfs" / "gera_ebike")
    (data / "bikelockers").mkdir()
    shutil.copy(FIXTURES / "parkapi_v3_ebox.json", data / "bikelockers" / "gera_ebox.json")
    shutil.copy(mirror_dir / "bikelockers" / "freiburg_vag_bike.geojson", data / "bikelockers")
    (data / "germany").mkdir()
    (data / "germany" / "register.csv").symlink_to(
        mirror_dir / "germany" / "bnetza_ladesaeulenregister_2019-07-19.csv"
    )
    (data / "ocpi").mkdir()
    shutil.copy(FIXTURES / "ocpi_locations_gera.json", data / "ocpi" / "locations.json")
    toml = tmp_path / "gera-test.toml"
    toml.write_text(REGION_TOML)
    region = load_region(toml)

    now = datetime(2024, 5, 2, 8, 0, 30, tzinfo=UTC)
    stations = load_stations(region, data, now=now)
    ids = sorted(s.id for s in stations)
    # Freiburg's boxes lie outside the Gera box and are clipped away.
    assert ids == [
        "gbfs:gera_ebike:hbf", "gbfs:gera_ebike:lusan", "gbfs:gera_ebike:markt",
        "parkapi:gvb_ebox:ebox-hbf", "parkapi:gvb_ebox:ebox-lusan", "parkapi:gvb_ebox:stands-markt",
    ]  # fmt: skip
    # Bike + ride at Gera Hbf: a box with a free space and a bike-share dock nearby.
    boxes = stations.nearby(50.8835, 12.0759, 300, kinds=StationKind.BIKE_BOX,
                            has_free_space=True, now=now)  # fmt: skip
    assert [n.item.id for n in boxes] == ["parkapi:gvb_ebox:ebox-hbf"]
    bikes = stations.nearby(50.8835, 12.0759, 300, has_bikes=True, now=now)
    assert [n.item.id for n in bikes] == ["gbfs:gera_ebike:hbf"]
    assert any("'bieblach' has no valid lat/lon" in w for w in stations.warnings)

    chargers = load_chargers(region, data)
    assert len(chargers) == 19 + 3
    fast = chargers.nearby(50.8835, 12.0759, 1000, standards=["IEC_62196_T2_COMBO"],
                           min_power_kw=100, available_only=True)  # fmt: skip
    assert [n.item.id for n in fast] == ["ocpi:DE*EGA:GERA-PARKSTR"]
