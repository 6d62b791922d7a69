"""Service areas: the polygon an on-demand service covers, in WGS84.

Read from an osmosis/osmium ``.poly`` file (sections of ``lon lat`` lines,
``!`` marks a hole) or from GeoJSON (a Polygon/MultiPolygon geometry,
Feature or FeatureCollection), optionally clipped to the region's bounding
box. An area that is empty after clipping is an error, not a silent "no
demand".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from routing.errors import DataError
from routing.regions import Region

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceArea:
    """A (multi)polygon in WGS84 ``(lon, lat)`` order with fast point tests.

    Attributes
    ----------
    geometry : shapely geometry
        Polygon or MultiPolygon, coordinates ``(lon, lat)``.
    name : str
        Where it came from (file name or ``"bbox"``).
    """

    geometry: BaseGeometry
    name: str

    def __post_init__(self) -> None:
        shapely.prepare(self.geometry)

    def contains(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Return a boolean array: which points lie inside (or on the border of) the area."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        return np.asarray(shapely.intersects_xy(self.geometry, lon, lat), dtype=bool)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)``."""
        b = self.geometry.bounds
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))

    def clipped(self, bbox: tuple[float, float, float, float]) -> ServiceArea:
        """Return the part of the area inside ``bbox`` (``min_lon, min_lat, max_lon, max_lat``).

        Raises
        ------
        DataError
            Nothing of the area lies in ``bbox``.
        """
        geom = shapely.intersection(self.geometry, box(*bbox))
        area = _polygonal(geom)
        if area is None:
            raise DataError(
                f"service area {self.name} does not overlap the region bbox {bbox}; "
                f"use the polygon of this region"
            )
        return ServiceArea(area, self.name)


def bbox_area(bbox: tuple[float, float, float, float], name: str = "bbox") -> ServiceArea:
    """A rectangular service area ``(min_lon, min_lat, max_lon, max_lat)``."""
    if not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        raise DataError(f"service area bbox {bbox} is empty: need min < max on both axes")
    return ServiceArea(box(*bbox), name)


def load_service_area(path: Path | str) -> ServiceArea:
    """Read a service area from a ``.poly`` or GeoJSON (``.geojson``/``.json``) file.

    Raises
    ------
    DataError
        The file is missing, malformed, or its polygon is empty or invalid
        beyond repair.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"service area file {path} does not exist; check the region's sources")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file; expected .poly or GeoJSON") from None
    if path.suffix.lower() in (".geojson", ".json") or text.lstrip().startswith("{"):
        geom = _parse_geojson(text, path)
    else:
        geom = _parse_poly(text, path)
    area = _polygonal(geom)
    if area is None:
        raise DataError(
            f"{path}: the service area is empty (no polygon with a positive area); "
            f"check the file's rings"
        )
    log.info(
        "service area %s: %d polygon(s), bounds %s",
        path.name,
        len(getattr(area, "geoms", [area])),
        tuple(round(b, 4) for b in area.bounds),
    )
    return ServiceArea(area, path.name)


def region_service_area(region: Region, data_dir: Path | None = None) -> ServiceArea:
    """The region's ``service_area`` source clipped to its bbox, or the bbox alone."""
    if region.has_source("service_area"):
        return load_service_area(region.source_file("service_area", data_dir)).clipped(region.bbox)
    log.info("region %s has no service_area source: using its bbox", region.name)
    return bbox_area(region.bbox, name=f"{region.name} bbox")


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    if geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
    polys: list[Polygon] = []
    for part in parts:
        polys.extend(getattr(part, "geoms", [part]))
    polys = [p for p in polys if p.area > 0]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def _parse_poly(text: str, path: Path) -> BaseGeometry:
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines())]
    lines = [(n, ln) for n, ln in lines if ln]
    if not lines:
        raise DataError(f"{path}: empty .poly file")
    shells: list[list[tuple[float, float]]] = []
    holes: list[list[tuple[float, float]]] = []
    pos = 1  # line 0 is the polygon's name
    while pos < len(lines):
        number, name = lines[pos]
        if name == "END":
            break
        ring: list[tuple[float, float]] = []
        pos += 1
        while pos < len(lines) and lines[pos][1] != "END":
            n, row = lines[pos]
            fields = row.split()
            try:
                if len(fields) != 2:
                    raise ValueError
                ring.append((float(fields[0]), float(fields[1])))
            except ValueError:
                raise DataError(f"{path} line {n}: expected 'lon lat', got {row!r}") from None
            pos += 1
        if pos >= len(lines):
            raise DataError(f"{path} line {number}: section {name!r} has no END line")
        pos += 1
        if len(ring) < 3:
            raise DataError(f"{path} line {number}: ring {name!r} has fewer than 3 points")
        lons = [p[0] for p in ring]
        lats = [p[1] for p in ring]
        if max(map(abs, lons)) > 180 or max(map(abs, lats)) > 90:
            raise DataError(f"{path} line {number}: ring {name!r} is not in lon/lat degrees")
        (holes if name.startswith("!") else shells).append(ring)
    else:
        raise DataError(f"{path}: missing the final END line")
    if not shells:
        raise DataError(f"{path}: no outer ring; the .poly file describes an empty area")
    geom: BaseGeometry = shapely.union_all([shapely.make_valid(Polygon(r)) for r in shells])
    if holes:
        geom = shapely.difference(geom, shapely.union_all([Polygon(r) for r in holes]))
    return geom


def _parse_geojson(text: str, path: Path) -> BaseGeometry:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a GeoJSON object")
    kind = data.get("type")
    if kind == "FeatureCollection":
        geoms = [f.get("geometry") for f in data.get("features") or []]
    elif kind == "Feature":
        geoms = [data.get("geometry")]
    else:
        geoms = [data]
    parts = []
    for i, g in enumerate(geoms):
        if not isinstance(g, dict) or g.get("type") not in ("Polygon", "MultiPolygon"):
            got = g.get("type") if isinstance(g, dict) else g
            raise DataError(
                f"{path}: feature {i} has geometry {got!r}; a service area needs "
                f"Polygon or MultiPolygon geometries"
            )
        try:
            parts.append(shapely.make_valid(shape(g)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise DataError(f"{path}: feature {i} has a malformed geometry ({exc})") from None
    if not parts:
        raise DataError(f"{path}: the GeoJSON has no features; the service area is empty")
    return shapely.union_all(parts)
