"""Build :class:`~routing.transit.itinerary.Leg` objects for road stretches and stations.

Candidates carry planned times; these helpers draw the geometry (a route on the
profile's graph, from the exact point to its snapped road position and back off
the road at the end) and attach station / charger details in the leg's
``extra`` (shown in ``to_dict()``): ``fromStation`` / ``toStation`` with the
availability the plan relied on, ``booking`` for bookable legs, ``cost`` in EUR.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np

from routing.errors import NoRouteError, SnapError
from routing.geo import haversine_m
from routing.planner.searches import Searches
from routing.stations.model import Station
from routing.transit.itinerary import Leg, Place

log = logging.getLogger(__name__)

PROFILE_MODE = {"walk": "WALK", "bike": "BICYCLE", "car": "CAR"}


def seconds(delta: float) -> dt.timedelta:
    """A timedelta of ``delta`` seconds."""
    return dt.timedelta(seconds=float(delta))


def road_geometry(
    s: Searches, profile: str, a: Place, b: Place
) -> tuple[np.ndarray, np.ndarray, float]:
    """(lats, lons, metres) of the fastest road path between two places; a straight line if none."""
    try:
        route = s.route(profile, (a.lat, a.lon), (b.lat, b.lon))
        lats = np.concatenate(([a.lat], route.lats, [b.lat]))
        lons = np.concatenate(([a.lon], route.lons, [b.lon]))
        keep = np.ones(lats.size, dtype=bool)
        keep[1:] = (np.diff(lats) != 0) | (np.diff(lons) != 0)
        lats, lons = lats[keep], lons[keep]
        off = float(haversine_m(a.lat, a.lon, lats[1], lons[1])) if lats.size > 1 else 0.0
        off_end = float(haversine_m(lats[-2], lons[-2], b.lat, b.lon)) if lats.size > 1 else 0.0
        # Off-road ends are walked/pushed; count them so the leg length matches the line.
        return lats, lons, float(route.distance_m) + off + off_end
    except (SnapError, NoRouteError) as exc:
        log.debug("straight %s line %s -> %s: %s", profile, a.name, b.name, exc)
        lats, lons = np.array([a.lat, b.lat]), np.array([a.lon, b.lon])
        return lats, lons, float(haversine_m(a.lat, a.lon, b.lat, b.lon))


def road_leg(
    s: Searches,
    profile: str,
    a: Place,
    b: Place,
    start: dt.datetime,
    duration_s: float,
    *,
    mode: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Leg:
    """A WALK / BICYCLE / CAR leg with planned times and drawn geometry."""
    lats, lons, metres = road_geometry(s, profile, a, b)
    return Leg(
        mode or PROFILE_MODE[profile],
        a,
        b,
        start,
        start + seconds(duration_s),
        metres,
        lats,
        lons,
        extra=dict(extra or {}),
    )


def point_leg(
    mode: str, where: Place, start: dt.datetime, duration_s: float, extra: dict[str, Any]
) -> Leg:
    """A leg that stays in one place (charging): zero distance, a one-point geometry."""
    return Leg(
        mode,
        where,
        where,
        start,
        start + seconds(duration_s),
        0.0,
        np.array([where.lat, where.lat]),
        np.array([where.lon, where.lon]),
        extra=dict(extra),
    )


def station_place(station: Station) -> Place:
    """The :class:`Place` of a bike station."""
    return Place(station.name, station.lat, station.lon)


def station_info(station: Station, *, action: str) -> dict[str, Any]:
    """What the plan relied on at a station: kind, live counts, when they were reported."""
    return {
        "id": station.id,
        "name": station.name,
        "kind": station.kind.value,
        "action": action,
        "bikesAvailable": station.bikes_available,
        "docksAvailable": station.docks_available,
        "capacity": station.capacity,
        "realtime": station.realtime,
        "lastReported": station.last_reported.isoformat() if station.last_reported else None,
        "operator": station.operator,
    }


def cost(amount: float) -> dict[str, Any]:
    """The ``cost`` object of a leg (EUR, rounded to cents)."""
    return {"amount": round(float(amount), 2), "currency": "EUR"}
