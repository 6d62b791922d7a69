"""Bike parking and bike rental from an OpenStreetMap extract (pyosmium).

Reads ``amenity=bicycle_parking`` and ``amenity=bicycle_rental`` nodes, ways
(position = mean of the outline's nodes) and multipolygon relations (mean of
their outer ways' nodes). ``bicycle_parking=lockers`` becomes a ``bike_box``,
other parking ``bike_parking``, rental ``bike_share``. OSM has no live
availability, so ``realtime`` is False. Private parking (``access=private``
or ``no``) is left out unless asked for; objects outside ``bbox`` are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import osmium

from routing.errors import DataError
from routing.stations.model import Station, StationKind, WarningLog

logger = logging.getLogger(__name__)

BOX_TYPES = frozenset({"lockers", "locker", "lockbox", "building"})
PRIVATE_ACCESS = frozenset({"private", "no"})
_DEFAULT_NAMES = {
    StationKind.BIKE_PARKING: "Bicycle parking",
    StationKind.BIKE_BOX: "Bicycle lockers",
    StationKind.BIKE_SHARE: "Bicycle rental",
}


@dataclass
class OsmStations:
    """Bike stations read from an OSM file."""

    path: str
    stations: list[Station]
    skipped_private: int = 0
    skipped_outside: int = 0
    warnings: list[str] = field(default_factory=list)


def load_osm_stations(
    path: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    include_private: bool = False,
) -> OsmStations:
    """Read bicycle parking and rental stations from an OSM file.

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf`` / ``.osm`` file.
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Keep only stations inside this box.
    include_private : bool
        Keep parking tagged ``access=private`` / ``access=no``.

    Raises
    ------
    DataError
        The file is missing or cannot be read as OSM data.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: OSM extract not found; fetch the region's 'osm' source")
    warn = WarningLog(logger)
    tags_of: dict[tuple[str, int], dict[str, str]] = {}
    node_pos: dict[int, tuple[float, float]] = {}
    way_nodes: dict[int, list[int]] = {}
    rel_ways: dict[int, list[int]] = {}
    try:
        # Pass 1: the tagged objects, with node locations for tagged ways.
        wanted = osmium.filter.TagFilter(
            ("amenity", "bicycle_parking"), ("amenity", "bicycle_rental")
        )
        for obj in osmium.FileProcessor(str(path)).with_locations().with_filter(wanted):
            tags = dict(obj.tags)
            if isinstance(obj, osmium.osm.Node):
                if obj.location.valid():
                    node_pos[obj.id] = (obj.location.lat, obj.location.lon)
                tags_of[("n", obj.id)] = tags
            elif isinstance(obj, osmium.osm.Way):
                way_nodes[obj.id] = [n.ref for n in obj.nodes]
                for n in obj.nodes:
                    if n.location.valid():
                        node_pos[n.ref] = (n.location.lat, n.location.lon)
                tags_of[("w", obj.id)] = tags
            elif isinstance(obj, osmium.osm.Relation):
                rel_ways[obj.id] = [m.ref for m in obj.members
                                    if m.type == "w" and m.role in ("outer", "")]  # fmt: skip
                tags_of[("r", obj.id)] = tags
        # Relations (rare): fetch their outer ways, then those ways' nodes, by id.
        # Private ones are dropped first, and IdFilter keeps both passes in C++.
        if not include_private:
            rel_ways = {r: w for r, w in rel_ways.items()
                        if tags_of[("r", r)].get("access") not in PRIVATE_ACCESS}  # fmt: skip
        needed = {w for ways in rel_ways.values() for w in ways} - set(way_nodes)
        if needed:
            ways = osmium.FileProcessor(str(path), osmium.osm.WAY).with_filter(
                osmium.filter.IdFilter(needed)
            )
            for obj in ways:
                if isinstance(obj, osmium.osm.Way):
                    way_nodes[obj.id] = [n.ref for n in obj.nodes]
            refs = {r for w in needed for r in way_nodes.get(w, [])} - set(node_pos)
            if refs:
                nodes = osmium.FileProcessor(str(path), osmium.osm.NODE).with_filter(
                    osmium.filter.IdFilter(refs)
                )
                for obj in nodes:
                    if isinstance(obj, osmium.osm.Node) and obj.location.valid():
                        node_pos[obj.id] = (obj.location.lat, obj.location.lon)
    except RuntimeError as exc:
        raise DataError(f"{path}: cannot read OSM data ({exc}); fetch the extract again") from None

    stations: list[Station] = []
    private = outside = 0
    for (otype, oid), tags in tags_of.items():
        label = f"{path}: {_TYPE_NAMES[otype]} {oid}"
        if tags.get("access") in PRIVATE_ACCESS and not include_private:
            private += 1
            continue
        if otype == "n":
            points = [node_pos[oid]] if oid in node_pos else []
        elif otype == "w":
            points = _outline(way_nodes.get(oid, []), node_pos)
        else:
            points = [
                p for w in rel_ways.get(oid, []) for p in _outline(way_nodes.get(w, []), node_pos)
            ]
        if not points:
            warn(f"{label} ({tags.get('amenity')}) has no node locations in the extract; skipped")
            continue
        lat = sum(p[0] for p in points) / len(points)
        lon = sum(p[1] for p in points) / len(points)
        if bbox is not None and not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
            outside += 1
            continue
        stations.append(_station(otype, oid, tags, lat, lon, label, warn))
    warn.summary(str(path))
    logger.info(
        "OSM %s: %d bike stations (%d private and %d outside the box skipped), %d warnings",
        path.name, len(stations), private, outside, len(warn),
    )  # fmt: skip
    return OsmStations(str(path), stations, private, outside, warn.messages)


_TYPE_NAMES = {"n": "node", "w": "way", "r": "relation"}


def _outline(
    refs: list[int], node_pos: dict[int, tuple[float, float]]
) -> list[tuple[float, float]]:
    """Node positions of a way, without the repeated closing node."""
    if len(refs) > 1 and refs[0] == refs[-1]:
        refs = refs[:-1]
    return [node_pos[r] for r in refs if r in node_pos]


def _station(
    otype: str, oid: int, tags: dict[str, str], lat: float, lon: float, label: str, warn: WarningLog
) -> Station:
    if tags.get("amenity") == "bicycle_rental":
        kind = StationKind.BIKE_SHARE
    elif tags.get("bicycle_parking", "").lower() in BOX_TYPES:
        kind = StationKind.BIKE_BOX
    else:
        kind = StationKind.BIKE_PARKING
    capacity = None
    raw = tags.get("capacity")
    if raw is not None:
        if raw.strip().isdigit():
            capacity = int(raw.strip())
        else:
            warn(f"{label}: capacity={raw!r} is not a whole number; capacity unknown")
    charging = tags.get("capacity:charging") or tags.get("charging")
    ebike = None
    if charging is not None:
        ebike = charging.strip().lower() not in ("no", "0")
    return Station(
        id=f"osm:{otype}{oid}",
        name=tags.get("name") or _DEFAULT_NAMES[kind],
        lat=lat,
        lon=lon,
        kind=kind,
        source="osm",
        capacity=capacity,
        ebike_charging=ebike,
        covered=_yes_no(tags.get("covered")),
        fee=_yes_no(tags.get("fee")),
        operator=tags.get("operator"),
    )


def _yes_no(value: str | None) -> bool | None:
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("yes", "true", "1"):
        return True
    if text in ("no", "false", "0"):
        return False
    return None
