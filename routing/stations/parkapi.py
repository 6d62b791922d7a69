"""ParkAPI bike-locker data: the model for Gera's eBox bike boxes.

Three layouts are recognised automatically:

* **GeoJSON** FeatureCollection of parking sites (the Freiburg VAG
  ``fahrradboxen`` export and ParkAPI's static GeoJSON sources): one Point
  feature per locker site with ``capacity``, ``capacity_charging``
  (``"nein"``/``"ja"``/a number), ``capacity_cargobike``, ``is_covered``,
  ``has_fee``, ``operator_name``. The geometry is authoritative for the
  position (as in parkapi-sources), not the ``lat``/``lon`` properties.
* **Kienzler** JSON: a list of locker units with ``sum_boxes`` (capacity),
  ``bookable`` (free boxes now) and per-box state. Units named
  "Schließfächer" are luggage lockers, not bike boxes, and are skipped unless
  ``include_item_lockers`` (ParkAPI's rule).
* **ParkAPI v3** JSON ``{"items": [parking sites]}`` with ``uid``, ``lat``,
  ``lon``, ``capacity``, ``realtime_free_capacity``,
  ``realtime_data_updated_at`` and optional ``capacity_charging``.

Only bike sites are kept (``purpose`` bike); each becomes a
:class:`~routing.stations.model.Station` of kind ``bike_box`` (lockers, boxes)
or ``bike_parking`` (stands, sheds). Live free-box counts expire after
``ttl_s`` + ``grace_s`` and are then marked stale.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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

DEFAULT_TTL_S = 600.0
DEFAULT_GRACE_S = 300.0
_YES = {"ja", "yes", "true", "1", "y"}
_NO = {"nein", "no", "false", "0", "n"}
_BOX_TYPES = ("box", "locker", "schließfach", "schliessfach")


@dataclass
class ParkApiSites:
    """Bike stations read from one ParkAPI file, with the warnings raised."""

    source: str
    format: str
    stations: list[Station]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RealtimeRecord:
    """Live free-box count of one site."""

    uid: str
    free: int
    capacity: int | None
    updated_at: datetime | None


def site_uid(source_uid: str, uid: str) -> str:
    """Namespaced station id of ParkAPI site ``uid`` in ``source_uid``."""
    return f"parkapi:{source_uid}:{uid}"


def load_parkapi(
    location: str | Path,
    *,
    source_uid: str | None = None,
    now: datetime | None = None,
    fetched_at: datetime | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    grace_s: float = DEFAULT_GRACE_S,
    include_item_lockers: bool = False,
) -> ParkApiSites:
    """Load bike-box / bike-parking sites from a ParkAPI GeoJSON, Kienzler or v3 JSON file.

    Parameters
    ----------
    location : str or Path
        File path or http(s) URL.
    source_uid : str, optional
        Namespace of the station ids (default: the file name's stem).
    now : datetime, optional
        Reference time for staleness (default: now).
    fetched_at : datetime, optional
        When the data was retrieved, for realtime data without its own
        timestamp (Kienzler); default the file's modification time (or now for a URL).
    ttl_s, grace_s : float
        How long live counts stay valid after their timestamp.
    include_item_lockers : bool
        Keep luggage-locker units (Kienzler "Schließfächer").

    Raises
    ------
    DataError
        The file is not JSON or matches none of the three layouts.
    """
    now = as_utc(now)
    source = source_uid or _default_uid(location)
    doc = load_json(location, "ParkAPI data")
    warn = WarningLog(logger)
    where = str(location)
    if fetched_at is None:
        fetched_at = now if is_url(location) else _mtime(location)
    expiry = _Expiry(now, as_utc(fetched_at), ttl_s, grace_s)
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        fmt, stations = "geojson", _geojson(doc, where, source, expiry, warn)
    elif isinstance(doc, list) and (not doc or _looks_kienzler(doc[0])):
        fmt = "kienzler"
        stations = _kienzler(doc, where, source, expiry, include_item_lockers, warn)
    elif isinstance(doc, dict) and isinstance(doc.get("items"), list):
        fmt, stations = "parkapi_v3", _v3(doc["items"], where, source, expiry, warn)
    else:
        raise DataError(
            f"{where}: not a ParkAPI file (expected a GeoJSON FeatureCollection, a Kienzler "
            "list of units with 'sum_boxes', or a ParkAPI v3 object with 'items'); "
            "check the source's path and kind"
        )
    seen: dict[str, Station] = {}
    for s in stations:
        if s.id in seen:
            warn(f"{where}: site {s.id!r} appears more than once; kept the first")
            continue
        seen[s.id] = s
    if expiry.stale_count:
        warn(
            f"{where}: live counts of {expiry.stale_count} site(s) are older than "
            f"ttl {ttl_s:.0f} s + grace {grace_s:.0f} s; marked stale (availability unknown)"
        )
    warn.summary(where)
    logger.info("ParkAPI %s (%s): %d bike sites, %d warnings", source, fmt, len(seen), len(warn))
    return ParkApiSites(source=f"parkapi:{source}", format=fmt, stations=list(seen.values()),
                        warnings=warn.messages)  # fmt: skip


def parse_realtime(
    doc: Any, where: str = "ParkAPI realtime"
) -> tuple[list[RealtimeRecord], list[str]]:
    """Read live free counts from a Kienzler list or ParkAPI v3 ``items``.

    Returns the records and warnings for rows that were skipped.

    Raises
    ------
    DataError
        ``doc`` is neither layout.
    """
    warnings: list[str] = []
    records: list[RealtimeRecord] = []
    if isinstance(doc, list):
        rows, free_key, cap_key, uid_keys, time_key = doc, "bookable", "sum_boxes", ("id",), None
    elif isinstance(doc, dict) and isinstance(doc.get("items"), list):
        rows, free_key, cap_key = doc["items"], "realtime_free_capacity", "realtime_capacity"
        uid_keys, time_key = ("uid",), "realtime_data_updated_at"
    else:
        raise DataError(f"{where}: expected a Kienzler list or a ParkAPI v3 object with 'items'")
    for i, row in enumerate(rows):
        uid = _uid(row, uid_keys) if isinstance(row, dict) else None
        if uid is None:
            warnings.append(f"{where}: row {i} has no {uid_keys[0]!r}; skipped")
            continue
        free = _int(row.get(free_key))
        if free is None:
            warnings.append(f"{where}: site {uid!r} has no valid {free_key!r}; skipped")
            continue
        updated = parse_timestamp(row.get(time_key)) if time_key else None
        records.append(RealtimeRecord(uid, free, _int(row.get(cap_key)), updated))
    return records, warnings


# --------------------------------------------------------------------------- layouts


class _Expiry:
    """Computes ``valid_until`` / ``stale`` for live counts and counts stale sites."""

    def __init__(self, now: datetime, fetched_at: datetime, ttl_s: float, grace_s: float):
        self.now, self.fetched_at = now, fetched_at
        self.span = timedelta(seconds=ttl_s + grace_s)
        self.stale_count = 0

    def __call__(self, updated_at: datetime | None) -> tuple[datetime, bool]:
        valid_until = (updated_at or self.fetched_at) + self.span
        stale = self.now > valid_until
        self.stale_count += stale
        return valid_until, stale


def _geojson(
    doc: dict[str, Any], where: str, source: str, expiry: _Expiry, warn: Callable[[str], None]
) -> list[Station]:
    features = doc.get("features")
    if not isinstance(features, list):
        raise DataError(f"{where}: GeoJSON FeatureCollection without a 'features' list")
    out = []
    for i, feature in enumerate(features):
        label = f"{where}: features[{i}]"
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            warn(f"{label} has no properties; skipped")
            continue
        geometry = feature.get("geometry")
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        pos = None
        is_point = isinstance(geometry, dict) and geometry.get("type") == "Point"
        if is_point and isinstance(coords, list) and len(coords) >= 2:
            pos = valid_position(coords[1], coords[0])
        if pos is None:  # fall back to the properties, which some exports carry
            pos = valid_position(props.get("lat"), props.get("lon"))
        out.extend(_site(props, pos, label, source, expiry, warn))
    return out


def _v3(
    items: list[Any], where: str, source: str, expiry: _Expiry, warn: Callable[[str], None]
) -> list[Station]:
    out = []
    for i, item in enumerate(items):
        label = f"{where}: items[{i}]"
        if not isinstance(item, dict):
            warn(f"{label} is not an object; skipped")
            continue
        out.extend(_site(item, valid_position(item.get("lat"), item.get("lon")), label, source,
                         expiry, warn))  # fmt: skip
    return out


def _site(
    props: dict[str, Any],
    pos: tuple[float, float] | None,
    label: str,
    source: str,
    expiry: _Expiry,
    warn: Callable[[str], None],
) -> list[Station]:
    """Map one ParkAPI parking site (GeoJSON properties or v3 item); [] if skipped."""
    uid = _uid(props, ("uid", "original_uid", "id", "fid"))
    if uid is None:
        warn(f"{label} has no uid/original_uid; skipped")
        return []
    label = f"{label} (uid {uid})"
    purpose = str(props.get("purpose") or "bike").lower()
    if purpose not in ("bike", "bicycle"):
        logger.debug("%s: purpose %r is not bike; skipped", label, purpose)
        return []
    if pos is None:
        warn(f"{label} has no valid position; skipped")
        return []
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        warn(f"{label} has no name; showing its uid")
        name = uid
    capacity = _int(props.get("capacity"))
    if capacity is None:
        warn(f"{label}: missing or invalid capacity {props.get('capacity')!r}; unknown")
    charging_capacity, ebike = _charging(props.get("capacity_charging"), label, warn)
    kind_text = f"{props.get('type') or ''}".lower()
    kind = (
        StationKind.BIKE_BOX
        if any(t in kind_text for t in _BOX_TYPES)
        else StationKind.BIKE_PARKING
    )
    free = _int(props.get("realtime_free_capacity"))
    realtime = free is not None
    valid_until, stale, updated = None, False, None
    if realtime:
        updated = parse_timestamp(props.get("realtime_data_updated_at"))
        valid_until, stale = expiry(updated)
    return [
        Station(
            id=site_uid(source, uid),
            name=name.strip(),
            lat=pos[0],
            lon=pos[1],
            kind=kind,
            source=f"parkapi:{source}",
            capacity=capacity,
            docks_available=free,
            ebike_charging=ebike,
            charging_capacity=charging_capacity,
            cargo_capacity=_int(props.get("capacity_cargobike", props.get("capacity_cargo"))),
            last_reported=updated,
            valid_until=valid_until,
            stale=stale,
            realtime=realtime,
            covered=_bool(props.get("is_covered")),
            fee=_bool(props.get("has_fee")),
            operator=props.get("operator_name") if isinstance(props.get("operator_name"), str)
            else None,
        )
    ]  # fmt: skip


def _looks_kienzler(row: Any) -> bool:
    return isinstance(row, dict) and "sum_boxes" in row


def _kienzler(
    units: list[Any],
    where: str,
    source: str,
    expiry: _Expiry,
    include_item_lockers: bool,
    warn: Callable[[str], None],
) -> list[Station]:
    out = []
    skipped_items = 0
    for i, unit in enumerate(units):
        label = f"{where}: [{i}]"
        if not isinstance(unit, dict):
            warn(f"{label} is not an object; skipped")
            continue
        uid = _uid(unit, ("id",))
        if uid is None:
            warn(f"{label} has no id; skipped")
            continue
        label = f"{where}: unit {uid!r}"
        raw_name = unit.get("name")
        name = raw_name if isinstance(raw_name, str) and raw_name.strip() else uid
        if "schließfächer" in name.lower() and not include_item_lockers:
            skipped_items += 1
            continue
        pos = valid_position(unit.get("lat"), unit.get("long", unit.get("lon")))
        if pos is None:
            warn(f"{label} has no valid lat/long; skipped")
            continue
        capacity, free = _int(unit.get("sum_boxes")), _int(unit.get("bookable"))
        if capacity is None or free is None:
            warn(f"{label}: missing sum_boxes or bookable; free boxes unknown")
        boxes = unit.get("boxes")
        if isinstance(boxes, dict) and free is not None:
            # The unit total is what ParkAPI publishes; say so when the boxes disagree.
            per_box = sum(
                1 for b in boxes.values() if isinstance(b, dict) and b.get("bookable") == 1
            )
            if per_box != free:
                warn(f"{label}: 'bookable' is {free} but {per_box} boxes are bookable; "
                     "using the unit total")  # fmt: skip
        realtime = free is not None
        valid_until, stale = expiry(None) if realtime else (None, False)
        out.append(
            Station(
                id=site_uid(source, uid),
                name=name.strip(),
                lat=pos[0],
                lon=pos[1],
                kind=StationKind.BIKE_BOX,
                source=f"parkapi:{source}",
                capacity=capacity,
                docks_available=free,
                last_reported=expiry.fetched_at if realtime else None,
                valid_until=valid_until,
                stale=stale,
                realtime=realtime,
                fee=True,
            )
        )
    if skipped_items:
        logger.info("%s: skipped %d luggage-locker units (Schließfächer)", where, skipped_items)
    return out


# --------------------------------------------------------------------------- values


def _uid(row: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _YES:
            return True
        if text in _NO:
            return False
    return None


def _charging(
    value: Any, label: str, warn: Callable[[str], None]
) -> tuple[int | None, bool | None]:
    """``capacity_charging``: a count, or ja/nein. Returns (count, any charging)."""
    if value is None:
        return None, None
    count = _int(value)
    if count is not None:
        return count, count > 0
    flag = _bool(value)
    if flag is None:
        warn(f"{label}: capacity_charging {value!r} is neither a number nor ja/nein; unknown")
        return None, None
    return (0 if not flag else None), flag


def _default_uid(location: str | Path) -> str:
    name = str(location).rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".geojson", ".json"):
        name = name.removesuffix(suffix)
    return name or "parkapi"


def _mtime(location: str | Path) -> datetime:
    try:
        return datetime.fromtimestamp(Path(location).stat().st_mtime, UTC)
    except OSError:
        return datetime.now(UTC)
