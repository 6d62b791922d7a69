"""GBFS free-floating systems (e-scooters, dockless bikes): vehicles, types, zones -> a snapshot.

Pure functions turn feed documents (bytes, text or parsed JSON) into
immutable objects; nothing here does I/O except :func:`load_free_floating`,
which reads a whole feed (directory, ``gbfs.json`` path or URL) once, e.g. at
startup. A poller applies each new document with the functions below and
swaps the result into a :class:`~routing.stations.vehicle_store.VehicleStore`:

* :func:`parse_vehicle_status` -- ``vehicle_status`` (v3, ``data.vehicles``)
  or ``free_bike_status`` (v2.x, ``data.bikes``);
* :func:`routing.stations.gbfs.parse_vehicle_types` -- ``vehicle_types``;
* :func:`routing.stations.geofencing.parse_geofencing_zones` -- ``geofencing_zones``;
* :func:`build_snapshot` -- the three (plus system info) as one
  :class:`FreeFloatingSnapshot`.

Defects of real feeds are survived with a warning: rows without an id or a
usable position (skipped), a vehicle listed twice (the latest report kept),
vehicles docked at a station (left to the station feed), unknown vehicle
types, negative ranges. A document of the wrong shape, or bytes that are not
JSON, raise :class:`~routing.errors.DataError` naming the file and the field.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import DataError
from routing.stations._io import load_json
from routing.stations.gbfs import (
    DEFAULT_GRACE_S,
    DEFAULT_TTL_S,
    VehicleType,
    discover,
    is_free_floating,
    parse_vehicle_types,
    system_identity,
)
from routing.stations.geofencing import Geofencing, parse_geofencing_zones
from routing.stations.model import WarningLog, as_utc, parse_timestamp, valid_position

logger = logging.getLogger(__name__)

#: Form factors a traveller can ride in the free-floating mode (GBFS names, v2 and v3).
RIDEABLE_FORM_FACTORS = frozenset(
    {"bicycle", "cargo_bicycle", "scooter", "scooter_standing", "scooter_seated"}
)
SCOOTER_FORM_FACTORS = frozenset({"scooter", "scooter_standing", "scooter_seated"})


@dataclass(frozen=True)
class Vehicle:
    """One free-floating vehicle, normalised across GBFS versions.

    Attributes
    ----------
    id : str
        ``gbfs:<system>:vehicle:<vehicle_id>`` (v3 ``vehicle_id``, v2 ``bike_id``).
    system_id : str
    lat, lon : float
    vehicle_type_id : str or None
    is_reserved, is_disabled : bool
        Reserved or broken vehicles cannot be rented.
    current_range_meters : float or None
        Distance the vehicle can still go (motorised types), when published.
    current_fuel_percent : float or None
        Charge 0..1 as published (used for the range when only that is given).
    last_reported : datetime or None
    """

    id: str
    system_id: str
    lat: float
    lon: float
    vehicle_type_id: str | None
    is_reserved: bool = False
    is_disabled: bool = False
    current_range_meters: float | None = None
    current_fuel_percent: float | None = None
    last_reported: datetime | None = None

    @property
    def rentable(self) -> bool:
        """Not reserved and not disabled."""
        return not (self.is_reserved or self.is_disabled)


@dataclass(frozen=True)
class VehicleBatch:
    """A parsed vehicle_status / free_bike_status document."""

    vehicles: tuple[Vehicle, ...]
    last_updated: datetime | None
    ttl: int
    docked: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class FreeFloatingSnapshot:
    """Everything known about one free-floating system at one moment (immutable).

    Attributes
    ----------
    system_id, name : str
    vehicles : tuple of Vehicle
        Every vehicle in the feed, rentable or not.
    vehicle_types : dict of str to VehicleType
    geofencing : Geofencing
        Zones and global rules (empty: riding and parking allowed everywhere).
    last_updated : datetime or None
        ``last_updated`` of the vehicle document.
    ttl : int
        Seconds the vehicle document stays valid.
    valid_until : datetime or None
        ``last_updated`` + ``ttl`` + grace: after it the vehicles are not used.
    warnings : tuple of str
    withdrawn : str or None
        Why the vehicles are no longer offered although ``valid_until`` has not
        passed (the live feed is down past its age limit); None while in use.
    """

    system_id: str
    name: str
    vehicles: tuple[Vehicle, ...]
    vehicle_types: dict[str, VehicleType] = field(default_factory=dict)
    geofencing: Geofencing = field(default_factory=Geofencing)
    last_updated: datetime | None = None
    ttl: int = DEFAULT_TTL_S
    valid_until: datetime | None = None
    warnings: tuple[str, ...] = ()
    withdrawn: str | None = None

    def stale(self, now: datetime | None = None) -> bool:
        """Whether the vehicle positions are out of date at ``now`` (or withdrawn)."""
        if self.withdrawn is not None:
            return True
        return self.valid_until is not None and as_utc(now) > self.valid_until

    def vehicle_type(self, vehicle: Vehicle) -> VehicleType | None:
        """The type of ``vehicle`` (None when the feed does not say)."""
        return self.vehicle_types.get(vehicle.vehicle_type_id or "")

    def form_factor(self, vehicle: Vehicle) -> str | None:
        """The vehicle's GBFS form factor; a feed without vehicle_types has bikes only.

        GBFS requires ``vehicle_type_id`` only when vehicle_types is published,
        and a v1/v2.0 free_bike_status lists bicycles; a vehicle whose type is
        missing from a published vehicle_types is of unknown form (None).
        """
        vtype = self.vehicle_type(vehicle)
        if vtype is not None:
            return vtype.form_factor
        return "bicycle" if not self.vehicle_types else None

    def range_m(self, vehicle: Vehicle) -> float | None:
        """Metres ``vehicle`` can still ride: published range, else charge x full range.

        None means no limit known: a human-powered bike, or a motorised type
        without range data (the leg then says the range is unknown).
        """
        if vehicle.current_range_meters is not None:
            return vehicle.current_range_meters
        vtype = self.vehicle_type(vehicle)
        if (
            vehicle.current_fuel_percent is not None
            and vtype is not None
            and vtype.max_range_meters is not None
        ):
            return vehicle.current_fuel_percent * vtype.max_range_meters
        return None

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lon) arrays of the vehicles, in order."""
        n = len(self.vehicles)
        return (
            np.fromiter((v.lat for v in self.vehicles), float, n),
            np.fromiter((v.lon for v in self.vehicles), float, n),
        )


def vehicle_uid(system_id: str, vehicle_id: str) -> str:
    """Namespaced id of a free-floating vehicle."""
    return f"gbfs:{system_id}:vehicle:{vehicle_id}"


def as_document(raw: Any, where: str | Path) -> Any:
    """Parse ``bytes``/``str`` as JSON (other values are returned as they are).

    Raises
    ------
    DataError
        Not UTF-8 or not JSON; the message names ``where`` and the position.
    """
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{where}: not UTF-8 text (byte {exc.start}); the feed is damaged"
            ) from None
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                "the feed is damaged or truncated"
            ) from None
    return raw


def parse_vehicle_status(
    raw: Any, where: str | Path = "vehicle_status", *, system_id: str
) -> VehicleBatch:
    """Normalise a ``vehicle_status`` (v3) or ``free_bike_status`` (v2.x) document.

    Parameters
    ----------
    raw : bytes, str or dict
        The document.
    where : str or Path
        Name of the source, for messages.
    system_id : str
        System id used in the vehicles' ids.

    Returns
    -------
    VehicleBatch
        Free-floating vehicles (rows docked at a station are counted in
        ``docked`` and left out: the station feed reports them).

    Raises
    ------
    DataError
        Not JSON, or neither ``data.vehicles`` nor ``data.bikes`` is a list.
    """
    doc = as_document(raw, where)
    data = doc.get("data") if isinstance(doc, dict) else None
    rows = None
    if isinstance(data, dict):
        rows = data.get("vehicles", data.get("bikes"))
    if not isinstance(rows, list):
        raise DataError(
            f"{where}: missing field data.vehicles (v3) or data.bikes (v2.x), a list; this is "
            "not a GBFS vehicle_status/free_bike_status file, fetch it again or fix the feed URL"
        )
    warnings: list[str] = []
    found: dict[str, Vehicle] = {}
    docked = 0
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            warnings.append(f"{where}: vehicle {i} is not an object; skipped")
            continue
        vid = _text_id(row.get("vehicle_id", row.get("bike_id")))
        if vid is None:
            warnings.append(f"{where}: vehicle {i} has no vehicle_id/bike_id; skipped")
            continue
        label = f"{where}: vehicle {vid!r}"
        if _text_id(row.get("station_id")) is not None:
            docked += 1
            continue
        pos = valid_position(row.get("lat"), row.get("lon"))
        if pos is None:
            warnings.append(
                f"{label} has no valid lat/lon ({row.get('lat')!r}, {row.get('lon')!r}); skipped"
            )
            continue
        vehicle = Vehicle(
            id=vehicle_uid(system_id, vid),
            system_id=system_id,
            lat=pos[0],
            lon=pos[1],
            vehicle_type_id=_text_id(row.get("vehicle_type_id")),
            is_reserved=_bool(row.get("is_reserved"), "is_reserved", label, warnings),
            is_disabled=_bool(row.get("is_disabled"), "is_disabled", label, warnings),
            current_range_meters=_nonneg(row.get("current_range_meters"), label, warnings),
            current_fuel_percent=_fraction(row.get("current_fuel_percent"), label, warnings),
            last_reported=parse_timestamp(row.get("last_reported")),
        )
        old = found.get(vid)
        if old is not None:
            warnings.append(f"{label} is listed more than once; kept the latest report")
            if vehicle.last_reported is None or (
                old.last_reported is not None and old.last_reported >= vehicle.last_reported
            ):
                continue
        found[vid] = vehicle
    ttl = doc.get("ttl") if isinstance(doc, dict) else None
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        warnings.append(f"{where}: missing or invalid ttl; assuming {DEFAULT_TTL_S} s")
        ttl = DEFAULT_TTL_S
    last_updated = parse_timestamp(doc.get("last_updated") if isinstance(doc, dict) else None)
    if last_updated is None:
        warnings.append(f"{where}: missing or invalid last_updated; age of the data unknown")
    return VehicleBatch(tuple(found.values()), last_updated, ttl, docked, tuple(warnings))


def build_snapshot(
    batch: VehicleBatch,
    *,
    system_id: str,
    name: str | None = None,
    vehicle_types: dict[str, VehicleType] | None = None,
    geofencing: Geofencing | None = None,
    now: datetime | None = None,
    grace_s: float = DEFAULT_GRACE_S,
    warnings: tuple[str, ...] | list[str] = (),
) -> FreeFloatingSnapshot:
    """Assemble a snapshot of a system from its parsed parts.

    ``valid_until`` is the batch's ``last_updated`` (or ``now`` when it has
    none) + ``ttl`` + ``grace_s``. Vehicles of a type not in ``vehicle_types``
    are kept (their range is then unknown) and warned about.
    """
    now = as_utc(now)
    types = dict(vehicle_types or {})
    notes = [*warnings, *batch.warnings]
    if types:
        unknown = sorted(
            {
                v.vehicle_type_id
                for v in batch.vehicles
                if v.vehicle_type_id is not None and v.vehicle_type_id not in types
            }
        )
        if unknown:
            notes.append(
                f"{system_id}: vehicles of types not in vehicle_types "
                f"({', '.join(map(str, unknown[:5]))}); their range is unknown"
            )
    base = batch.last_updated or now
    return FreeFloatingSnapshot(
        system_id=system_id,
        name=name or system_id,
        vehicles=batch.vehicles,
        vehicle_types=types,
        geofencing=geofencing or Geofencing(),
        last_updated=batch.last_updated,
        ttl=batch.ttl,
        valid_until=base + timedelta(seconds=batch.ttl + grace_s),
        warnings=tuple(notes),
    )


def load_free_floating(
    location: str | Path,
    *,
    now: datetime | None = None,
    grace_s: float = DEFAULT_GRACE_S,
    language: str | None = None,
    system_id: str | None = None,
) -> FreeFloatingSnapshot:
    """Read a free-floating GBFS system (v2.x or v3) into a snapshot.

    Parameters
    ----------
    location : str or Path
        Directory with ``gbfs.json`` (or the feed files), a ``gbfs.json`` path, or its URL.
    now : datetime, optional
        Reference time for staleness (default: now).
    grace_s : float
        Seconds beyond ``ttl`` before the vehicles count as stale.
    language : str, optional
        Preferred language (v2 discovery, v3 localised names).
    system_id : str, optional
        Override system_information's id in vehicle ids.

    Raises
    ------
    DataError
        The feed has no vehicle_status/free_bike_status, or it is unreadable.
        A broken vehicle_types or geofencing_zones is only a warning (zones
        missing = no restrictions known, said in the warnings).
    FetchError
        A URL could not be downloaded.
    """
    where = str(location)
    urls, version, found = discover(location, language)
    warn = WarningLog(logger)
    warn.extend(found)
    if not is_free_floating(urls):
        raise DataError(
            f"{where}: GBFS feed lists no vehicle_status (v3) or free_bike_status (v2.x); it "
            "is not a free-floating system (station-based feeds: routing.stations.gbfs.load_gbfs)"
        )
    info = _optional(urls, "system_information", warn)
    data = info.get("data") if isinstance(info, dict) else None
    data = data if isinstance(data, dict) else {}
    sid, name = system_identity(
        data, location, language=language, system_id=system_id, default=Path(where).name or "gbfs"
    )
    types: dict[str, VehicleType] = {}
    types_doc = _optional(urls, "vehicle_types", warn)
    if types_doc is not None:
        try:
            types, notes = parse_vehicle_types(types_doc, urls["vehicle_types"])
            warn.extend(notes)
        except DataError as exc:
            warn(f"{exc}; continuing without vehicle types (ranges unknown)")
    zones = Geofencing()
    zones_doc = _optional(urls, "geofencing_zones", warn)
    if zones_doc is None:
        warn(f"{where}: no geofencing_zones; riding and parking taken as allowed everywhere")
    else:
        try:
            zones = parse_geofencing_zones(zones_doc, urls["geofencing_zones"])
            warn.extend(zones.warnings)
        except DataError as exc:
            warn(f"{exc}; continuing without geofencing zones")
    key = "vehicle_status" if "vehicle_status" in urls else "free_bike_status"
    batch = parse_vehicle_status(load_json(urls[key], f"GBFS {key}"), urls[key], system_id=sid)
    snapshot = build_snapshot(
        batch,
        system_id=sid,
        name=name,
        vehicle_types=types,
        geofencing=zones,
        now=now,
        grace_s=grace_s,
        warnings=warn.messages,
    )
    logger.info(
        "GBFS %s (v%s, free-floating): %d vehicles (%d rentable), %d zones, %d types, "
        "%d warnings%s",
        sid, version or "?", len(batch.vehicles), sum(v.rentable for v in batch.vehicles),
        len(zones.zones), len(types), len(snapshot.warnings),
        " (stale)" if snapshot.stale(now) else "",
    )  # fmt: skip
    return snapshot


def _optional(urls: dict[str, str | Path], name: str, warn: WarningLog) -> Any:
    loc = urls.get(name)
    if loc is None:
        return None
    try:
        return load_json(loc, f"GBFS {name}")
    except DataError as exc:
        warn(f"{exc}; continuing without {name}")
        return None


def _text_id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _bool(value: Any, key: str, label: str, warnings: list[str]) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    warnings.append(f"{label}: {key} {value!r} is not true/false; taken as true (not rentable)")
    return True


def _nonneg(value: Any, label: str, warnings: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    warnings.append(f"{label}: current_range_meters {value!r} is not a distance; range unknown")
    return None


def _fraction(value: Any, label: str, warnings: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    warnings.append(f"{label}: current_fuel_percent {value!r} is not in 0..1; ignored")
    return None
