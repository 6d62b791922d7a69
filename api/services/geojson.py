"""GeoJSON variants of API answers (lon, lat order, as GeoJSON requires)."""

from __future__ import annotations

from typing import Any

from api.services.polyline import decode


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


def itineraries_geojson(itineraries: list[dict[str, Any]]) -> dict[str, Any]:
    """One LineString feature per leg, with the leg's fields (geometry excluded) as properties."""
    features = []
    for i, itinerary in enumerate(itineraries):
        for j, leg in enumerate(itinerary["legs"]):
            geometry = leg.get("legGeometry")
            if geometry and geometry.get("points"):
                coords = decode(geometry["points"], geometry.get("precision", 6))
            else:
                coords = [
                    (leg["from"]["lat"], leg["from"]["lon"]),
                    (leg["to"]["lat"], leg["to"]["lon"]),
                ]
            if len(coords) == 1:
                coords = coords * 2
            props = {k: v for k, v in leg.items() if k != "legGeometry"}
            props.update(itinerary=i, leg=j, itineraryDuration=itinerary["duration"])
            features.append(
                feature(
                    {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in coords]},
                    props,
                )
            )
    return collection(features)
