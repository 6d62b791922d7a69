"""Service areas from .poly and GeoJSON; empty or malformed areas are errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from demand.area import bbox_area, load_service_area, region_service_area
from routing.errors import DataError
from routing.regions import load_region


def test_real_vmt_poly_contains_gera(mirror_dir: Path) -> None:
    area = load_service_area(mirror_dir / "gera" / "DE-TH-VMT.poly")
    assert area.contains(np.array([50.8806]), np.array([12.0833]))[0]  # Gera Hbf
    assert not area.contains(np.array([49.41]), np.array([8.69]))[0]  # Heidelberg
    clipped = area.clipped((11.95, 50.80, 12.20, 50.95))
    assert clipped.bounds[0] >= 11.95
    assert clipped.bounds[2] <= 12.20


def test_region_areas(mirror_dir: Path) -> None:
    gera = region_service_area(load_region("gera"), mirror_dir)
    assert gera.name == "DE-TH-VMT.poly"
    hd = region_service_area(load_region("heidelberg"), mirror_dir)
    assert hd.bounds == (8.58, 49.34, 8.84, 49.51)


def test_poly_with_hole(tmp_path: Path) -> None:
    path = tmp_path / "a.poly"
    path.write_text(
        "area\nouter\n 0 0\n 10 0\n 10 10\n 0 10\nEND\n!hole\n 4 4\n 6 4\n 6 6\n 4 6\nEND\nEND\n"
    )
    area = load_service_area(path)
    assert area.contains(np.array([1.0, 5.0]), np.array([1.0, 5.0])).tolist() == [True, False]


def test_geojson_feature_collection(tmp_path: Path) -> None:
    path = tmp_path / "a.geojson"
    square = [[[12.0, 50.8], [12.1, 50.8], [12.1, 50.9], [12.0, 50.9], [12.0, 50.8]]]
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": square},
                    }
                ],
            }
        )
    )
    area = load_service_area(path)
    assert area.contains(np.array([50.85]), np.array([12.05]))[0]


def test_empty_areas_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "e.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(DataError, match="empty"):
        load_service_area(path)
    flat = tmp_path / "flat.poly"
    flat.write_text("flat\n1\n 0 0\n 1 1\n 2 2\nEND\nEND\n")
    with pytest.raises(DataError, match="empty"):
        load_service_area(flat)
    with pytest.raises(DataError, match="does not overlap"):
        bbox_area((0.0, 0.0, 1.0, 1.0)).clipped((5.0, 5.0, 6.0, 6.0))
    with pytest.raises(DataError, match="empty"):
        bbox_area((1.0, 0.0, 1.0, 1.0))


def test_malformed_poly_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.poly"
    path.write_text("bad\n1\n 0 0\n 1 x\n 1 1\nEND\nEND\n")
    with pytest.raises(DataError, match="line 4"):
        load_service_area(path)
    path.write_text("bad\n1\n 0 0\n 1 0\n 1 1\n")
    with pytest.raises(DataError, match="END"):
        load_service_area(path)


def test_point_geometry_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.geojson"
    path.write_text(json.dumps({"type": "Point", "coordinates": [12, 50]}))
    with pytest.raises(DataError, match="Polygon"):
        load_service_area(path)
