"""OSM bicycle parking / rental from the Heidelberg extract and a small hand-written file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from routing.errors import DataError
from routing.regions import Region
from routing.stations.model import StationKind
from routing.stations.osm_stations import load_osm_stations


@pytest.fixture(scope="module")
def hd_osm(hd_region: Region, hd_data_dir: Path):
    return load_osm_stations(hd_region.source_file("osm", hd_data_dir), bbox=hd_region.bbox)


def test_heidelberg_bicycle_parking(hd_osm) -> None:
    # 59 tagged objects: 4 nodes, 54 ways, 1 relation; 5 are access=private.
    assert len(hd_osm.stations) == 54
    assert hd_osm.skipped_private == 5
    assert hd_osm.warnings == []
    assert Counter(s.kind for s in hd_osm.stations) == {StationKind.BIKE_PARKING: 54}
    assert Counter(s.id[4] for s in hd_osm.stations) == {"n": 4, "w": 50}
    by_id = {s.id: s for s in hd_osm.stations}
    node = by_id["osm:n1787201156"]
    assert (node.lat, node.lon, node.capacity, node.covered) == (49.4061925, 8.691518, 20, False)
    assert node.name == "Bicycle parking"
    assert node.source == "osm"
    assert not node.realtime
    way = by_id["osm:w25762358"]  # a closed way: position is the outline's centroid
    assert way.capacity == 1000
    assert way.lat == pytest.approx(49.394964683, abs=1e-8)
    assert way.lon == pytest.approx(8.81022725, abs=1e-8)
    assert sum(s.capacity or 0 for s in hd_osm.stations) == 2924


def test_private_parking_on_request(hd_region: Region, hd_data_dir: Path) -> None:
    result = load_osm_stations(hd_region.source_file("osm", hd_data_dir), include_private=True)
    assert len(result.stations) == 58
    # The private multipolygon's member ways are not in the extract.
    assert any("relation 4754562" in w and "no node locations" in w for w in result.warnings)


OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="hand">
  <node id="1" lat="50.8835" lon="12.0759" version="1">
    <tag k="amenity" v="bicycle_parking"/><tag k="bicycle_parking" v="lockers"/>
    <tag k="capacity" v="12"/><tag k="covered" v="yes"/><tag k="fee" v="yes"/>
    <tag k="name" v="Fahrradboxen Hbf"/><tag k="operator" v="GVB"/>
  </node>
  <node id="2" lat="50.8790" lon="12.0815" version="1">
    <tag k="amenity" v="bicycle_rental"/><tag k="name" v="nextbike Markt"/>
  </node>
  <node id="3" lat="50.8700" lon="12.0900" version="1">
    <tag k="amenity" v="bicycle_parking"/><tag k="capacity" v="ca. 10"/>
  </node>
  <node id="4" lat="51.5000" lon="12.0900" version="1">
    <tag k="amenity" v="bicycle_parking"/>
  </node>
  <node id="5" lat="50.8810" lon="12.0770" version="1">
    <tag k="amenity" v="bicycle_parking"/><tag k="bicycle_parking" v="building"/>
    <tag k="capacity" v="40"/><tag k="capacity:charging" v="8"/>
  </node>
  <node id="10" lat="50.8800" lon="12.1000" version="1"/>
  <node id="11" lat="50.8800" lon="12.1002" version="1"/>
  <node id="12" lat="50.8802" lon="12.1002" version="1"/>
  <node id="13" lat="50.8802" lon="12.1000" version="1"/>
  <way id="20" version="1">
    <nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="10"/>
    <tag k="amenity" v="bicycle_parking"/><tag k="bicycle_parking" v="shed"/>
    <tag k="covered" v="yes"/>
  </way>
</osm>
"""


def test_hand_written_extract(tmp_path: Path) -> None:
    path = tmp_path / "mini.osm"
    path.write_text(OSM_XML)
    result = load_osm_stations(path, bbox=(11.95, 50.80, 12.20, 50.95))
    by_id = {s.id: s for s in result.stations}
    assert set(by_id) == {"osm:n1", "osm:n2", "osm:n3", "osm:n5", "osm:w20"}
    garage = by_id["osm:n5"]  # a bike garage stands in for an eBox site, with charging
    assert (garage.kind, garage.capacity, garage.ebike_charging) == (
        StationKind.BIKE_BOX, 40, True,
    )  # fmt: skip
    assert result.skipped_outside == 1
    box = by_id["osm:n1"]
    assert box.kind is StationKind.BIKE_BOX
    assert (box.name, box.capacity, box.covered, box.fee, box.operator) == (
        "Fahrradboxen Hbf", 12, True, True, "GVB",
    )  # fmt: skip
    assert by_id["osm:n2"].kind is StationKind.BIKE_SHARE
    assert by_id["osm:n3"].capacity is None
    assert any("capacity='ca. 10'" in w for w in result.warnings)
    shed = by_id["osm:w20"]
    assert shed.kind is StationKind.BIKE_PARKING
    assert shed.covered is True
    assert (shed.lat, shed.lon) == pytest.approx((50.8801, 12.1001))


def test_missing_or_broken_extract(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="OSM extract not found"):
        load_osm_stations(tmp_path / "none.osm.pbf")
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    with pytest.raises(DataError, match="cannot read OSM data"):
        load_osm_stations(broken)
