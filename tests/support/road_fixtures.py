"""Session fixtures for road graphs: the tiny hand-written network and Heidelberg.

Import the fixtures you use into a test module
(``from tests.support.road_fixtures import hd_graphs  # noqa: F401``), or list this
module in ``pytest_plugins`` of the root conftest.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from routing.build import build_road_graphs, road_graphs
from routing.graph import RoadGraph
from routing.regions import Region
from tests.support.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR
TINY_OSM = FIXTURES / "tiny.osm"


def tiny_node_coords() -> dict[int, tuple[float, float]]:
    """(lat, lon) of each node of the tiny fixture, read with ElementTree (not osmium)."""
    root = ET.parse(TINY_OSM).getroot()
    return {int(n.get("id")): (float(n.get("lat")), float(n.get("lon"))) for n in root.iter("node")}


@pytest.fixture(scope="session")
def tiny_graphs() -> dict[str, RoadGraph]:
    """Node-based graphs of every profile of ``tests/fixtures/tiny.osm`` (no bbox)."""
    return build_road_graphs(TINY_OSM, turns=False)


@pytest.fixture(scope="session")
def hd_node_graphs(hd_region: Region, hd_data_dir: Path) -> dict[str, RoadGraph]:
    """Heidelberg's node-based graphs (before turn expansion), built once per session."""
    from routing.build import buffered_bbox  # noqa: F401  (documents the clip)

    return build_road_graphs(
        hd_region.source_file("osm", hd_data_dir), bbox=hd_region.bbox, turns=False
    )


@pytest.fixture(scope="session")
def hd_graphs(hd_region: Region, hd_data_dir: Path, cache_dir: Path) -> dict[str, RoadGraph]:
    """Heidelberg walk/bike/car graphs through the persistent build cache (mmapped)."""
    return road_graphs(hd_region, data_dir=hd_data_dir, cache_dir=cache_dir)
