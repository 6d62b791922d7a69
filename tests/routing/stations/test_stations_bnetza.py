"""BNetzA Ladesäulenregister: the real 2019 register, a later-layout fixture, bad files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from routing.errors import DataError
from routing.stations.bnetza import BnetzaChargers, load_bnetza, map_plug
from routing.stations.model import EvseStatus
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
GERA_BOX = (11.95, 50.80, 12.20, 50.95)
HEIDELBERG_BOX = (8.58, 49.34, 8.84, 49.51)


@pytest.fixture(scope="module")
def register(mirror_dir: Path) -> Path:
    return mirror_dir / "germany" / "bnetza_ladesaeulenregister_2019-07-19.csv"


@pytest.fixture(scope="module")
def gera(register: Path) -> BnetzaChargers:
    return load_bnetza(register, bbox=GERA_BOX)


def test_region_filter_counts(register: Path, gera: BnetzaChargers) -> None:
    heidelberg = load_bnetza(register, bbox=HEIDELBERG_BOX)
    assert gera.rows == heidelberg.rows == 9690
    assert len(gera.chargers) == 19
    assert len(heidelberg.chargers) == 39
    assert gera.warnings == []
    assert heidelberg.warnings == []
    assert len({c.id for c in heidelberg.chargers}) == 39  # repeated devices get -2, -3


def test_whole_register(register: Path) -> None:
    result = load_bnetza(register)
    assert len(result.chargers) == 9690
    assert len({c.id for c in result.chargers}) == 9690
    # Real defects: a "0" in a plug list (2 rows), power without a plug (2 rows).
    assert len(result.warnings) == 4
    assert "line 2257: 'Steckertypen4' has unknown plug '0'" in result.warnings[0]
    assert "line 2579: 'P2 [kW]' = 22.0 without 'Steckertypen2'" in result.warnings[2]
    # Fields with quotes and multi-line public keys parse as single rows.
    kleines = [c for c in result.chargers if "Kleines Neckerle" in c.address]
    assert len(kleines) == 1


def test_gera_field_values(gera: BnetzaChargers) -> None:
    chargers = gera.chargers
    by_address = {c.address: c for c in chargers}
    neue = by_address["Neue Straße 5"]
    assert neue.operator == "Energieversorgung Gera GmbH"
    assert (neue.postal_code, neue.city) == ("07545", "Gera")
    assert (neue.lat, neue.lon) == (50.879771, 12.076573)
    assert neue.commissioned == "2017-01-13"
    assert neue.source == "bnetza"
    assert not neue.realtime
    assert not neue.fast
    assert len(neue.evses) == 2
    first = neue.evses[0]
    assert first.status is EvseStatus.UNKNOWN
    # "AC Steckdose Typ 2, AC Schuko" at 22 kW: Type 2 22 kW, Schuko capped at 3.7 kW.
    assert [(c.standard, c.format, c.power_type, c.power_kw) for c in first.connectors] == [
        ("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 22.0),
        ("DOMESTIC_F", "SOCKET", "AC_1_PHASE", 3.7),
    ]
    fast = by_address["Parkstraße DC"]
    assert fast.fast
    assert fast.max_power_kw == 50.0
    assert [c.standard for c in fast.evses[1].connectors] == ["IEC_62196_T2_COMBO", "CHADEMO"]
    assert fast.evses[1].connectors[0].is_dc
    standards = Counter(s for c in chargers for s in c.standards)
    assert standards == {"IEC_62196_T2": 19, "DOMESTIC_F": 3, "IEC_62196_T2_COMBO": 1, "CHADEMO": 1}


def test_plug_mapping() -> None:
    assert map_plug("AC Steckdose Typ 2") == ("IEC_62196_T2", "SOCKET", "AC_3_PHASE")
    assert map_plug("AC Kupplung Typ 2") == ("IEC_62196_T2", "CABLE", "AC_3_PHASE")
    assert map_plug("DC Kupplung Combo") == ("IEC_62196_T2_COMBO", "CABLE", "DC")
    assert map_plug("DC CHAdeMO") == ("CHADEMO", "CABLE", "DC")
    assert map_plug("AC Schuko") == ("DOMESTIC_F", "SOCKET", "AC_1_PHASE")
    assert map_plug("Steckdose Typ 1")[0] == "IEC_62196_T1"
    assert map_plug("AC CEE 3 polig")[0] == "IEC_60309_2_single_16"
    assert map_plug("AC CEE 5 polig", 11.0)[0] == "IEC_60309_2_three_16"
    assert map_plug("AC CEE 5 polig", 22.0)[0] == "IEC_60309_2_three_32"
    assert map_plug("AC CEE 5 polig", 43.0)[0] == "IEC_60309_2_three_64"
    assert map_plug("0") is None


def test_later_layout_with_odd_rows() -> None:
    """Preamble, Windows-1252, decimal commas, Breitengrad before Längengrad, dd.mm.yyyy."""
    path = FIXTURES / "bnetza_later_layout_cp1252.csv"
    result = load_bnetza(path)
    assert result.rows == 7
    assert [c.address for c in result.chargers] == [
        "Neue Straße 5", "Parkstraße DC", "Schleizer Straße 3", "Marienplatz 1",
    ]  # fmt: skip
    neue = result.chargers[0]
    assert (neue.lat, neue.lon, neue.commissioned) == (50.879771, 12.076573, "2017-01-13")
    assert (neue.postal_code, neue.city) == ("07545", "Gera")
    # Same site, same id as in the 2019 register.
    swapped = result.chargers[2]
    assert (swapped.lat, swapped.lon) == (50.84764, 12.06571)
    text = "\n".join(result.warnings)
    for expected in (
        "not UTF-8; read as Windows-1252",
        "line 7: longitude and latitude are swapped",
        "line 8: 7 fields, expected 26; row skipped",
        "line 9: 'Steckertypen1' has unknown plug 'Tesla Supercharger'",
        "line 10: field 'Längengrad'/'Breitengrad' = ''/'' is not a coordinate",
    ):
        assert expected in text
    assert len(load_bnetza(path, bbox=GERA_BOX).chargers) == 3


def test_same_site_same_id_across_layouts(gera: BnetzaChargers) -> None:
    old = {c.address: c.id for c in gera.chargers}
    new = {
        c.address: c.id for c in load_bnetza(FIXTURES / "bnetza_later_layout_cp1252.csv").chargers
    }
    assert old["Neue Straße 5"] == new["Neue Straße 5"]


def test_wrong_separator_is_a_data_error(tmp_path: Path, register: Path) -> None:
    lines = register.read_text(encoding="utf-8").splitlines()[:5]
    path = tmp_path / "comma.csv"
    path.write_text("\n".join(line.replace(";", ",") for line in lines), encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_bnetza(path)
    message = str(err.value)
    assert "comma.csv: line 1" in message
    assert "not ';'-separated" in message
    assert "','-separated" in message
    assert "re-export" in message


def test_missing_column_is_a_data_error(tmp_path: Path, register: Path) -> None:
    lines = register.read_text(encoding="utf-8").splitlines()[:5]
    lines[0] = lines[0].replace("Breitengrad [DG]", "Breite")
    path = tmp_path / "no_lat.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError, match=r"no_lat.csv: header has no column 'Breitengrad \[DG\]'"):
        load_bnetza(path)


def test_not_a_register(tmp_path: Path) -> None:
    path = tmp_path / "stops.txt"
    path.write_text("stop_id,stop_name,stop_lat,stop_lon\n1,A,50.0,12.0\n")
    with pytest.raises(DataError, match=r"stops.txt: no header row starting with 'Betreiber'"):
        load_bnetza(path)
    with pytest.raises(DataError, match="file not found"):
        load_bnetza(tmp_path / "missing.csv")
