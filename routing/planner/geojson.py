"""GeoJSON rendering of a plan: one LineString per leg (lon, lat), one Point per station used."""

from __future__ import annotations

from typing import Any

from routing.planner.planner import PlanResult

_STATION_KEYS = ("fromStation", "toStation", "toCharger", "fromCharger", "charger")


def plan_to_geojson(result: PlanResult) -> dict[str, Any]:
    """A FeatureCollection of every itinerary's legs and the stations/chargers they use.

    Leg features carry the leg's properties (mode, times, distance, stations)
    plus ``itineraryIndex``/``legIndex`` and the itinerary's ``mode``; point
    features have ``role`` (e.g. ``toStation``) and the station details.
    """
    features: list[dict[str, Any]] = []
    for i, it in enumerate(result.itineraries):
        for feature in it.itinerary.to_geojson()["features"]:
            feature["properties"]["itineraryIndex"] = i
            feature["properties"]["itineraryMode"] = it.mode
            features.append(feature)
        seen = set()
        for leg in it.legs:
            for key in _STATION_KEYS:
                info = leg.extra.get(key)
                if not info or (key, info["id"]) in seen:
                    continue
                seen.add((key, info["id"]))
                place = leg.to_place if key.startswith("to") or key == "charger" else leg.from_place
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Point",
                            "coordinates": [round(place.lon, 7), round(place.lat, 7)],
                        },
                        "properties": {"role": key, "itineraryIndex": i, **info},
                    }
                )
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {"reasons": dict(result.reasons)},
    }
