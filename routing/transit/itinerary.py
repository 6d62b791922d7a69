"""Itineraries and legs in the MOTIS / OpenTripPlanner shape, for any mode.

An :class:`Itinerary` is a list of :class:`Leg` objects (WALK, BUS, TRAM, RAIL,
BICYCLE, CAR, ...). ``to_dict()`` gives the JSON shape of MOTIS ``/api/v1/plan``
and OTP (``itineraries[].legs[]`` with ``mode``, ``from``/``to`` places,
ISO 8601 ``startTime``/``endTime`` with offset, ``duration`` seconds,
``distance`` metres, route/trip/headsign for transit legs and ``legGeometry``
as an encoded polyline of precision 6); ``to_geojson()`` is the map variant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routing.polyline import encode_polyline

TRANSIT_MODES = frozenset(
    {
        "TRAM",
        "SUBWAY",
        "RAIL",
        "BUS",
        "FERRY",
        "CABLE_CAR",
        "GONDOLA",
        "FUNICULAR",
        "TROLLEYBUS",
        "MONORAIL",
        "COACH",
        "TRANSIT",
    }
)
POLYLINE_PRECISION = 6


@dataclass(frozen=True)
class Place:
    """A point of an itinerary: a stop (with ``stop_id``) or a free coordinate."""

    name: str
    lat: float
    lon: float
    stop_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """MOTIS/OTP place object."""
        out: dict[str, Any] = {
            "name": self.name,
            "lat": round(self.lat, 7),
            "lon": round(self.lon, 7),
        }
        if self.stop_id is not None:
            out["stopId"] = self.stop_id
        return out


@dataclass(frozen=True)
class StopCall:
    """An intermediate stop of a transit leg."""

    place: Place
    arrival: dt.datetime
    departure: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """Place plus arrival and departure times."""
        return {
            **self.place.to_dict(),
            "arrival": self.arrival.isoformat(),
            "departure": self.departure.isoformat(),
        }


@dataclass
class Leg:
    """One leg: a walk, a ride, a bike or car stretch.

    Attributes
    ----------
    mode : str
        ``WALK``, ``BICYCLE``, ``CAR``, or a transit mode (``BUS``, ``TRAM``, ``RAIL``, ...).
    from_place, to_place : Place
    start, end : datetime
        Timezone-aware.
    distance_m : float
        Along the geometry.
    lats, lons : ndarray
        Geometry (WGS84 degrees).
    route_id, route_short_name, route_long_name, trip_id, headsign, agency_name : str or None
        Transit details.
    intermediate_stops : list of StopCall
        Stops passed without getting off (transit legs).
    extra : dict
        Mode-specific additions merged into ``to_dict()`` (e.g. a rental station).
    """

    mode: str
    from_place: Place
    to_place: Place
    start: dt.datetime
    end: dt.datetime
    distance_m: float
    lats: np.ndarray
    lons: np.ndarray
    route_id: str | None = None
    route_short_name: str | None = None
    route_long_name: str | None = None
    trip_id: str | None = None
    headsign: str | None = None
    agency_name: str | None = None
    intermediate_stops: list[StopCall] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> int:
        """Seconds from start to end."""
        return round((self.end - self.start).total_seconds())

    @property
    def transit(self) -> bool:
        """Whether this is a ride on public transport."""
        return self.mode in TRANSIT_MODES

    def to_dict(self) -> dict[str, Any]:
        """MOTIS/OTP leg object."""
        out: dict[str, Any] = {
            "mode": self.mode,
            "from": self.from_place.to_dict(),
            "to": self.to_place.to_dict(),
            "startTime": self.start.isoformat(),
            "endTime": self.end.isoformat(),
            "duration": self.duration_s,
            "distance": round(float(self.distance_m), 1),
            "transitLeg": self.transit,
            "legGeometry": {
                "points": encode_polyline(self.lats, self.lons, POLYLINE_PRECISION),
                "precision": POLYLINE_PRECISION,
                "length": len(self.lats),
            },
        }
        if self.transit:
            out.update(
                {
                    "routeId": self.route_id,
                    "routeShortName": self.route_short_name,
                    "routeLongName": self.route_long_name,
                    "tripId": self.trip_id,
                    "headsign": self.headsign,
                    "agencyName": self.agency_name,
                    "intermediateStops": [s.to_dict() for s in self.intermediate_stops],
                }
            )
        out.update(self.extra)
        return out


@dataclass
class Itinerary:
    """A door-to-door trip: legs in travel order (at least one)."""

    legs: list[Leg]

    @property
    def start(self) -> dt.datetime:
        """When the first leg starts."""
        return self.legs[0].start

    @property
    def end(self) -> dt.datetime:
        """When the last leg ends."""
        return self.legs[-1].end

    @property
    def duration_s(self) -> int:
        """Total seconds."""
        return round((self.end - self.start).total_seconds())

    @property
    def transfers(self) -> int:
        """Number of changes between transit vehicles."""
        return max(0, sum(leg.transit for leg in self.legs) - 1)

    @property
    def walk_time_s(self) -> int:
        """Seconds on foot."""
        return sum(leg.duration_s for leg in self.legs if leg.mode == "WALK")

    @property
    def walk_distance_m(self) -> float:
        """Metres on foot."""
        return float(sum(leg.distance_m for leg in self.legs if leg.mode == "WALK"))

    def to_dict(self) -> dict[str, Any]:
        """MOTIS/OTP itinerary object."""
        return {
            "startTime": self.start.isoformat(),
            "endTime": self.end.isoformat(),
            "duration": self.duration_s,
            "transfers": self.transfers,
            "walkTime": self.walk_time_s,
            "walkDistance": round(self.walk_distance_m, 1),
            "legs": [leg.to_dict() for leg in self.legs],
        }

    def to_geojson(self) -> dict[str, Any]:
        """GeoJSON FeatureCollection: one LineString (lon, lat) per leg."""
        features = []
        for i, leg in enumerate(self.legs):
            props = {k: v for k, v in leg.to_dict().items() if k != "legGeometry"}
            props["legIndex"] = i
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [
                            [round(float(lo), 7), round(float(la), 7)]
                            for la, lo in zip(leg.lats, leg.lons, strict=True)
                        ],
                    },
                    "properties": props,
                }
            )
        return {"type": "FeatureCollection", "features": features}
