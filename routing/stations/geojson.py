"""GeoJSON rendering of stations, chargers and free-floating vehicles (lon, lat order)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from routing.stations.model import Availability, Charger, EvseStatus, Station, StationKind
from routing.stations.store import Nearby


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def station_availability(station: Station) -> Availability:
    """The map's summary: bikes to rent (bike share) or room to park (boxes, parking)."""
    if station.kind is StationKind.BIKE_SHARE:
        return station.bike_availability()
    return station.space_availability()


def station_feature(station: Station) -> dict[str, Any]:
    """One station as a GeoJSON Point feature (id and live counts in ``properties``).

    ``availability`` is ``available``, ``none`` or ``unknown`` (no live data
    or stale): bikes to rent at bike-share stations, room at boxes and parking.
    """
    return {
        "type": "Feature",
        "id": station.id,
        "geometry": {"type": "Point", "coordinates": [station.lon, station.lat]},
        "properties": {
            "id": station.id,
            "name": station.name,
            "kind": station.kind.value,
            "source": station.source,
            "capacity": station.capacity,
            "bikes_available": station.bikes_available,
            "docks_available": station.docks_available,
            "ebike_charging": station.ebike_charging,
            "charging_capacity": station.charging_capacity,
            "cargo_capacity": station.cargo_capacity,
            "vehicle_types_available": dict(station.vehicle_types_available),
            "is_renting": station.is_renting,
            "is_returning": station.is_returning,
            "last_reported": _iso(station.last_reported),
            "realtime": station.realtime,
            "stale": station.stale,
            "availability": station_availability(station).value,
            "covered": station.covered,
            "fee": station.fee,
            "operator": station.operator,
        },
    }


def charger_feature(charger: Charger) -> dict[str, Any]:
    """One charging location as a GeoJSON Point feature with its EVSEs and connectors."""
    evses = [
        {
            "uid": e.uid,
            "evse_id": e.evse_id,
            "status": e.status.value,
            "last_updated": _iso(e.last_updated),
            "connectors": [
                {
                    "id": c.id,
                    "standard": c.standard,
                    "format": c.format,
                    "power_type": c.power_type,
                    "power_kw": c.power_kw,
                }
                for c in e.connectors
            ],
        }
        for e in charger.evses
    ]
    return {
        "type": "Feature",
        "id": charger.id,
        "geometry": {"type": "Point", "coordinates": [charger.lon, charger.lat]},
        "properties": {
            "id": charger.id,
            "name": charger.name,
            "address": charger.address,
            "postal_code": charger.postal_code,
            "city": charger.city,
            "operator": charger.operator,
            "source": charger.source,
            "fast": charger.fast,
            "max_power_kw": charger.max_power_kw,
            "standards": sorted(charger.standards),
            "available_evses": sum(1 for e in charger.evses if e.status is EvseStatus.AVAILABLE),
            "availability": charger.availability().value,
            "realtime": charger.realtime,
            "stale": charger.stale,
            "commissioned": charger.commissioned,
            "evses": evses,
        },
    }


def _with_distance(entry: Any, feature: dict[str, Any]) -> dict[str, Any]:
    distance = getattr(entry, "distance_m", None)
    if distance is not None:
        feature["properties"]["distance_m"] = round(float(distance), 1)
    return feature


def stations_to_geojson(stations: Iterable[Station | Nearby[Station]]) -> dict[str, Any]:
    """A FeatureCollection of stations, or of ``nearby`` results (adds ``distance_m``)."""
    return {
        "type": "FeatureCollection",
        "features": [
            _with_distance(s, station_feature(s.item if isinstance(s, Nearby) else s))
            for s in stations
        ],
    }


def chargers_to_geojson(chargers: Iterable[Charger | Nearby[Charger]]) -> dict[str, Any]:
    """A FeatureCollection of chargers, or of ``nearby`` results (adds ``distance_m``)."""
    return {
        "type": "FeatureCollection",
        "features": [
            _with_distance(c, charger_feature(c.item if isinstance(c, Nearby) else c))
            for c in chargers
        ],
    }


def vehicles_to_geojson(view: Any, now: datetime | None = None) -> dict[str, Any]:
    """A FeatureCollection of the rentable free-floating vehicles of fresh systems.

    Parameters
    ----------
    view : VehicleView
        :meth:`VehicleStore.view` (one consistent moment).
    now : datetime, optional
        Staleness reference (default: now): stale systems are left out.
    """
    features = []
    for snap in view.snapshots.values():
        if snap.stale(now):
            continue
        for v in snap.vehicles:
            if not v.rentable:
                continue
            vtype = snap.vehicle_type(v)
            features.append(
                {
                    "type": "Feature",
                    "id": v.id,
                    "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]},
                    "properties": {
                        "id": v.id,
                        "system_id": snap.system_id,
                        "system": snap.name,
                        "vehicle_type_id": v.vehicle_type_id,
                        "form_factor": snap.form_factor(v),
                        "propulsion_type": vtype.propulsion_type if vtype else None,
                        "range_m": snap.range_m(v),
                        "last_reported": _iso(v.last_reported),
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def zones_to_geojson(view: Any) -> dict[str, Any]:
    """A FeatureCollection of every system's geofencing zones (rules in ``properties``)."""
    features = []
    for snap in view.snapshots.values():
        for feature in snap.geofencing.to_geojson()["features"]:
            feature["properties"]["system_id"] = snap.system_id
            features.append(feature)
    return {"type": "FeatureCollection", "features": features}
