"""OCPI 2.2.1 Locations parsing, EVSE PATCH handling and malformed documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from routing.errors import DataError
from routing.stations.model import EvseStatus
from routing.stations.ocpi import load_ocpi, parse_evse_patch, parse_locations
from routing.stations.store import ChargerStore
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stations"
LOCATIONS = FIXTURES / "ocpi_locations_gera.json"


@pytest.fixture
def store() -> ChargerStore:
    return ChargerStore(load_ocpi(LOCATIONS).chargers)


def test_locations_evses_connectors() -> None:
    result = load_ocpi(LOCATIONS)
    assert [c.id for c in result.chargers] == [
        "ocpi:DE*EGA:GERA-HBF", "ocpi:DE*EGA:GERA-PARKSTR", "ocpi:DE*EGA:GERA-LUSAN",
    ]  # fmt: skip
    assert result.skipped_unpublished == 1  # GERA-DEPOT has publish: false
    assert len(result.warnings) == 1
    assert "GERA-NOCOORD" in result.warnings[0]
    hbf, park, lusan = result.chargers
    assert (hbf.name, hbf.operator, hbf.lat, hbf.lon) == (
        "Gera Hauptbahnhof P+R", "Energieversorgung Gera GmbH", 50.8835, 12.0759,
    )  # fmt: skip
    assert (hbf.address, hbf.postal_code, hbf.city) == ("Heinrichstraße 47", "07545", "Gera")
    assert hbf.source == "ocpi:DE*EGA"
    assert hbf.realtime
    assert not hbf.fast
    assert [(e.uid, e.status) for e in hbf.evses] == [
        ("HBF-1", EvseStatus.AVAILABLE), ("HBF-2", EvseStatus.CHARGING),
    ]  # fmt: skip
    assert hbf.evses[0].evse_id == "DE*EGA*E0001*1"
    c = hbf.evses[0].connectors[0]
    assert (c.standard, c.format, c.power_type, c.power_kw) == (
        "IEC_62196_T2", "SOCKET", "AC_3_PHASE", 22.08,
    )  # fmt: skip
    # No max_electric_power: 3 phases x 230 V x 16 A.
    assert hbf.evses[1].connectors[0].power_kw == pytest.approx(11.04)
    assert park.fast
    assert park.max_power_kw == 150.0
    assert park.standards == {"IEC_62196_T2_COMBO", "CHADEMO"}
    assert park.evses[1].status is EvseStatus.OUTOFORDER
    # The REMOVED EVSE is dropped; name falls back to the address; 230 V x 16 A single phase.
    assert [e.uid for e in lusan.evses] == ["LUSAN-1"]
    assert lusan.name == "Zeulsdorfer Straße 97"
    assert lusan.evses[0].connectors[0].power_kw == pytest.approx(3.68)
    assert hbf.last_updated == datetime(2024, 5, 2, 8, 10, tzinfo=UTC)


def test_usable_evses_filters() -> None:
    hbf, park, _lusan = load_ocpi(LOCATIONS).chargers
    assert [e.uid for e in park.usable_evses("IEC_62196_T2_COMBO", 100)] == ["PARK-DC1"]
    assert park.usable_evses(["IEC_62196_T2"]) == []
    assert [e.uid for e in hbf.usable_evses(["IEC_62196_T2"], 11)] == ["HBF-1", "HBF-2"]
    assert [e.uid for e in hbf.usable_evses(["IEC_62196_T2"], 11, available_only=True)] == ["HBF-1"]
    assert hbf.usable_evses(["IEC_62196_T2"], 23) == []


def test_evse_patch_updates_status(store: ChargerStore) -> None:
    report = store.apply_evse_patch(
        "DE", "EGA", "GERA-HBF", "HBF-1",
        {"status": "CHARGING", "last_updated": "2024-05-02T09:00:00Z"},
    )  # fmt: skip
    assert report.applied == 1
    assert not report.unknown
    assert not report.rejected
    hbf = store.get("ocpi:DE*EGA:GERA-HBF")
    assert hbf is not None
    assert hbf.evse("HBF-1").status is EvseStatus.CHARGING
    assert hbf.evse("HBF-1").last_updated == datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
    assert hbf.evse("HBF-2").status is EvseStatus.CHARGING  # untouched
    # Now nothing at the station is available.
    assert store.nearby(50.8835, 12.0759, 50, available_only=True) == []
    # An older message arriving late does not overwrite the newer state.
    late = store.apply_evse_patch(
        "DE",
        "EGA",
        "GERA-HBF",
        "HBF-1",
        {"status": "AVAILABLE", "last_updated": "2024-05-02T08:30:00Z"},
    )
    assert late.applied == 0
    assert "older" in late.rejected[0]
    assert store.get("ocpi:DE*EGA:GERA-HBF").evse("HBF-1").status is EvseStatus.CHARGING


def test_patch_for_unknown_ids_is_reported(store: ChargerStore) -> None:
    report = store.apply_evse_patch("DE", "EGA", "NOPE", "X", {"status": "AVAILABLE"})
    assert report.applied == 0
    assert report.unknown == ["ocpi:DE*EGA:NOPE/X"]
    report = store.apply_evse_patch("DE", "EGA", "GERA-HBF", "HBF-9", {"status": "AVAILABLE"})
    assert report.unknown == ["ocpi:DE*EGA:GERA-HBF/HBF-9"]
    report = store.apply_evse_patch("DE", "EGA", "GERA-HBF", "HBF-1", {"status": "BROKEN"})
    assert report.applied == 0
    assert "'BROKEN' is not one of" in report.rejected[0]
    report = store.apply_evse_patch("DE", "EGA", "GERA-HBF", "HBF-1", ["not", "an", "object"])
    assert report.applied == 0
    assert report.rejected
    report = store.update_evse_status("ocpi:DE*EGA:GERA-HBF", "HBF-1", "nonsense")
    assert report.rejected
    assert report.applied == 0


def test_put_locations_adds_and_replaces(store: ChargerStore) -> None:
    doc = json.loads(LOCATIONS.read_text())
    new = dict(doc["data"][0], id="GERA-NEU", coordinates={"latitude": "50.9", "longitude": "12.1"})
    changed = json.loads(json.dumps(doc["data"][2]))
    changed["evses"][0]["status"] = "OUTOFORDER"
    report = store.apply_ocpi_locations({"data": [new, changed], "status_code": 1000})
    assert report.applied == 2
    assert len(store) == 4
    assert store.get("ocpi:DE*EGA:GERA-LUSAN").evses[0].status is EvseStatus.OUTOFORDER
    assert [n.item.id for n in store.nearby(50.9, 12.1, 10)] == ["ocpi:DE*EGA:GERA-NEU"]


def test_parse_evse_patch() -> None:
    patch = parse_evse_patch({"status": "available", "last_updated": "2024-05-02T09:00:00Z"})
    assert patch.status is EvseStatus.AVAILABLE
    assert parse_evse_patch({"last_updated": "2024-05-02T09:00:00Z"}).status is None
    with pytest.raises(DataError, match="not one of"):
        parse_evse_patch({"status": 3})


def test_malformed_documents(tmp_path: Path) -> None:
    broken = tmp_path / "locations.json"
    broken.write_text('{"data": [{"id": "A",')
    with pytest.raises(DataError, match=r"locations.json: OCPI Locations is not valid JSON"):
        load_ocpi(broken)
    with pytest.raises(DataError, match="not an OCPI Locations document"):
        parse_locations({"foo": 1}, "x.json")
    with pytest.raises(DataError, match="status_code 2001"):
        parse_locations({"data": [], "status_code": 2001, "status_message": "Invalid"}, "x.json")
    with pytest.raises(DataError, match="'data' must be a list"):
        parse_locations({"data": "nope"}, "x.json")


def test_missing_required_fields_skip_with_warnings() -> None:
    connector = {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                 "power_type": "AC_3_PHASE", "max_electric_power": 11000}  # fmt: skip
    doc = [
        {"country_code": "DE", "party_id": "X",
         "coordinates": {"latitude": "50.9", "longitude": "12.1"},
         "evses": [{"uid": "1", "status": "AVAILABLE", "connectors": [connector]}]},
        {"country_code": "DE", "party_id": "X", "id": "B",
         "coordinates": {"latitude": "50.9", "longitude": "12.1"},
         "evses": [{"status": "AVAILABLE", "connectors": [connector]},
                   {"uid": "2", "status": "WEIRD", "connectors": [connector, {"id": "2"},
                    dict(connector, id="3", standard="MAGIC_PLUG", max_electric_power=None)]}]},
    ]  # fmt: skip
    result = parse_locations(doc, "inline.json")
    assert [c.id for c in result.chargers] == ["ocpi:DE*X:B"]
    evse = result.chargers[0].evses[0]
    assert evse.uid == "2"
    assert evse.status is EvseStatus.UNKNOWN
    assert [c.standard for c in evse.connectors] == ["IEC_62196_T2", "MAGIC_PLUG"]
    assert evse.connectors[1].power_kw is None
    text = "\n".join(result.warnings)
    for expected in (
        "data[0]: missing required field id; location skipped",
        "evses[0]: missing required field uid; EVSE skipped",
        "invalid status 'WEIRD'; set to UNKNOWN",
        "connectors[1]: missing required field standard",
        "'MAGIC_PLUG' is not an OCPI 2.2.1 ConnectorType",
        "power unknown",
    ):
        assert expected in text
