"""Build a region's station and charger stores from the sources in its TOML file.

Station sources (``load_stations``), by ``kind``:

* ``osm``: bicycle parking / rental from the region's OSM extract
  (option ``include_private_bike_parking``, default false);
* ``gbfs``: a GBFS feed directory or URL (options ``language``, ``grace_s``,
  ``system_id``; ``live = true`` reads ``url`` instead of the local copy);
  its stations, when it has station_information;
* ``parkapi``: ParkAPI bike-locker GeoJSON / Kienzler / v3 JSON (options
  ``source_uid``, ``ttl_s``, ``grace_s``, ``include_item_lockers``, ``live``).

Charger sources (``load_chargers``): ``bnetza`` (register CSV) and ``ocpi``
(Locations JSON, ``live`` as above).

Free-floating vehicles (``load_vehicles``): every ``gbfs`` source whose feed
has vehicle_status (v3) or free_bike_status (v2.x), with its vehicle_types
and geofencing_zones (same options). A feed may be both station-based and
free-floating.

Everything is clipped to the region's bbox unless a source says
``clip_to_bbox = false``. Ids are namespaced per source, so several feeds
can be combined.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from routing.errors import DataError
from routing.regions import Region, Source, default_data_dir
from routing.stations.model import Charger, Station, WarningLog, as_utc
from routing.stations.store import ChargerStore, StationStore
from routing.stations.vehicle_store import VehicleStore

logger = logging.getLogger(__name__)

STATION_KINDS = ("osm", "gbfs", "parkapi")
CHARGER_KINDS = ("bnetza", "ocpi")


def load_stations(
    region: Region,
    data_dir: Path | None = None,
    *,
    now: datetime | None = None,
    skip_missing: bool = False,
) -> StationStore:
    """Load all bike stations of a region into a live :class:`StationStore`.

    Parameters
    ----------
    region : Region
        The region (its ``osm``, ``gbfs`` and ``parkapi`` sources are used).
    data_dir : Path, optional
        Local data directory (default :func:`routing.regions.default_data_dir`).
    now : datetime, optional
        Reference time for staleness of live data (default: now).
    skip_missing : bool
        Warn and continue when a source file is missing instead of raising.

    Raises
    ------
    DataError
        A source file is missing (unless ``skip_missing``) or unreadable.
    """
    now = as_utc(now)
    warn = WarningLog(logger)
    stations: list[Station] = []
    for source in region.sources.values():
        if source.kind not in STATION_KINDS:
            continue
        location = _location(region, source, data_dir, skip_missing, warn)
        if location is None:
            continue
        bbox = region.bbox if source.options.get("clip_to_bbox", True) else None
        found, messages = _STATION_READERS[source.kind](location, source, bbox, now)
        warn.extend(messages)
        stations.extend(found)
    store = StationStore(_unique(stations, warn), warnings=warn.messages)
    logger.info(
        "stations of %s: %d (%s), %d warnings",
        region.name, len(store), _count_by(store.snapshot(), lambda s: s.kind.value), len(warn),
    )  # fmt: skip
    return store


def load_vehicles(
    region: Region,
    data_dir: Path | None = None,
    *,
    now: datetime | None = None,
    skip_missing: bool = False,
) -> VehicleStore:
    """Load the free-floating GBFS systems of a region into a :class:`VehicleStore`.

    Vehicles outside the region's bbox are dropped (unless the source says
    ``clip_to_bbox = false``); zones are kept whole.

    Raises
    ------
    DataError
        A source file is missing (unless ``skip_missing``) or unreadable.
    """
    from routing.stations.free_floating import load_free_floating
    from routing.stations.gbfs import DEFAULT_GRACE_S, discover, is_free_floating

    now = as_utc(now)
    warn = WarningLog(logger)
    snapshots = []
    for source in region.sources.values():
        if source.kind != "gbfs":
            continue
        location = _location(region, source, data_dir, skip_missing, warn)
        if location is None:
            continue
        opts = source.options
        urls, _, _ = discover(location, opts.get("language"))
        if not is_free_floating(urls):
            continue
        snap = load_free_floating(
            location,
            now=now,
            grace_s=float(opts.get("grace_s", DEFAULT_GRACE_S)),
            language=opts.get("language"),
            system_id=opts.get("system_id"),
        )
        if opts.get("clip_to_bbox", True):
            box = region.bbox
            inside = tuple(
                v for v in snap.vehicles if box[0] <= v.lon <= box[2] and box[1] <= v.lat <= box[3]
            )
            snap = replace(snap, vehicles=inside)
        warn.extend(snap.warnings)
        snapshots.append(snap)
    store = VehicleStore(snapshots, warnings=warn.messages)
    logger.info(
        "free-floating vehicles of %s: %d in %d system(s), %d warnings",
        region.name, len(store), len(snapshots), len(warn),
    )  # fmt: skip
    return store


def load_chargers(
    region: Region,
    data_dir: Path | None = None,
    *,
    skip_missing: bool = False,
) -> ChargerStore:
    """Load all charging locations of a region into a live :class:`ChargerStore`.

    Uses the region's ``bnetza`` and ``ocpi`` sources, clipped to its bbox.

    Raises
    ------
    DataError
        A source file is missing (unless ``skip_missing``) or unreadable.
    """
    from routing.stations.bnetza import load_bnetza
    from routing.stations.ocpi import load_ocpi

    warn = WarningLog(logger)
    chargers: list[Charger] = []
    for source in region.sources.values():
        if source.kind not in CHARGER_KINDS:
            continue
        location = _location(region, source, data_dir, skip_missing, warn)
        if location is None:
            continue
        bbox = region.bbox if source.options.get("clip_to_bbox", True) else None
        if source.kind == "bnetza":
            result: Any = load_bnetza(location, bbox=bbox)
        else:
            result = load_ocpi(location, bbox=bbox)
        warn.extend(result.warnings)
        chargers.extend(result.chargers)
    store = ChargerStore(_unique(chargers, warn), warnings=warn.messages)
    logger.info(
        "chargers of %s: %d (%s), %d warnings",
        region.name, len(store), _count_by(store.snapshot(), lambda c: c.source), len(warn),
    )  # fmt: skip
    return store


def _location(
    region: Region,
    source: Source,
    data_dir: Path | None,
    skip_missing: bool,
    warn: WarningLog,
) -> str | Path | None:
    """Local file of a source, or its URL for ``live`` sources; None when skipped."""
    if source.options.get("live") and source.url:
        return source.url
    path = region.source_file(source.key, data_dir or default_data_dir())
    if path.exists():
        return path
    message = (
        f"{path}: source {source.key!r} ({source.kind}) of region {region.name!r} is missing; "
        f"run `elster fetch {region.name}` or set ELSTER_DATA_DIR"
    )
    if skip_missing:
        warn(message)
        return None
    raise DataError(message)


def _read_osm(
    location: str | Path, source: Source, bbox: Any, now: datetime
) -> tuple[list[Station], list[str]]:
    from routing.stations.osm_stations import load_osm_stations

    result = load_osm_stations(
        location,
        bbox=bbox,
        include_private=bool(source.options.get("include_private_bike_parking")),
    )
    return result.stations, result.warnings


def _read_gbfs(
    location: str | Path, source: Source, bbox: Any, now: datetime
) -> tuple[list[Station], list[str]]:
    from routing.stations.gbfs import DEFAULT_GRACE_S, discover, load_gbfs

    opts = source.options
    urls, _, _ = discover(location, opts.get("language"))
    if "station_information" not in urls:  # a free-floating system: see load_vehicles
        return [], []
    feed = load_gbfs(
        location,
        now=now,
        grace_s=float(opts.get("grace_s", DEFAULT_GRACE_S)),
        language=opts.get("language"),
        system_id=opts.get("system_id"),
    )
    return _clip(feed.stations, bbox), feed.warnings


def _read_parkapi(
    location: str | Path, source: Source, bbox: Any, now: datetime
) -> tuple[list[Station], list[str]]:
    from routing.stations.parkapi import DEFAULT_GRACE_S, DEFAULT_TTL_S, load_parkapi

    opts = source.options
    sites = load_parkapi(
        location,
        source_uid=opts.get("source_uid", source.key),
        now=now,
        ttl_s=float(opts.get("ttl_s", DEFAULT_TTL_S)),
        grace_s=float(opts.get("grace_s", DEFAULT_GRACE_S)),
        include_item_lockers=bool(opts.get("include_item_lockers", False)),
    )
    return _clip(sites.stations, bbox), sites.warnings


_STATION_READERS: dict[
    str, Callable[[str | Path, Source, Any, datetime], tuple[list[Station], list[str]]]
] = {"osm": _read_osm, "gbfs": _read_gbfs, "parkapi": _read_parkapi}


def _clip(stations: list[Station], bbox: tuple[float, float, float, float] | None) -> list[Station]:
    if bbox is None:
        return stations
    return [s for s in stations if bbox[0] <= s.lon <= bbox[2] and bbox[1] <= s.lat <= bbox[3]]


def _unique(items: list[Any], warn: WarningLog) -> list[Any]:
    seen: dict[str, Any] = {}
    for item in items:
        if item.id in seen:
            warn(f"id {item.id!r} comes from two sources; kept the first")
            continue
        seen[item.id] = item
    return list(seen.values())


def _count_by(items: list[Any], key: Callable[[Any], str]) -> str:
    counts: dict[str, int] = {}
    for item in items:
        counts[key(item)] = counts.get(key(item), 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
