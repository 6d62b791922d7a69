"""GTFS-Realtime VehiclePositions: where each transit vehicle is, for the map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_STATUS = {0: "INCOMING_AT", 1: "STOPPED_AT", 2: "IN_TRANSIT_TO"}


@dataclass(frozen=True)
class VehiclePosition:
    """One vehicle's last reported position.

    Attributes
    ----------
    id : str
        Vehicle id (or the entity id when the feed gives none).
    label : str or None
        What the vehicle shows (line number, fleet number).
    trip_id, route_id : str or None
        The trip served, and its route (from the feed or the timetable).
    lat, lon : float
    bearing, speed : float or None
        Degrees clockwise from north; metres per second.
    timestamp : int or None
        Unix seconds of the position.
    stop_id, status : str or None
        The current or next stop and ``STOPPED_AT``/``IN_TRANSIT_TO``/``INCOMING_AT``.
    """

    id: str
    label: str | None
    trip_id: str | None
    route_id: str | None
    lat: float
    lon: float
    bearing: float | None
    speed: float | None
    timestamp: int | None
    stop_id: str | None
    status: str | None

    def properties(self) -> dict[str, Any]:
        """GeoJSON properties of the vehicle's point."""
        return {
            "vehicleId": self.id,
            "label": self.label,
            "tripId": self.trip_id,
            "routeId": self.route_id,
            "bearing": self.bearing,
            "speed": self.speed,
            "timestamp": self.timestamp,
            "stopId": self.stop_id,
            "status": self.status,
        }


def parse_vehicle_positions(
    feed: Any, *, route_of_trip: dict[str, str] | None = None
) -> tuple[list[VehiclePosition], list[str]]:
    """Vehicles of a decoded ``FeedMessage`` with a valid position, and warnings for the rest.

    Parameters
    ----------
    feed : FeedMessage
        Decoded GTFS-RT message.
    route_of_trip : dict, optional
        Route id of each trip id (fills ``route_id`` when the feed omits it).
    """
    route_of_trip = route_of_trip or {}
    out: list[VehiclePosition] = []
    warnings: list[str] = []
    for entity in feed.entity:
        if not entity.HasField("vehicle"):
            continue
        v = entity.vehicle
        if not v.HasField("position"):
            warnings.append(f"vehicle entity {entity.id}: no position")
            continue
        lat, lon = float(v.position.latitude), float(v.position.longitude)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
            warnings.append(f"vehicle entity {entity.id}: position {lat}, {lon} is not valid")
            continue
        trip_id = (v.trip.trip_id or None) if v.HasField("trip") else None
        route_id = (v.trip.route_id or None) if v.HasField("trip") else None
        if route_id is None and trip_id is not None:
            route_id = route_of_trip.get(trip_id)
        out.append(
            VehiclePosition(
                id=(v.vehicle.id if v.HasField("vehicle") else "") or str(entity.id),
                label=(v.vehicle.label or None) if v.HasField("vehicle") else None,
                trip_id=trip_id,
                route_id=route_id,
                lat=round(lat, 6),  # float32 in the feed: ~0.1 m
                lon=round(lon, 6),
                bearing=round(float(v.position.bearing), 1)
                if v.position.HasField("bearing")
                else None,
                speed=round(float(v.position.speed), 2) if v.position.HasField("speed") else None,
                timestamp=int(v.timestamp) if v.timestamp else None,
                stop_id=v.stop_id or None,
                status=_STATUS.get(int(v.current_status)) if v.HasField("current_status") else None,
            )
        )
    return out, warnings
