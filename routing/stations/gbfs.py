"""GBFS v1/v2/v3 station-based bike share: discovery, stations, live status.

A feed is read from a directory (as mirrored: ``gbfs.json`` plus the files it
lists), from a path to its ``gbfs.json`` or from an http(s) URL. This module
reads the station-based part (system_information, station_information,
station_status, vehicle_types); the free-floating part (vehicle_status /
free_bike_status, geofencing_zones) is read by
:mod:`routing.stations.free_floating`, which shares the discovery here.

Defects seen in real feeds are survived with a warning, never a crash: null or
empty station ids (row skipped), missing names (the id is shown), missing
coordinates (row skipped), a station reported twice (one kept), status for
stations that do not exist, and a feed older than ``ttl`` + grace (stations
marked stale, availability unknown).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from routing.errors import DataError
from routing.stations._io import is_url, load_json
from routing.stations.model import (
    Station,
    StationKind,
    WarningLog,
    as_utc,
    parse_timestamp,
    valid_position,
)

logger = logging.getLogger(__name__)

DEFAULT_GRACE_S = 300.0
DEFAULT_TTL_S = 60
FEEDS = ("system_information", "station_information", "station_status", "vehicle_types")
#: Files of a free-floating system (v3 name, v2.x name, zones).
FREE_FLOATING_FEEDS = ("vehicle_status", "free_bike_status", "geofencing_zones")
DISCOVERED_FEEDS = FEEDS + FREE_FLOATING_FEEDS
EBIKE_PROPULSION = frozenset({"electric_assist", "electric"})


@dataclass(frozen=True)
class VehicleType:
    """A GBFS vehicle type (v2.1+).

    ``max_range_meters`` is the range on a full charge/tank (required by the
    spec for motorised types); ``max_permitted_speed_kph`` the vehicle's own
    speed limit (v2.3+ ``max_permitted_speed``), None when not published.
    """

    id: str
    form_factor: str | None
    propulsion_type: str | None
    name: str | None = None
    max_range_meters: float | None = None
    max_permitted_speed_kph: float | None = None

    @property
    def motorised(self) -> bool:
        """Whether the vehicle has a motor (and hence a range)."""
        return self.propulsion_type not in (None, "human")

    @property
    def is_ebike(self) -> bool:
        """A bicycle with a motor."""
        return self.form_factor == "bicycle" and self.propulsion_type in EBIKE_PROPULSION


@dataclass(frozen=True)
class StatusRecord:
    """One station's entry in station_status, normalised across versions."""

    station_id: str
    bikes_available: int | None
    docks_available: int | None
    is_renting: bool | None
    is_returning: bool | None
    last_reported: datetime | None
    vehicle_types_available: dict[str, int]


@dataclass(frozen=True)
class StatusBatch:
    """A parsed station_status document."""

    records: dict[str, StatusRecord]
    last_updated: datetime | None
    ttl: int
    warnings: tuple[str, ...]


@dataclass
class GbfsFeed:
    """A loaded GBFS system: its stations plus feed metadata and warnings.

    ``valid_until`` is ``last_updated`` + ``ttl`` + grace of station_status;
    ``stale`` says whether that moment had passed at load time.
    """

    system_id: str
    name: str
    version: str
    timezone: str | None
    location: str
    stations: list[Station]
    vehicle_types: dict[str, VehicleType]
    last_updated: datetime | None
    ttl: int
    valid_until: datetime | None
    stale: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        """The ``source`` value of this feed's stations."""
        return f"gbfs:{self.system_id}"


def station_uid(system_id: str, station_id: str) -> str:
    """Namespaced station id of GBFS station ``station_id`` in ``system_id``."""
    return f"gbfs:{system_id}:{station_id}"


def load_gbfs(
    location: str | Path,
    *,
    now: datetime | None = None,
    grace_s: float = DEFAULT_GRACE_S,
    language: str | None = None,
    system_id: str | None = None,
) -> GbfsFeed:
    """Load a station-based GBFS feed (v1, v2.x or v3.x).

    Parameters
    ----------
    location : str or Path
        A directory holding ``gbfs.json`` (or the feed files without it), the
        path of a ``gbfs.json``, or an http(s) URL of ``gbfs.json``.
    now : datetime, optional
        Reference time for staleness (default: the current time).
    grace_s : float
        Seconds beyond the feed's ``ttl`` before its availability counts as stale.
    language : str, optional
        Preferred language for v1/v2 discovery and v3 localised names.
    system_id : str, optional
        Override the system id used in station ids (default: system_information's).

    Returns
    -------
    GbfsFeed

    Raises
    ------
    DataError
        gbfs.json or station_information is unreadable, not JSON, or lacks
        ``data.stations``; the message names the file and the field.
    FetchError
        A URL could not be downloaded.
    """
    now = as_utc(now)
    warn = WarningLog(logger)
    urls, version = _discover(location, language, warn)
    where = str(location)

    info_doc = _optional_doc(urls, "system_information", warn)
    sys_data = info_doc.get("data") if isinstance(info_doc, dict) else None
    sys_data = sys_data if isinstance(sys_data, dict) else {}
    version = version or _doc_version(info_doc)
    sid, name = system_identity(sys_data, location, language=language, system_id=system_id)
    if not sys_data.get("system_id") and not system_id:
        warn(f"{where}: system_information has no system_id; using {sid!r} in station ids")
    timezone = sys_data.get("timezone") if isinstance(sys_data.get("timezone"), str) else None

    vehicle_types = _vehicle_types(_optional_doc(urls, "vehicle_types", warn), urls, warn)

    if "station_information" not in urls:
        if is_free_floating(urls):
            raise DataError(
                f"{where}: a free-floating GBFS system (vehicle_status/free_bike_status, no "
                "station_information); read it with routing.stations.free_floating."
                "load_free_floating (a region's gbfs source loads either kind)"
            )
        raise DataError(
            f"{where}: GBFS feed lists neither station_information nor vehicle_status/"
            "free_bike_status; it is not a bike-share feed (fix the URL or remove the source)"
        )
    info_loc = urls["station_information"]
    station_doc = load_json(info_loc, "GBFS station_information")
    version = version or _doc_version(station_doc)
    stations = _stations(station_doc, info_loc, sid, language, warn)

    last_updated: datetime | None = None
    ttl = DEFAULT_TTL_S
    valid_until: datetime | None = None
    stale = False
    status_loc = urls.get("station_status")
    if status_loc is None:
        warn(f"{where}: no station_status feed; availability of {sid} stations is unknown")
    else:
        try:
            batch = parse_station_status(load_json(status_loc, "GBFS station_status"), status_loc)
        except DataError as exc:
            # The stations are still useful without live counts.
            warn(f"{exc}; availability of {sid} stations is unknown")
            batch = None
        if batch is not None:
            for message in batch.warnings:
                warn(message)
            last_updated, ttl = batch.last_updated, batch.ttl
            valid_until, stale = _validity(batch, now, grace_s, status_loc, warn)
            stations = _merge_status(stations, batch, sid, valid_until, stale, status_loc, warn)
    warn.summary(where)
    feed = GbfsFeed(
        system_id=sid,
        name=name,
        version=version or "1.0",
        timezone=timezone,
        location=where,
        stations=stations,
        vehicle_types=vehicle_types,
        last_updated=last_updated,
        ttl=ttl,
        valid_until=valid_until,
        stale=stale,
        warnings=warn.messages,
    )
    logger.info(
        "GBFS %s (v%s): %d stations%s, %d warnings",
        sid, feed.version, len(stations), " (stale)" if stale else "", len(warn),
    )  # fmt: skip
    return feed


def parse_station_status(doc: Any, where: str | Path = "station_status") -> StatusBatch:
    """Normalise a GBFS station_status document (any version).

    Rows without a station id are skipped; a station listed twice keeps the
    report with the latest ``last_reported`` (the first on a tie). Both are
    reported in ``warnings``.

    Raises
    ------
    DataError
        ``doc`` has no ``data.stations`` list.
    """
    warnings: list[str] = []
    rows = _data_list(doc, "stations", where)
    records: dict[str, StatusRecord] = {}
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            warnings.append(f"{where}: data.stations[{i}] is not an object; skipped")
            continue
        sid = _station_id(row.get("station_id"))
        if sid is None:
            warnings.append(f"{where}: data.stations[{i}] has no station_id; skipped")
            continue
        record = _status_record(sid, row, f"{where}: station {sid!r}", warnings)
        seen[sid] = seen.get(sid, 0) + 1
        old = records.get(sid)
        if old is None or _newer(record.last_reported, old.last_reported):
            records[sid] = record
    for sid, count in seen.items():
        if count > 1:
            kept = records[sid].last_reported
            warnings.append(
                f"{where}: station {sid!r} is listed {count} times; kept the report "
                f"last_reported {kept.isoformat() if kept else 'unknown'}"
            )
    ttl = doc.get("ttl") if isinstance(doc, dict) else None
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        warnings.append(f"{where}: missing or invalid ttl; assuming {DEFAULT_TTL_S} s")
        ttl = DEFAULT_TTL_S
    last_updated = parse_timestamp(doc.get("last_updated"))
    if last_updated is None:
        warnings.append(f"{where}: missing or invalid last_updated; age of the data unknown")
    return StatusBatch(records, last_updated, ttl, tuple(warnings))


def parse_station_information(
    doc: Any, where: str | Path, *, system_id: str, language: str | None = None
) -> tuple[list[Station], list[str]]:
    """Stations of a ``station_information`` document (no live counts), and warnings.

    The warnings are returned, not logged (a poller reads the document often).

    Raises
    ------
    DataError
        ``doc`` has no ``data.stations`` list.
    """
    warnings: list[str] = []
    stations = _stations(doc, where, system_id, language, warnings.append)
    return stations, warnings


def status_valid_until(batch: StatusBatch, grace_s: float, now: datetime) -> datetime:
    """Moment after which a status batch is stale (from ``now`` if it has no timestamp)."""
    base = batch.last_updated or now
    return base + timedelta(seconds=batch.ttl + grace_s)


def apply_status(
    station: Station,
    record: StatusRecord,
    *,
    valid_until: datetime | None,
    stale: bool,
) -> Station:
    """Return ``station`` with the live counts of ``record``."""
    return replace(
        station,
        bikes_available=record.bikes_available,
        docks_available=record.docks_available,
        is_renting=record.is_renting,
        is_returning=record.is_returning,
        last_reported=record.last_reported,
        vehicle_types_available=dict(record.vehicle_types_available),
        valid_until=valid_until,
        stale=stale,
        realtime=True,
    )


def is_free_floating(urls: Mapping[str, Any]) -> bool:
    """Whether discovered feed files include free-floating vehicles."""
    return "vehicle_status" in urls or "free_bike_status" in urls


def discover(
    location: str | Path, language: str | None = None
) -> tuple[dict[str, str | Path], str | None, list[str]]:
    """Feed files of a GBFS system: ``({name: path or URL}, version, warnings)``.

    Raises
    ------
    DataError
        ``location`` does not exist or its gbfs.json is not a discovery file.
    """
    warn = WarningLog(logger)
    urls, version = _discover(location, language, warn)
    return urls, version, warn.messages


# --------------------------------------------------------------------------- discovery


def _discover(
    location: str | Path, language: str | None, warn: Callable[[str], None]
) -> tuple[dict[str, str | Path], str | None]:
    """Map feed names to file paths or URLs; also return the version if stated."""
    if is_url(location):
        text = str(location)
        url = text if urlparse(text).path.endswith(".json") else text.rstrip("/") + "/gbfs.json"
        doc = load_json(url, "GBFS discovery file gbfs.json")
        feeds = _discovery_feeds(doc, url, language)
        urls: dict[str, str | Path] = {
            name: urljoin(url, href) for name, href in feeds.items() if name in DISCOVERED_FEEDS
        }
        return urls, _doc_version(doc)
    path = Path(location)
    if path.is_file():
        directory, discovery = path.parent, path
    elif path.is_dir():
        directory, discovery = path, path / "gbfs.json"
    else:
        raise DataError(
            f"{path}: GBFS feed not found; give a directory with gbfs.json, "
            "the path of gbfs.json, or its URL"
        )
    local: dict[str, str | Path] = {}
    version = None
    if discovery.is_file():
        doc = load_json(discovery, "GBFS discovery file gbfs.json")
        version = _doc_version(doc)
        for name, href in _discovery_feeds(doc, discovery, language).items():
            if name not in DISCOVERED_FEEDS:
                continue
            # Mirrored feeds keep the file but their URLs point elsewhere
            # (``file:src/test/...``, the operator's host): look beside gbfs.json.
            candidates = [directory / Path(urlparse(href).path).name, directory / f"{name}.json"]
            found = next((c for c in candidates if c.is_file()), None)
            if found is not None:
                local[name] = found
            elif is_url(href):
                local[name] = href
            else:
                warn(f"{discovery}: feed {name!r} ({href}) is not in {directory}; ignored")
    for name in DISCOVERED_FEEDS:  # files present but not listed (or no gbfs.json at all)
        if name not in local and (directory / f"{name}.json").is_file():
            local[name] = directory / f"{name}.json"
    return local, version


def _discovery_feeds(doc: Any, where: str | Path, language: str | None) -> dict[str, str]:
    """Return ``{feed name: url}`` from gbfs.json (v3: data.feeds; v1/v2: data.<lang>.feeds)."""
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        raise DataError(f"{where}: gbfs.json has no 'data' object; it is not a GBFS discovery file")
    if isinstance(data.get("feeds"), list):
        feeds = data["feeds"]
    else:
        langs = [k for k, v in data.items() if isinstance(v, dict) and "feeds" in v]
        if not langs:
            raise DataError(
                f"{where}: gbfs.json lists no feeds (expected data.feeds or data.<language>.feeds)"
            )
        lang = language if language in langs else langs[0]
        feeds = data[lang]["feeds"]
    out: dict[str, str] = {}
    for feed in feeds if isinstance(feeds, list) else []:
        if (
            isinstance(feed, dict)
            and isinstance(feed.get("name"), str)
            and isinstance(feed.get("url"), str)
        ):
            out[feed["name"]] = feed["url"]
    return out


def _optional_doc(urls: Mapping[str, str | Path], name: str, warn: Callable[[str], None]) -> Any:
    """Load an optional feed file; a broken one is a warning, not an error."""
    loc = urls.get(name)
    if loc is None:
        return None
    try:
        return load_json(loc, f"GBFS {name}")
    except DataError as exc:
        warn(f"{exc}; continuing without {name}")
        return None


def _doc_version(doc: Any) -> str | None:
    version = doc.get("version") if isinstance(doc, dict) else None
    return version if isinstance(version, str) else None


def system_identity(
    sys_data: Mapping[str, Any],
    location: str | Path,
    *,
    language: str | None = None,
    system_id: Any = None,
    default: str | None = None,
) -> tuple[str, str]:
    """The system id and name of a GBFS feed, as every GBFS reader names it.

    Parameters
    ----------
    sys_data : mapping
        The ``data`` object of system_information (empty when not published).
    location : str or Path
        Where the feed was read (a URL, a ``gbfs.json`` path or its directory).
    language : str, optional
        Preferred language of localised (v3) texts.
    system_id : optional
        The configured override; wins over system_information.
    default : str, optional
        The id when neither names one (default: the URL's host or the feed's directory).

    Returns
    -------
    tuple of (str, str)
        ``(system_id, name)``; the name falls back to the id.
    """
    sid = str(
        system_id
        or localised_text(sys_data.get("system_id"), language)
        or (default if default is not None else _default_system_id(location))
    )
    return sid, localised_text(sys_data.get("name"), language) or sid


def _default_system_id(location: str | Path) -> str:
    if is_url(location):
        return urlparse(str(location)).netloc or "gbfs"
    path = Path(location)
    return (path.parent if path.is_file() else path).name or "gbfs"


# --------------------------------------------------------------------------- parsing


def _data_list(doc: Any, key: str, where: str | Path) -> list[Any]:
    data = doc.get("data") if isinstance(doc, dict) else None
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise DataError(
            f"{where}: missing field data.{key} (a list); this is not a valid GBFS "
            f"{Path(str(where)).stem or 'file'}, fetch it again or fix the feed URL"
        )
    return rows


def localised_text(value: Any, language: str | None) -> str | None:
    """A plain string, or the preferred entry of a v3 localised string list."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        texts = [v for v in value if isinstance(v, dict) and isinstance(v.get("text"), str)]
        preferred = [v for v in texts if language and v.get("language") == language]
        for entry in preferred + texts:
            if entry["text"].strip():
                return str(entry["text"]).strip()
    return None


def _station_id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _count(
    row: dict[str, Any], keys: tuple[str, ...], label: str, warnings: list[str]
) -> int | None:
    for key in keys:
        if key in row and row[key] is not None:
            value = row[key]
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
            if isinstance(value, float) and value.is_integer() and value >= 0:
                return int(value)
            warnings.append(f"{label}: invalid {key} {value!r}; treated as unknown")
            return None
    return None


def _flag(
    row: dict[str, Any], keys: tuple[str, ...], label: str, warnings: list[str]
) -> bool | None:
    for key in keys:
        if key in row and row[key] is not None:
            value = row[key]
            if isinstance(value, bool):
                return value
            if value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.lower() in ("true", "false", "0", "1"):
                return value.lower() in ("true", "1")
            warnings.append(f"{label}: invalid {key} {value!r}; treated as unknown")
            return None
    return None


def _status_record(sid: str, row: dict[str, Any], label: str, warnings: list[str]) -> StatusRecord:
    bikes = _count(row, ("num_vehicles_available", "num_bikes_available"), label, warnings)
    if bikes is None and not any(
        k in row for k in ("num_vehicles_available", "num_bikes_available")
    ):
        warnings.append(f"{label}: no num_bikes_available/num_vehicles_available; unknown")
    docks = _count(row, ("num_docks_available",), label, warnings)
    installed = _flag(row, ("is_installed", "installed"), label, warnings)
    renting = _flag(row, ("is_renting", "renting"), label, warnings)
    returning = _flag(row, ("is_returning", "returning"), label, warnings)
    if installed is False:
        renting = returning = False
    types: dict[str, int] = {}
    for entry in row.get("vehicle_types_available") or []:
        if isinstance(entry, dict) and isinstance(entry.get("vehicle_type_id"), str):
            count = entry.get("count")
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                types[entry["vehicle_type_id"]] = count
    return StatusRecord(
        station_id=sid,
        bikes_available=bikes,
        docks_available=docks,
        is_renting=renting,
        is_returning=returning,
        last_reported=parse_timestamp(row.get("last_reported")),
        vehicle_types_available=types,
    )


def _newer(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and (b is None or a > b)


def _vehicle_types(
    doc: Any, urls: Mapping[str, str | Path], warn: Callable[[str], None]
) -> dict[str, VehicleType]:
    if doc is None:
        return {}
    where = urls.get("vehicle_types", "vehicle_types")
    try:
        types, warnings = parse_vehicle_types(doc, where)
    except DataError as exc:
        warn(f"{exc}; continuing without vehicle types")
        return {}
    for message in warnings:
        warn(message)
    return types


def parse_vehicle_types(
    doc: Any, where: str | Path = "vehicle_types"
) -> tuple[dict[str, VehicleType], list[str]]:
    """Normalise a GBFS vehicle_types document (v2.1+ and v3): ``(types by id, warnings)``.

    Rows without an id are skipped; a motorised type without a usable
    ``max_range_meters`` is kept with an unknown range (warned).

    Raises
    ------
    DataError
        ``doc`` has no ``data.vehicle_types`` list.
    """
    warnings: list[str] = []
    rows = _data_list(doc, "vehicle_types", where)
    out: dict[str, VehicleType] = {}
    for i, row in enumerate(rows):
        vid = _station_id(row.get("vehicle_type_id")) if isinstance(row, dict) else None
        if vid is None:
            warnings.append(f"{where}: data.vehicle_types[{i}] has no vehicle_type_id; skipped")
            continue
        label = f"{where}: vehicle type {vid!r}"
        vtype = VehicleType(
            id=vid,
            form_factor=row.get("form_factor") if isinstance(row.get("form_factor"), str) else None,
            propulsion_type=(
                row.get("propulsion_type") if isinstance(row.get("propulsion_type"), str) else None
            ),
            name=localised_text(row.get("name"), None),
            max_range_meters=_positive(row.get("max_range_meters"), label, warnings),
            max_permitted_speed_kph=_positive(row.get("max_permitted_speed"), label, warnings),
        )
        if vtype.motorised and vtype.max_range_meters is None:
            warnings.append(f"{label} is motorised but has no max_range_meters; range unknown")
        out[vid] = vtype
    return out, warnings


def _positive(value: Any, label: str, warnings: list[str]) -> float | None:
    """A number > 0, or None (a present but unusable value is warned)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    warnings.append(f"{label}: {value!r} is not a positive number; treated as unknown")
    return None


def _stations(
    doc: Any, where: str | Path, system_id: str, language: str | None, warn: Callable[[str], None]
) -> list[Station]:
    rows = _data_list(doc, "stations", where)
    out: dict[str, Station] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            warn(f"{where}: data.stations[{i}] is not an object; skipped")
            continue
        sid = _station_id(row.get("station_id"))
        if sid is None:
            warn(f"{where}: data.stations[{i}] has no station_id; skipped")
            continue
        label = f"{where}: station {sid!r}"
        pos = valid_position(row.get("lat"), row.get("lon"))
        if pos is None:
            warn(f"{label} has no valid lat/lon ({row.get('lat')!r}, {row.get('lon')!r}); skipped")
            continue
        if sid in out:
            warn(f"{label} is listed more than once; kept the first")
            continue
        name = localised_text(row.get("name"), language)
        if name is None:
            warn(f"{label} has no name; showing its id")
            name = sid
        notes: list[str] = []
        capacity = _count(row, ("capacity",), label, notes)
        for note in notes:
            warn(note)
        charging = row.get("is_charging_station")
        out[sid] = Station(
            id=station_uid(system_id, sid),
            name=name,
            lat=pos[0],
            lon=pos[1],
            kind=StationKind.BIKE_SHARE,
            source=f"gbfs:{system_id}",
            capacity=capacity,
            ebike_charging=charging if isinstance(charging, bool) else None,
            operator=None,
        )
    return list(out.values())


def _validity(
    batch: StatusBatch,
    now: datetime,
    grace_s: float,
    where: str | Path,
    warn: Callable[[str], None],
) -> tuple[datetime, bool]:
    valid_until = status_valid_until(batch, grace_s, now)
    stale = now > valid_until
    if stale:
        age = (now - (batch.last_updated or now)).total_seconds()
        warn(
            f"{where}: station_status is stale (last_updated "
            f"{batch.last_updated.isoformat() if batch.last_updated else '?'}, "
            f"{age:.0f} s old > ttl {batch.ttl} s + grace {grace_s:.0f} s); "
            "availability marked unknown until a fresh status arrives"
        )
    return valid_until, stale


def _merge_status(
    stations: list[Station],
    batch: StatusBatch,
    system_id: str,
    valid_until: datetime | None,
    stale: bool,
    where: str | Path,
    warn: Callable[[str], None],
) -> list[Station]:
    prefix = f"gbfs:{system_id}:"
    by_sid = {s.id[len(prefix) :]: s for s in stations}
    unknown = sorted(set(batch.records) - set(by_sid))
    if unknown:
        warn(
            f"{where}: status for {len(unknown)} station(s) not in station_information "
            f"({', '.join(unknown[:10])}); ignored"
        )
    missing = sorted(set(by_sid) - set(batch.records))
    if missing:
        warn(
            f"{where}: no status for {len(missing)} station(s) ({', '.join(missing[:10])}); "
            "their availability is unknown"
        )
    out = []
    for sid, station in by_sid.items():
        record = batch.records.get(sid)
        if record is not None:
            station = apply_status(station, record, valid_until=valid_until, stale=stale)
        out.append(station)
    return out
