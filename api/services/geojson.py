"""GeoJSON variants of API answers (lon, lat order, as GeoJSON requires)."""

from __future__ import annotations

from typing import Any


def feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """One GeoJSON Feature."""
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (extra members allowed, e.g. a region name)."""
    return {"type": "FeatureCollection", "features": features, **members}


def line(lats: Any, lons: Any, digits: int = 6) -> dict[str, Any]:
    """A LineString from parallel latitude/longitude sequences."""
    return {
        "type": "LineString",
        "coordinates": [
            [round(float(x), digits), round(float(y), digits)]
            for y, x in zip(lats, lons, strict=True)
        ],
    }


def point(lat: float, lon: float) -> dict[str, Any]:
    """A Point."""
    return {"type": "Point", "coordinates": [round(float(lon), 7), round(float(lat), 7)]}
