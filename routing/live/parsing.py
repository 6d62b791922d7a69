"""Parsing of live input: closures (a pydantic model), times and traffic feeds.

:class:`ClosureInput` validates the fields of a closure or speed change, as
given to :meth:`routing.live.LiveState.add_closure`, sent to the operations
API or read back from the persisted state, and :func:`make_closure` turns it
into a :class:`routing.live.model.Closure`. Problems become a
:class:`~routing.errors.RequestError` worded by
:func:`routing.validation.format_error` (the key and the fix).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)

from routing.errors import DataError, RequestError
from routing.live.model import KINDS, MAX_SPEED_KMH, Closure
from routing.validation import validate

#: Times accepted for closures and readings: 1970-01-01 .. 2200-01-01 (unix seconds).
_TIME_RANGE = (0.0, 7_258_118_400.0)


def parse_time(value: Any, *, zone: str = "Europe/Berlin", what: str = "time") -> float:
    """Unix seconds from a number, an ISO 8601 string or a datetime (naive = ``zone``).

    Raises
    ------
    RequestError
        The value is neither, or lies outside 1970..2200.
    """
    seconds = _unix_seconds(value, zone, what)
    if not _TIME_RANGE[0] <= seconds <= _TIME_RANGE[1]:
        raise RequestError(
            f"{what} {value!r} is outside 1970..2200; give unix seconds or an ISO 8601 time "
            "like 2024-06-01T08:00:00+02:00"
        )
    return seconds


def _unix_seconds(value: Any, zone: str, what: str) -> float:
    """Unix seconds of a number, a numeric string, an ISO 8601 string or a datetime."""
    if isinstance(value, bool):
        raise RequestError(f"{what} must be an ISO 8601 time or unix seconds, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise RequestError(f"{what} must be finite, got {value!r}")
        return float(value)
    if isinstance(value, dt.datetime):
        when = value
    else:
        text = str(value).strip()
        try:
            return _unix_seconds(float(text), zone, what)
        except ValueError:
            pass
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RequestError(
                f"{what} {text!r} is not a time; use ISO 8601 like 2024-06-01T08:00:00+02:00 "
                "or unix seconds"
            ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(zone))
    return when.timestamp()


def _opt_time(value: Any, zone: str, what: str) -> float | None:
    """``None`` for an absent time, else :func:`parse_time`."""
    if value is None or value == "":
        return None
    return parse_time(value, zone=zone, what=what)


def _int_tuple(values: Any, what: str) -> tuple[int, ...]:
    """Integers from a list, tuple or integer array (booleans and non-numbers refused)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise RequestError(f"{what} must be a list of integers, got {values!r}")
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return tuple(values.ravel().tolist())
    if type(values) in (list, tuple) and set(map(type, values)) <= {int}:
        return tuple(values)  # plain ints (every way of a city: no per-item Python loop)
    out: list[int] = []
    for v in values:
        if isinstance(v, bool):
            raise RequestError(f"{what} must be integers, got {v!r}")
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            raise RequestError(f"{what} must be integers, got {v!r}") from None
    return tuple(out)


def check_polygon(polygon: Any) -> Any:
    """Return the shapely geometry of a GeoJSON Polygon/MultiPolygon (or Feature of one).

    Parameters
    ----------
    polygon : mapping
        A GeoJSON geometry or Feature, coordinates in (lon, lat) order.

    Raises
    ------
    RequestError
        Not a polygon, malformed, empty, or not in WGS84 degrees.
    """
    from shapely.geometry import shape

    if isinstance(polygon, Mapping) and polygon.get("type") == "Feature":
        polygon = polygon.get("geometry")
    if not isinstance(polygon, Mapping) or polygon.get("type") not in ("Polygon", "MultiPolygon"):
        raise RequestError(
            "polygon must be a GeoJSON geometry of type Polygon or MultiPolygon "
            "(coordinates in lon, lat order)"
        )
    try:
        geometry = shape(polygon)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise RequestError(f"polygon is not valid GeoJSON: {exc}") from None
    if geometry.is_empty or not math.isfinite(geometry.area) or geometry.area <= 0:
        raise RequestError("polygon is empty; give at least three distinct (lon, lat) corners")
    min_x, min_y, max_x, max_y = geometry.bounds
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        raise RequestError(
            "polygon coordinates are not (lon, lat) WGS84 degrees; GeoJSON puts lon first"
        )
    return geometry


def _ids(what: str) -> WrapValidator:
    """Integer ids converted in one pass, skipping pydantic's per-item check (40,000 way ids)."""
    return WrapValidator(lambda value, _handler: _int_tuple(value, what))


def _polygon_geometry(value: Any) -> Any:
    """The checked GeoJSON geometry (a Feature is unwrapped), or None."""
    if value is None:
        return None
    check_polygon(value)
    return dict(value.get("geometry") if value.get("type") == "Feature" else value)


def _profiles(value: Any) -> tuple[str, ...]:
    """One profile name or a list of them."""
    if isinstance(value, str):
        return (value,)
    if value is None:
        return ()
    if not isinstance(value, Iterable):
        raise ValueError(f"must be a list of profile names, got {value!r}")
    return tuple(str(p) for p in value)


def _time_in_zone(value: Any, info: ValidationInfo) -> float | None:
    """Unix seconds of a time field, naive times in the zone of the validation context."""
    zone = (info.context or {}).get("zone", "Europe/Berlin")
    return _opt_time(value, zone, str(info.field_name))


class ClosureInput(BaseModel):
    """The fields of a closure or speed change, validated (see :class:`.model.Closure`).

    ``start``/``end`` may be ISO 8601 strings, datetimes or unix seconds; naive
    times are in the zone given as ``context={"zone": ...}`` (default
    Europe/Berlin).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None
    kind: str = "closed"
    way_ids: Annotated[tuple[int, ...], _ids("way_ids")] = ()
    polygon: Annotated[dict[str, Any] | None, BeforeValidator(_polygon_geometry)] = None
    edges: Annotated[tuple[int, ...], _ids("edges")] = ()
    edge_profile: str | None = None
    profiles: Annotated[tuple[str, ...], BeforeValidator(_profiles)] = ()
    speed_kmh: float | None = None
    factor: float | None = None
    start: float | None = None
    end: float | None = None
    reason: str = ""
    created: float = 0.0

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        """Closed or speed."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        return kind

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, value: Any, info: ValidationInfo) -> float | None:
        """Times to unix seconds (see :func:`parse_time`)."""
        try:
            return _time_in_zone(value, info)
        except RequestError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _consistent(self) -> ClosureInput:
        """Something selected; edges with their profile; one speed; end after start."""
        if not (self.way_ids or self.edges or self.polygon):
            raise ValueError("a closure needs way_ids, a polygon or a list of edges")
        if self.edges and not self.edge_profile:
            raise ValueError("edges are ids of one profile's graph: give edge_profile too")
        if self.kind == "speed":
            if (self.speed_kmh is None) == (self.factor is None):
                raise ValueError("a speed change needs exactly one of speed_kmh or factor")
            if self.speed_kmh is not None and not 0 < self.speed_kmh <= MAX_SPEED_KMH:
                raise ValueError(
                    f"speed_kmh must be in (0, {MAX_SPEED_KMH:g}], got {self.speed_kmh}"
                )
            if self.factor is not None and not 0 < self.factor <= 10:
                raise ValueError(f"factor must be in (0, 10], got {self.factor}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


def make_closure(
    fields: Mapping[str, Any],
    *,
    created: float,
    zone: str = "Europe/Berlin",
    source: str = "closure",
) -> Closure:
    """Validate the fields of a closure and build it (a new id when none is given).

    Parameters
    ----------
    fields : mapping
        The fields of :class:`ClosureInput` (``created`` is taken from the argument).
    created : float
        Unix seconds of creation.
    zone : str
        Zone of naive ``start``/``end`` times.
    source : str
        Where the fields come from, named first in messages.

    Raises
    ------
    RequestError
        A field is invalid or the fields contradict each other (the message names the fix).
    """
    given = validate(
        ClosureInput,
        {**fields, "created": created},
        source=source,
        error=RequestError,
        context={"zone": zone},
    )
    speed = given.kind == "speed"
    return Closure(
        id=given.id or uuid.uuid4().hex[:12],
        kind=given.kind,
        way_ids=given.way_ids,
        polygon=given.polygon,
        edges=given.edges,
        edge_profile=given.edge_profile,
        profiles=given.profiles,
        speed_kmh=given.speed_kmh if speed else None,
        factor=given.factor if speed else None,
        start=given.start,
        end=given.end,
        reason=given.reason,
        created=given.created,
    )


def closure_from_json(data: Mapping[str, Any]) -> Closure:
    """A closure from its persisted JSON (see :meth:`Closure.to_json`).

    Raises
    ------
    RequestError
        A field is missing or invalid.
    """
    if not data.get("id"):
        raise RequestError("closure: id is missing; every saved closure has one")
    fields = {
        key: data.get(key)
        for key in ("kind", "polygon", "edge_profile", "speed_kmh", "factor", "start", "end")
    }
    fields["kind"] = str(fields["kind"] or "closed")
    fields.update(
        id=str(data["id"]),
        way_ids=data.get("way_ids") or (),
        edges=data.get("edges") or (),
        profiles=data.get("profiles") or (),
        reason=str(data.get("reason") or ""),
    )
    return make_closure(fields, created=float(data.get("created") or 0.0))


# --------------------------------------------------------------------------- traffic feeds

WAY_KEYS = ("way_id", "way", "osm_way_id")
SPEED_KEYS = ("speed_kmh", "speed", "kmh")
TIME_KEYS = ("timestamp", "time", "measured_at")
SENSOR_KEYS = ("sensor", "sensor_id", "id")


def first_of(record: Mapping[str, Any], keys: Sequence[str]) -> Any:
    """The first non-empty value of ``keys`` in ``record`` (aliases of one field), or None."""
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            return value
    return None


class ReadingFields(NamedTuple):
    """The checked fields of one traffic record: its way, or a (lat, lon) point to snap."""

    row: int
    speed_kmh: float
    timestamp: float
    sensor: str
    way_id: int  # -1 when the reading gives a point
    point: tuple[float, float] | None


def reading_fields(record: Mapping[str, Any], *, row: int, zone: str) -> ReadingFields:
    """Check one traffic record (any alias of each field, see :func:`traffic_records`).

    Parameters
    ----------
    record : mapping
        ``way_id`` (or ``lat``/``lon``), ``speed_kmh``, ``timestamp``, optional
        ``sensor``; a ``_row`` key (from :func:`traffic_records`) overrides ``row``.
    row : int
        Position of the record, 1-based, named in messages.
    zone : str
        Zone of naive timestamps.

    Raises
    ------
    DataError
        A field is missing or unusable (the message names the row, the field and the fix).
    """
    row = int(record.get("_row", row))
    where = f"traffic reading {row}"
    speed = first_of(record, SPEED_KEYS)
    stamp = first_of(record, TIME_KEYS)
    if speed is None or stamp is None:
        raise DataError(f"{where}: needs speed_kmh and timestamp; add the missing field")
    try:
        speed_kmh = float(speed)
    except (TypeError, ValueError):
        raise DataError(f"{where}: speed_kmh = {speed!r} is not a number") from None
    if not 0 <= speed_kmh <= MAX_SPEED_KMH:
        raise DataError(f"{where}: speed_kmh = {speed_kmh} is outside 0..{MAX_SPEED_KMH:g}")
    try:
        timestamp = parse_time(stamp, zone=zone, what=f"{where}: timestamp")
    except RequestError as exc:
        raise DataError(str(exc)) from None
    sensor = str(first_of(record, SENSOR_KEYS) or "")
    way = first_of(record, WAY_KEYS)
    if way is not None:
        try:
            way_id = int(way)
        except (TypeError, ValueError):
            raise DataError(f"{where}: way_id = {way!r} is not an integer") from None
        return ReadingFields(row, speed_kmh, timestamp, sensor, way_id, None)
    lat, lon = record.get("lat"), record.get("lon")
    if lat in (None, "") or lon in (None, ""):
        raise DataError(f"{where}: needs way_id or lat and lon")
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        raise DataError(f"{where}: lat/lon ({lat!r}, {lon!r}) are not numbers") from None
    return ReadingFields(row, speed_kmh, timestamp, sensor, -1, (lat_f, lon_f))


def traffic_records(text: str, *, source: str = "traffic feed") -> list[dict[str, Any]]:
    """Parse a CSV or JSON traffic feed into plain records (not yet snapped or validated).

    JSON: a list of objects, or ``{"readings": [...]}``. CSV: a header row with
    ``way_id`` or ``lat``/``lon``, ``speed_kmh`` (or ``speed``) and
    ``timestamp`` (ISO 8601 or unix seconds); ``,`` or ``;`` separated.

    Raises
    ------
    DataError
        The text is neither, or lacks the needed columns (message names them).
    """
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        raise DataError(f"{source} is empty; give CSV with a header row or a JSON list")
    records: list[dict[str, Any]]
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DataError(f"{source} is not valid JSON: {exc}") from None
        if isinstance(data, Mapping):
            data = data.get("readings")
        if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
            raise DataError(f'{source}: JSON must be a list of readings or {{"readings": [...]}}')
        records = [dict(r) for r in data]
    else:
        first_line = stripped.splitlines()[0]
        dialect = ";" if first_line.count(";") > first_line.count(",") else ","
        reader = csv.DictReader(io.StringIO(stripped), delimiter=dialect)
        header = {h.strip().lower() for h in (reader.fieldnames or [])}
        if not header & set(SPEED_KEYS) or not (header & set(WAY_KEYS) or {"lat", "lon"} <= header):
            raise DataError(
                f"{source}: CSV header {sorted(header)} lacks columns; need way_id (or lat and "
                "lon), speed_kmh and timestamp"
            )
        records = [
            {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader
        ]
    for i, record in enumerate(records):
        record["_row"] = i + 1
    return records


__all__ = [
    "SENSOR_KEYS",
    "SPEED_KEYS",
    "TIME_KEYS",
    "WAY_KEYS",
    "ClosureInput",
    "ReadingFields",
    "check_polygon",
    "closure_from_json",
    "first_of",
    "make_closure",
    "parse_time",
    "reading_fields",
    "traffic_records",
]
