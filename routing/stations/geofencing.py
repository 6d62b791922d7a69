"""GBFS geofencing zones (v2.1-v2.3 and v3): where a free-floating ride may start, pass, end.

A zone is a GeoJSON (Multi)Polygon with a list of rules; each rule names the
vehicle types it applies to (all when it names none) and says whether a ride
may start there, end there (park), or pass through, whether the vehicle must
be parked at a station there, and a speed limit. The two layouts differ:

* v2.1-v2.3: ``rules[].vehicle_type_id`` (list), ``ride_allowed`` (start *and*
  end), ``ride_through_allowed``, ``maximum_speed_kph``, ``station_parking``;
* v3: ``rules[].vehicle_type_ids``, ``ride_start_allowed``,
  ``ride_end_allowed``, ``ride_through_allowed``, ``maximum_speed_kph``,
  ``station_parking``, plus ``data.global_rules`` for everywhere outside the
  zones.

Precedence (as the v3 spec and OpenTripPlanner): at a point, the first zone
in the file that contains it and has a rule for the vehicle type decides;
outside every such zone the global rules apply (v3), else everything is
allowed. ``station_parking = true`` means parking only at a station of the
system, so a free-floating ride cannot end there. Zones with ``start``/``end``
times (v2.3 ``properties.start``/``end``) apply only within them.

Bad geometry (unclosed rings, non-numeric or out-of-range coordinates,
self-intersections) is repaired where shapely can (``make_valid``), else the
zone is skipped with a warning; a document without ``data.geofencing_zones``
is a :class:`~routing.errors.DataError`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from routing.errors import DataError
from routing.stations.model import parse_timestamp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZoneRule:
    """What one rule allows, for its vehicle types (None = every type).

    Attributes
    ----------
    vehicle_type_ids : frozenset of str or None
        Types the rule applies to; None (or empty in the feed) = all types.
    ride_start_allowed, ride_end_allowed, ride_through_allowed : bool
        May a ride start / end (park) / pass here.
    maximum_speed_kph : float or None
        Speed limit inside the zone.
    station_parking : bool
        Vehicles must be parked at a station here (no free-floating end).
    """

    vehicle_type_ids: frozenset[str] | None
    ride_start_allowed: bool = True
    ride_end_allowed: bool = True
    ride_through_allowed: bool = True
    maximum_speed_kph: float | None = None
    station_parking: bool = False

    def applies_to(self, vehicle_type_id: str | None) -> bool:
        """Whether the rule covers ``vehicle_type_id`` (a rule for all types covers None)."""
        return self.vehicle_type_ids is None or vehicle_type_id in self.vehicle_type_ids

    @property
    def parking_allowed(self) -> bool:
        """Whether a free-floating ride may end here."""
        return self.ride_end_allowed and not self.station_parking


#: Outside every zone, without global rules: everything is allowed.
ALLOW_ALL = ZoneRule(None)


@dataclass(frozen=True)
class Zone:
    """One geofencing zone: its area (shapely geometry, lon/lat) and rules in feed order."""

    name: str | None
    geometry: Any
    rules: tuple[ZoneRule, ...]
    start: datetime | None = None
    end: datetime | None = None

    def rule_for(self, vehicle_type_id: str | None) -> ZoneRule | None:
        """The first rule of this zone covering the type, or None."""
        return next((r for r in self.rules if r.applies_to(vehicle_type_id)), None)

    def active(self, now: datetime | None) -> bool:
        """Whether the zone applies at ``now`` (always, when it has no time window)."""
        if now is None:
            return True
        return (self.start is None or now >= self.start) and (self.end is None or now < self.end)


@dataclass(frozen=True)
class EdgeRules:
    """Rules at many points for one vehicle type (parallel arrays).

    ``speed_kph`` is ``inf`` where no limit applies.
    """

    start: np.ndarray
    end: np.ndarray
    through: np.ndarray
    speed_kph: np.ndarray


@dataclass(frozen=True)
class Geofencing:
    """The geofencing zones of one system, with point lookups.

    Attributes
    ----------
    zones : tuple of Zone
        In feed order (the first containing zone with a matching rule decides).
    global_rules : tuple of ZoneRule
        Rules outside every zone (v3 ``global_rules``); empty = allow all.
    warnings : tuple of str
        Problems met while parsing (skipped zones, repaired geometry).
    """

    zones: tuple[Zone, ...] = ()
    global_rules: tuple[ZoneRule, ...] = ()
    warnings: tuple[str, ...] = ()
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def global_rule(self, vehicle_type_id: str | None) -> ZoneRule:
        """The rule outside every zone for the type."""
        return next((r for r in self.global_rules if r.applies_to(vehicle_type_id)), ALLOW_ALL)

    def rule_at(
        self, lat: float, lon: float, vehicle_type_id: str | None, now: datetime | None = None
    ) -> ZoneRule:
        """The rule in force at a point for a vehicle type."""
        point = shapely.Point(lon, lat)
        for zone in self.zones:
            if not zone.active(now):
                continue
            rule = zone.rule_for(vehicle_type_id)
            if rule is not None and zone.geometry.covers(point):
                return rule
        return self.global_rule(vehicle_type_id)

    def rules_at(
        self,
        lats: np.ndarray,
        lons: np.ndarray,
        vehicle_type_id: str | None,
        now: datetime | None = None,
    ) -> EdgeRules:
        """Rules at many points for one vehicle type (vectorised point-in-polygon)."""
        lats, lons = np.asarray(lats, float), np.asarray(lons, float)
        n = lats.size
        default = self.global_rule(vehicle_type_id)
        start = np.full(n, default.ride_start_allowed)
        end = np.full(n, default.parking_allowed)
        through = np.full(n, default.ride_through_allowed)
        speed = np.full(n, _speed(default))
        decided = np.zeros(n, bool)
        for zone in self.zones:
            if not zone.active(now):
                continue
            rule = zone.rule_for(vehicle_type_id)
            if rule is None:
                continue
            todo = ~decided
            if not todo.any():
                break
            idx = np.flatnonzero(todo)
            inside = shapely.contains_xy(
                zone.geometry, lons[idx], lats[idx]
            ) | shapely.intersects_xy(zone.geometry.boundary, lons[idx], lats[idx])
            hit = idx[inside]
            start[hit] = rule.ride_start_allowed
            end[hit] = rule.parking_allowed
            through[hit] = rule.ride_through_allowed
            speed[hit] = _speed(rule)
            decided[hit] = True
        return EdgeRules(start, end, through, speed)

    def cached(self, key: Any, compute: Any) -> Any:
        """``compute()`` once per ``key`` for this (immutable) set of zones."""
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = compute()
        return hit

    def to_geojson(self) -> dict[str, Any]:
        """The zones as a GeoJSON FeatureCollection (rules in ``properties``)."""
        features = []
        for zone in self.zones:
            features.append(
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(zone.geometry),
                    "properties": {
                        "name": zone.name,
                        "rules": [
                            {
                                "vehicleTypeIds": (
                                    None
                                    if r.vehicle_type_ids is None
                                    else sorted(r.vehicle_type_ids)
                                ),
                                "rideStartAllowed": r.ride_start_allowed,
                                "rideEndAllowed": r.ride_end_allowed,
                                "rideThroughAllowed": r.ride_through_allowed,
                                "maximumSpeedKph": r.maximum_speed_kph,
                                "stationParking": r.station_parking,
                            }
                            for r in zone.rules
                        ],
                    },
                }
            )
        return {"type": "FeatureCollection", "features": features}


def _speed(rule: ZoneRule) -> float:
    return math.inf if rule.maximum_speed_kph is None else float(rule.maximum_speed_kph)


def parse_geofencing_zones(doc: Any, where: str | Path = "geofencing_zones") -> Geofencing:
    """Normalise a GBFS geofencing_zones document (v2.1-v2.3 or v3).

    Parameters
    ----------
    doc : dict
        The parsed JSON document.
    where : str or Path
        Name of the source, for messages.

    Returns
    -------
    Geofencing
        Zones in feed order; broken zones are skipped and listed in ``warnings``.

    Raises
    ------
    DataError
        ``doc`` has no ``data.geofencing_zones`` FeatureCollection.
    """
    data = doc.get("data") if isinstance(doc, dict) else None
    fc = data.get("geofencing_zones") if isinstance(data, dict) else None
    features = fc.get("features") if isinstance(fc, dict) else None
    if not isinstance(features, list):
        raise DataError(
            f"{where}: missing data.geofencing_zones.features (a GeoJSON FeatureCollection); "
            "this is not a GBFS geofencing_zones file, fetch it again or fix the feed URL"
        )
    warnings: list[str] = []
    zones: list[Zone] = []
    for i, feature in enumerate(features):
        label = f"{where}: zone {i}"
        if not isinstance(feature, dict):
            warnings.append(f"{label} is not a GeoJSON feature; skipped")
            continue
        raw_props = feature.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        name = props.get("name")
        if isinstance(name, list):  # v3 localised
            name = next((n.get("text") for n in name if isinstance(n, dict)), None)
        if isinstance(name, str) and name:
            label = f"{label} ({name})"
        geometry = _geometry(feature.get("geometry"), label, warnings)
        if geometry is None:
            continue
        raw_rules = props.get("rules")
        if not isinstance(raw_rules, list):
            raw_rules = []
        rules = tuple(
            r
            for j, raw in enumerate(raw_rules)
            if (r := _rule(raw, f"{label} rule {j}", warnings)) is not None
        )
        if not rules:
            warnings.append(f"{label} has no usable rules; it restricts nothing")
            continue
        zones.append(
            Zone(
                name if isinstance(name, str) else None,
                geometry,
                rules,
                parse_timestamp(props.get("start")),
                parse_timestamp(props.get("end")),
            )
        )
    raw_global = data.get("global_rules") if isinstance(data, dict) else None
    global_rules = tuple(
        r
        for j, raw in enumerate(raw_global if isinstance(raw_global, list) else [])
        if (r := _rule(raw, f"{where}: global rule {j}", warnings)) is not None
    )
    for message in warnings[:20]:
        logger.warning(message)
    return Geofencing(tuple(zones), global_rules, tuple(warnings))


def _geometry(raw: Any, label: str, warnings: list[str]) -> Any:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        warnings.append(
            f"{label}: geometry must be a Polygon or MultiPolygon, got {kind!r}; skipped"
        )
        return None
    try:
        geometry = shape(raw)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        warnings.append(f"{label}: unreadable geometry ({exc}); skipped")
        return None
    if geometry.is_empty:
        warnings.append(f"{label}: empty geometry; skipped")
        return None
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        warnings.append(
            f"{label}: coordinates out of range {geometry.bounds} (GeoJSON is lon, lat); skipped"
        )
        return None
    if not geometry.is_valid:
        warnings.append(f"{label}: invalid polygon ({shapely.is_valid_reason(geometry)}); repaired")
        geometry = shapely.make_valid(geometry)
    shapely.prepare(geometry)
    return geometry


def _flag(rule: dict[str, Any], keys: tuple[str, ...], label: str, warnings: list[str]) -> bool:
    for key in keys:
        if key in rule:
            value = rule[key]
            if isinstance(value, bool):
                return value
            if value in (0, 1):
                return bool(value)
            warnings.append(f"{label}: {key} {value!r} is not true/false; taken as allowed")
            return True
    return True


def _rule(raw: Any, label: str, warnings: list[str]) -> ZoneRule | None:
    if not isinstance(raw, dict):
        warnings.append(f"{label} is not an object; skipped")
        return None
    ids = raw.get("vehicle_type_ids", raw.get("vehicle_type_id"))
    if isinstance(ids, str):
        ids = [ids]
    type_ids = (
        frozenset(str(i) for i in ids if isinstance(i, str | int))
        if isinstance(ids, list) and ids
        else None
    )
    # v2.x: ride_allowed = may start and end here; v3: separate flags.
    start = _flag(raw, ("ride_start_allowed", "ride_allowed"), label, warnings)
    end = _flag(raw, ("ride_end_allowed", "ride_allowed"), label, warnings)
    through = _flag(raw, ("ride_through_allowed",), label, warnings)
    speed = raw.get("maximum_speed_kph")
    if speed is not None and not (
        isinstance(speed, int | float) and not isinstance(speed, bool) and speed >= 0
    ):
        warnings.append(f"{label}: maximum_speed_kph {speed!r} is not a speed; ignored")
        speed = None
    station = raw.get("station_parking")
    return ZoneRule(
        type_ids,
        ride_start_allowed=start,
        ride_end_allowed=end,
        ride_through_allowed=through,
        maximum_speed_kph=None if speed is None else float(speed),
        station_parking=station is True,
    )
