"""Live network state: road closures, speed changes and traffic readings, applied at query time.

Nothing here rebuilds a graph or a hierarchy. A :class:`LiveState` keeps

* **closures** (:class:`Closure`): roads closed (``kind="closed"``) or slowed
  down / sped up (``kind="speed"``), chosen by OSM way id, by a polygon
  (GeoJSON: every edge whose geometry intersects it, e.g. a flooded area) or
  by a list of edge ids of one profile; each active only in its
  ``[start, end)`` window;
* **traffic readings** (:class:`TrafficReading`) from road sensors: the current
  car speed on a way; a reading older than the time-to-live is ignored.

:meth:`LiveState.weights` turns the state at an instant into a profile's
effective travel-time array (``inf`` = closed) as :class:`LiveWeights`, with
the list of edges that differ from the base graph; routing code
(:class:`routing.road.RoadNetwork`) uses it to keep contraction-hierarchy
answers exact (check the CH path, fall back to a search on the live weights).

Every change bumps :attr:`LiveState.version`; the state is thread-safe and,
with a ``path``, persisted as JSON (written atomically) so a restart keeps it.
Traffic readings never make a road faster than its free-flow (speed-limit)
time: sensors measure congestion, the graph already assumes the limit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import os
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from routing.errors import DataError, RequestError
from routing.graph import RoadGraph

log = logging.getLogger(__name__)

LIVE_FORMAT = 1
#: Seconds a traffic reading stays valid.
DEFAULT_TRAFFIC_TTL_S = 900.0
#: Slowest speed a reading may set (a standing queue is slow, not closed).
MIN_TRAFFIC_KMH = 1.0
MAX_SPEED_KMH = 250.0
KINDS = ("closed", "speed")
_CACHE_ENTRIES = 8


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Closure:
    """A road closure or speed change on part of the network.

    Attributes
    ----------
    id : str
        Unique id (generated when not given).
    kind : {"closed", "speed"}
        Closed (travel time ``inf``) or driven at another speed.
    way_ids : tuple of int
        OSM ways affected (every edge of each way, in every profile graph).
    polygon : dict or None
        A GeoJSON Polygon/MultiPolygon geometry: every edge that intersects it.
    edges : tuple of int
        Edge ids of the graph of ``edge_profile``.
    edge_profile : str or None
        Profile the ``edges`` refer to (required with ``edges``).
    profiles : tuple of str
        Profiles affected; empty = all (``edges`` only ever affect ``edge_profile``).
    speed_kmh, factor : float or None
        For ``kind="speed"``: the new speed, or a factor on the current speed.
    start, end : float or None
        Unix seconds of the active window ``[start, end)``; ``None`` = open.
    reason : str
        Free text for operators and the map.
    created : float
        Unix seconds when it was added.
    """

    id: str
    kind: str = "closed"
    way_ids: tuple[int, ...] = ()
    polygon: dict | None = None
    edges: tuple[int, ...] = ()
    edge_profile: str | None = None
    profiles: tuple[str, ...] = ()
    speed_kmh: float | None = None
    factor: float | None = None
    start: float | None = None
    end: float | None = None
    reason: str = ""
    created: float = 0.0

    def active(self, when: float) -> bool:
        """Whether the closure is in force at unix time ``when``."""
        return (self.start is None or self.start <= when) and (self.end is None or when < self.end)

    def applies_to(self, profile: str) -> bool:
        """Whether the closure concerns ``profile``'s graph."""
        if self.edges:
            return profile == self.edge_profile
        return not self.profiles or profile in self.profiles

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO times alongside the unix seconds)."""
        out = asdict(self)
        out["way_ids"] = list(self.way_ids)
        out["edges"] = list(self.edges)
        out["profiles"] = list(self.profiles)
        for name in ("start", "end"):
            value = getattr(self, name)
            out[f"{name}_iso"] = _iso(value) if value is not None else None
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Closure:
        """Inverse of :meth:`to_json` (validates like :meth:`LiveState.add_closure`)."""
        return _make_closure(
            closure_id=str(data["id"]),
            kind=str(data.get("kind", "closed")),
            way_ids=data.get("way_ids") or (),
            polygon=data.get("polygon"),
            edges=data.get("edges") or (),
            edge_profile=data.get("edge_profile"),
            profiles=data.get("profiles") or (),
            speed_kmh=data.get("speed_kmh"),
            factor=data.get("factor"),
            start=data.get("start"),
            end=data.get("end"),
            reason=str(data.get("reason") or ""),
            created=float(data.get("created") or 0.0),
        )


@dataclass(frozen=True)
class TrafficReading:
    """One sensor reading: the current speed on an OSM way at a time.

    Attributes
    ----------
    way_id : int
        The OSM way measured (readings given by coordinates are snapped to one).
    speed_kmh : float
        Measured speed.
    timestamp : float
        Unix seconds of the measurement.
    sensor : str
        Optional sensor id.
    """

    way_id: int
    speed_kmh: float
    timestamp: float
    sensor: str = ""


@dataclass(frozen=True)
class LiveWeights:
    """A profile's effective travel times at one instant.

    Attributes
    ----------
    profile : str
    version : int
        :attr:`LiveState.version` it was computed from.
    travel_time : ndarray of float64, shape (m,)
        Seconds per edge (``inf`` = closed); read-only.
    modified : ndarray of int64
        Edges whose time differs from the base graph, sorted.
    modified_mask : ndarray of bool, shape (m,)
        The same as a mask.
    increased_only : bool
        Whether every modified edge got slower (or closed): then the base
        graph's shortest distances are lower bounds of the live ones.
    graph : RoadGraph
        The base graph with ``travel_time`` replaced (for searches and isochrones).
    """

    profile: str
    version: int
    travel_time: np.ndarray
    modified: np.ndarray
    modified_mask: np.ndarray
    increased_only: bool
    graph: RoadGraph

    @property
    def changed(self) -> bool:
        """Whether anything differs from the base graph."""
        return bool(self.modified.shape[0])


# --------------------------------------------------------------------------- parsing helpers


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


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
    if value is None or value == "":
        return None
    return parse_time(value, zone=zone, what=what)


def _int_tuple(values: Any, what: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise RequestError(f"{what} must be a list of integers, got {values!r}")
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return tuple(values.ravel().tolist())
    if type(values) in (list, tuple) and set(map(type, values)) <= {int}:
        return tuple(values)  # plain ints (every way of a city: no per-item Python loop)
    out = []
    for v in values:
        if isinstance(v, bool):
            raise RequestError(f"{what} must be integers, got {v!r}")
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            raise RequestError(f"{what} must be integers, got {v!r}") from None
    return tuple(out)


def _check_polygon(polygon: Any):
    """Return the shapely geometry of a GeoJSON Polygon/MultiPolygon (or Feature of one)."""
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


def _make_closure(
    *,
    closure_id: str | None,
    kind: str,
    way_ids: Any,
    polygon: Any,
    edges: Any,
    edge_profile: str | None,
    profiles: Any,
    speed_kmh: Any,
    factor: Any,
    start: Any,
    end: Any,
    reason: str,
    created: float,
    zone: str = "Europe/Berlin",
) -> Closure:
    if kind not in KINDS:
        raise RequestError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    way_ids = _int_tuple(way_ids, "way_ids")
    edges = _int_tuple(edges, "edges")
    if polygon is not None:
        geometry = _check_polygon(polygon)
        polygon = dict(polygon.get("geometry") if polygon.get("type") == "Feature" else polygon)
        del geometry
    if not (way_ids or edges or polygon):
        raise RequestError("a closure needs way_ids, a polygon or a list of edges")
    if edges and not edge_profile:
        raise RequestError("edges are ids of one profile's graph: give edge_profile too")
    if isinstance(profiles, str):
        profiles = (profiles,)
    profiles = tuple(str(p) for p in profiles)
    if kind == "speed":
        if (speed_kmh is None) == (factor is None):
            raise RequestError("a speed change needs exactly one of speed_kmh or factor")
        if speed_kmh is not None:
            speed_kmh = float(speed_kmh)
            if not 0 < speed_kmh <= MAX_SPEED_KMH:
                raise RequestError(f"speed_kmh must be in (0, {MAX_SPEED_KMH:g}], got {speed_kmh}")
        if factor is not None:
            factor = float(factor)
            if not 0 < factor <= 10:
                raise RequestError(f"factor must be in (0, 10], got {factor}")
    else:
        speed_kmh = factor = None
    start_s = _opt_time(start, zone, "start")
    end_s = _opt_time(end, zone, "end")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise RequestError("end must be after start")
    return Closure(
        id=closure_id or uuid.uuid4().hex[:12],
        kind=kind,
        way_ids=way_ids,
        polygon=polygon,
        edges=edges,
        edge_profile=edge_profile,
        profiles=profiles,
        speed_kmh=speed_kmh,
        factor=factor,
        start=start_s,
        end=end_s,
        reason=reason,
        created=created,
    )


# --------------------------------------------------------------------------- traffic feeds

_WAY_KEYS = ("way_id", "way", "osm_way_id")
_SPEED_KEYS = ("speed_kmh", "speed", "kmh")
_TIME_KEYS = ("timestamp", "time", "measured_at")
_SENSOR_KEYS = ("sensor", "sensor_id", "id")


def _first(record: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            return value
    return None


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
        if not header & set(_SPEED_KEYS) or not (
            header & set(_WAY_KEYS) or {"lat", "lon"} <= header
        ):
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


# --------------------------------------------------------------------------- geometry index


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct int64 values (``np.unique``'s hashing is ~10x slower on 40,000 ids)."""
    values = np.sort(np.asarray(values, dtype=np.int64))
    if values.shape[0] < 2:
        return values
    keep = np.empty(values.shape[0], dtype=np.bool_)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


class _GraphIndex:
    """Per-graph lookups: edges of a way (sorted way ids) and of an area (edge bounding boxes).

    Built once per graph and shared by every :class:`LiveState` over it
    (:func:`_graph_index`).
    """

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        self.order = np.argsort(graph.way_id, kind="stable").astype(np.int64, copy=False)
        self.sorted_way = np.asarray(graph.way_id)[self.order]
        self._points: tuple[np.ndarray, ...] | None = None

    def edges_of_ways(self, way_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Edges of each way: (edge ids, index of the way each belongs to)."""
        way_ids = np.asarray(way_ids, dtype=np.int64)
        lo = np.searchsorted(self.sorted_way, way_ids, side="left")
        hi = np.searchsorted(self.sorted_way, way_ids, side="right")
        counts = hi - lo
        owner = np.repeat(np.arange(way_ids.shape[0]), counts)
        # Concatenated ranges lo[i]:hi[i]: output slot j of way i reads lo[i] + (j - start[i]).
        shift = lo - (np.cumsum(counts) - counts)
        return self.order[np.arange(int(counts.sum())) + shift[owner]], owner

    def _edge_points(self) -> tuple[np.ndarray, ...]:
        """Every edge's polyline as one (lon, lat) array with CSR offsets, and its bounding box."""
        if self._points is None:
            g = self.graph
            m = g.n_edges
            inner = np.diff(g.geom_first).astype(np.int64)
            n_pts = inner + 2
            first = np.zeros(m + 1, dtype=np.int64)
            np.cumsum(n_pts, out=first[1:])
            x = np.empty(int(first[-1]))
            y = np.empty(int(first[-1]))
            tails = g.tail()
            x[first[:-1]], y[first[:-1]] = g.lon[tails], g.lat[tails]
            x[first[1:] - 1], y[first[1:] - 1] = g.lon[g.head], g.lat[g.head]
            rank = np.arange(int(inner.sum())) - np.repeat(np.cumsum(inner) - inner, inner)
            dest = np.repeat(first[:-1] + 1, inner) + rank
            x[dest], y[dest] = g.geom_lon, g.geom_lat
            starts = first[:-1]
            box = (
                np.minimum.reduceat(x, starts), np.minimum.reduceat(y, starts),
                np.maximum.reduceat(x, starts), np.maximum.reduceat(y, starts),
            )  # fmt: skip
            self._points = (first, x, y, *box)
        return self._points

    def edges_in(self, geometry) -> np.ndarray:
        """Edges whose geometry intersects a shapely geometry (lon, lat).

        Edges whose bounding box misses the area's are dropped first (one
        vectorised pass); only the rest become shapely lines for the exact test.
        """
        import shapely

        first, x, y, x0, y0, x1, y1 = self._edge_points()
        gx0, gy0, gx1, gy1 = geometry.bounds
        near = np.flatnonzero((x1 >= gx0) & (x0 <= gx1) & (y1 >= gy0) & (y0 <= gy1))
        if near.shape[0] == 0:
            return near.astype(np.int64)
        counts = first[near + 1] - first[near]
        rank = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        points = np.repeat(first[near], counts) + rank
        lines = shapely.linestrings(
            np.column_stack((x[points], y[points])),
            indices=np.repeat(np.arange(near.shape[0]), counts),
        )
        shapely.prepare(geometry)
        return near[shapely.intersects(geometry, lines)].astype(np.int64)


def _graph_index(graph: RoadGraph) -> _GraphIndex:
    """The :class:`_GraphIndex` of ``graph`` (built once, kept on the graph)."""
    index = graph.__dict__.get("_live_index")
    if index is None:
        index = _GraphIndex(graph)
        object.__setattr__(graph, "_live_index", index)  # a cache, not a field
    return index


# --------------------------------------------------------------------------- state


class LiveState:
    """Closures and traffic readings over a set of profile graphs (thread-safe, versioned).

    Parameters
    ----------
    graphs : mapping of str to RoadGraph
        The base graphs by profile (``walk``, ``bike``, ``car``, ``wheelchair``...).
    path : Path, optional
        JSON file to persist to (loaded now if it exists; rewritten atomically on changes).
    traffic_profile : str
        The profile traffic readings apply to.
    traffic_ttl_s : float
        Seconds a reading stays valid.
    timezone : str
        Zone of naive timestamps.
    clock : callable
        Returns the current unix time (tests pass a fake one).
    snapper : object, optional
        A :class:`routing.snap.Snapper` of the traffic profile's graph, to place
        readings given by coordinates (built on first need otherwise).

    Raises
    ------
    DataError
        The persisted file is unreadable (the message names it and the fix).
    """

    def __init__(
        self,
        graphs: Mapping[str, RoadGraph],
        *,
        path: Path | str | None = None,
        traffic_profile: str = "car",
        traffic_ttl_s: float = DEFAULT_TRAFFIC_TTL_S,
        timezone: str = "Europe/Berlin",
        clock: Callable[[], float] = time.time,
        snapper: Any = None,
    ) -> None:
        self.graphs = dict(graphs)
        self.path = Path(path) if path is not None else None
        self.traffic_profile = traffic_profile
        self.traffic_ttl_s = float(traffic_ttl_s)
        self.timezone = timezone
        self.clock = clock
        self._snapper = snapper
        self._lock = threading.RLock()
        self._version = 0
        self._closures: dict[str, Closure] = {}
        self._closure_edges: dict[tuple[str, str], np.ndarray] = {}
        self._traffic: dict[int, TrafficReading] = {}
        self._cache: OrderedDict[tuple, LiveWeights] = OrderedDict()
        self._listeners: list[Callable[[int], None]] = []
        if self.path is not None and self.path.exists():
            self._load()

    # ------------------------------------------------------------------ basics
    @property
    def version(self) -> int:
        """Incremented by every change (closures or traffic)."""
        return self._version

    def subscribe(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(version)`` after every change (e.g. to drop a dispatcher's matrices)."""
        with self._lock:
            self._listeners.append(callback)

    def now(self) -> float:
        """The current unix time of this state's clock."""
        return float(self.clock())

    def _graph_index(self, profile: str) -> _GraphIndex:
        return _graph_index(self.graphs[profile])

    def _changed(self, *, persist: bool = True) -> None:
        self._version += 1
        self._cache.clear()
        if persist:
            self._save()
        for callback in list(self._listeners):
            try:
                callback(self._version)
            except Exception:  # a listener must not break the operator's request
                log.exception("live-state listener failed")

    # ------------------------------------------------------------------ closures
    def add_closure(
        self,
        *,
        way_ids: Iterable[int] = (),
        polygon: Mapping[str, Any] | None = None,
        edges: Iterable[int] = (),
        edge_profile: str | None = None,
        profiles: Sequence[str] = (),
        kind: str = "closed",
        speed_kmh: float | None = None,
        factor: float | None = None,
        start: Any = None,
        end: Any = None,
        reason: str = "",
        closure_id: str | None = None,
    ) -> Closure:
        """Add a closure (or speed change) and apply it at once; return it.

        Parameters are the fields of :class:`Closure`; ``start``/``end`` may be
        ISO 8601 strings, datetimes or unix seconds.

        Raises
        ------
        RequestError
            Inconsistent or unknown fields (unknown profile, edge id out of
            range, bad polygon, nothing selected, duplicate id).
        """
        closure = _make_closure(
            closure_id=closure_id,
            kind=kind,
            way_ids=list(way_ids),
            polygon=dict(polygon) if polygon is not None else None,
            edges=list(edges),
            edge_profile=edge_profile,
            profiles=profiles,
            speed_kmh=speed_kmh,
            factor=factor,
            start=start,
            end=end,
            reason=reason,
            created=self.now(),
            zone=self.timezone,
        )
        with self._lock:
            if closure.id in self._closures:
                raise RequestError(f"a closure with id {closure.id!r} exists; delete it first")
            resolved = self._resolve(closure)
            self._closures[closure.id] = closure
            self._closure_edges.update(resolved)
            self._changed()
        counts = {p: int(e.shape[0]) for (_, p), e in resolved.items()}
        log.info("added %s %s: edges per profile %s", closure.kind, closure.id, counts)
        return closure

    def _resolve(self, closure: Closure) -> dict[tuple[str, str], np.ndarray]:
        """Edge ids of ``closure`` in every graph it applies to."""
        for p in closure.profiles:
            if p not in self.graphs:
                raise RequestError(
                    f"unknown profile {p!r} in the closure; loaded: {', '.join(self.graphs)}"
                )
        out: dict[tuple[str, str], np.ndarray] = {}
        if closure.edges:
            profile = closure.edge_profile or ""
            if profile not in self.graphs:
                raise RequestError(
                    f"edge_profile {profile!r} is not loaded; use one of {', '.join(self.graphs)}"
                )
            edges = _unique(np.fromiter(closure.edges, np.int64, len(closure.edges)))
            m = self.graphs[profile].n_edges
            if edges[0] < 0 or edges[-1] >= m:
                raise RequestError(
                    f"edge ids must be in 0..{m - 1} for the {profile} graph, got "
                    f"{int(edges[0])}..{int(edges[-1])}"
                )
            out[(closure.id, profile)] = edges
            return out
        geometry = _check_polygon(closure.polygon) if closure.polygon is not None else None
        ways = _unique(np.fromiter(closure.way_ids, np.int64, len(closure.way_ids)))
        for profile in self.graphs:
            if not closure.applies_to(profile):
                continue
            index = self._graph_index(profile)
            parts = []
            if ways.shape[0]:
                parts.append(index.edges_of_ways(ways)[0])
            if geometry is not None:
                parts.append(index.edges_in(geometry))
            out[(closure.id, profile)] = (
                _unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
            )
        return out

    def remove_closure(self, closure_id: str) -> bool:
        """Delete a closure; return whether it existed."""
        with self._lock:
            if self._closures.pop(closure_id, None) is None:
                return False
            for key in [k for k in self._closure_edges if k[0] == closure_id]:
                del self._closure_edges[key]
            self._changed()
        log.info("removed closure %s", closure_id)
        return True

    def closures(self, *, active_at: float | None = None) -> list[Closure]:
        """All closures (or only those active at ``active_at``), oldest first."""
        with self._lock:
            items = sorted(self._closures.values(), key=lambda c: (c.created, c.id))
        if active_at is not None:
            items = [c for c in items if c.active(active_at)]
        return items

    def closure(self, closure_id: str) -> Closure | None:
        """One closure by id, or ``None``."""
        with self._lock:
            return self._closures.get(closure_id)

    def closure_edges(self, closure_id: str, profile: str) -> np.ndarray:
        """Edge ids a closure affects in ``profile``'s graph (empty if none)."""
        with self._lock:
            return self._closure_edges.get((closure_id, profile), np.zeros(0, np.int64))

    # ------------------------------------------------------------------ traffic
    def add_traffic(self, records: Iterable[Mapping[str, Any] | TrafficReading]) -> dict[str, Any]:
        """Store sensor readings (a newer reading of a way replaces the older one).

        Parameters
        ----------
        records : iterable of TrafficReading or dict
            Dicts with ``way_id`` (or ``lat``/``lon``), ``speed_kmh`` (or
            ``speed``), ``timestamp`` (ISO 8601 or unix seconds), optional ``sensor``.

        Returns
        -------
        dict
            ``{"applied": n, "stale": n, "ignored": [messages]}``: stale readings
            (older than the TTL) are counted but not stored; readings naming an
            unknown way or a point away from the roads are ignored with a reason.

        Raises
        ------
        DataError
            A reading lacks a field or has an unusable value (the row is named).
        """
        if self.traffic_profile not in self.graphs:
            raise RequestError(
                f"traffic applies to the {self.traffic_profile} profile, which is not loaded"
            )
        index = self._graph_index(self.traffic_profile)
        now = self.now()
        readings: list[TrafficReading] = []
        ignored: list[str] = []
        stale = 0
        for i, record in enumerate(records):
            reading, problem = self._reading(record, i + 1, index)
            if reading is None:
                ignored.append(problem)
                continue
            if reading.timestamp < now - self.traffic_ttl_s:
                stale += 1
                continue
            readings.append(reading)
        with self._lock:
            applied = 0
            for reading in readings:
                old = self._traffic.get(reading.way_id)
                if old is None or old.timestamp <= reading.timestamp:
                    self._traffic[reading.way_id] = reading
                    applied += 1
            if applied:
                self._changed()
        log.info(
            "traffic: %d reading(s) applied, %d stale, %d ignored", applied, stale, len(ignored)
        )
        return {"applied": applied, "stale": stale, "ignored": ignored[:20]}

    def _reading(
        self, record: Mapping[str, Any] | TrafficReading, row: int, index: _GraphIndex
    ) -> tuple[TrafficReading | None, str]:
        if isinstance(record, TrafficReading):
            record = asdict(record)
        row = int(record.get("_row", row))
        where = f"traffic reading {row}"
        speed = _first(record, _SPEED_KEYS)
        stamp = _first(record, _TIME_KEYS)
        if speed is None or stamp is None:
            raise DataError(f"{where}: needs speed_kmh and timestamp; add the missing field")
        try:
            speed_kmh = float(speed)
        except (TypeError, ValueError):
            raise DataError(f"{where}: speed_kmh = {speed!r} is not a number") from None
        if not 0 <= speed_kmh <= MAX_SPEED_KMH:
            raise DataError(f"{where}: speed_kmh = {speed_kmh} is outside 0..{MAX_SPEED_KMH:g}")
        try:
            timestamp = parse_time(stamp, zone=self.timezone, what=f"{where}: timestamp")
        except RequestError as exc:
            raise DataError(str(exc)) from None
        sensor = str(_first(record, _SENSOR_KEYS) or "")
        way = _first(record, _WAY_KEYS)
        if way is not None:
            try:
                way_id = int(way)
            except (TypeError, ValueError):
                raise DataError(f"{where}: way_id = {way!r} is not an integer") from None
            if index.edges_of_ways(np.array([way_id]))[0].shape[0] == 0:
                return None, f"{where}: way {way_id} is not in the {self.traffic_profile} graph"
        else:
            lat, lon = record.get("lat"), record.get("lon")
            if lat in (None, "") or lon in (None, ""):
                raise DataError(f"{where}: needs way_id or lat and lon")
            try:
                lat_f, lon_f = float(lat), float(lon)
            except (TypeError, ValueError):
                raise DataError(f"{where}: lat/lon ({lat!r}, {lon!r}) are not numbers") from None
            from routing.errors import SnapError

            try:
                snap = self._traffic_snapper().snap(lat_f, lon_f, max_distance_m=50.0)
            except SnapError as exc:
                return None, f"{where}: {exc}"
            way_id = int(self.graphs[self.traffic_profile].way_id[snap.edge])
        return TrafficReading(way_id, max(speed_kmh, MIN_TRAFFIC_KMH), timestamp, sensor), ""

    def _traffic_snapper(self):
        if self._snapper is None:
            from routing.snap import Snapper

            self._snapper = Snapper(self.graphs[self.traffic_profile])
        return self._snapper

    def traffic(self, *, at: float | None = None) -> list[TrafficReading]:
        """The readings valid at ``at`` (default now), i.e. not older than the TTL."""
        when = self.now() if at is None else float(at)
        with self._lock:
            return [
                r
                for r in self._traffic.values()
                if when - self.traffic_ttl_s <= r.timestamp <= when + self.traffic_ttl_s
            ]

    def clear_traffic(self) -> int:
        """Drop every reading; return how many there were."""
        with self._lock:
            n = len(self._traffic)
            self._traffic.clear()
            if n:
                self._changed()
        return n

    # ------------------------------------------------------------------ weights
    def weights(self, profile: str, *, at: float | None = None) -> LiveWeights:
        """The effective travel times of ``profile`` at unix time ``at`` (default now).

        Raises
        ------
        RequestError
            ``profile`` is not one of the state's graphs.
        """
        if profile not in self.graphs:
            raise RequestError(
                f"profile {profile!r} is not loaded; use one of {', '.join(self.graphs)}"
            )
        when = self.now() if at is None else float(at)
        with self._lock:
            active = tuple(
                c.id for c in self._closures.values() if c.active(when) and c.applies_to(profile)
            )
            readings = self.traffic(at=when) if profile == self.traffic_profile else []
            key = (profile, self._version, active, tuple(sorted(r.way_id for r in readings)))
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            result = self._compute(profile, active, readings)
            self._cache[key] = result
            while len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
            return result

    def _compute(
        self, profile: str, active: tuple[str, ...], readings: list[TrafficReading]
    ) -> LiveWeights:
        graph = self.graphs[profile]
        base = np.asarray(graph.travel_time, dtype=np.float64)
        tt = base.copy()
        length = np.asarray(graph.length_m, dtype=np.float64)
        # Turn-expanded graphs: speeds change the driving part, not the turn's cost.
        turn = np.asarray(graph.turn_cost, dtype=np.float64)
        if readings:
            index = self._graph_index(profile)
            ways = np.array([r.way_id for r in readings], dtype=np.int64)
            speeds = np.array([r.speed_kmh for r in readings], dtype=np.float64)
            edges, owner = index.edges_of_ways(ways)
            slow = length[edges] / (speeds[owner] / 3.6) + turn[edges]
            tt[edges] = np.maximum(base[edges], slow)  # never faster than free flow
        closures = [self._closures[c] for c in active]
        for closure in closures:
            if closure.kind != "speed":
                continue
            edges = self._closure_edges.get((closure.id, profile), np.zeros(0, np.int64))
            if closure.speed_kmh is not None:
                tt[edges] = length[edges] / (closure.speed_kmh / 3.6) + turn[edges]
            else:
                assert closure.factor is not None
                tt[edges] = (tt[edges] - turn[edges]) / closure.factor + turn[edges]
        for closure in closures:
            if closure.kind == "closed":
                edges = self._closure_edges.get((closure.id, profile), np.zeros(0, np.int64))
                tt[edges] = np.inf
        mask = tt != base
        modified = np.flatnonzero(mask).astype(np.int64)
        increased = bool(np.all(tt[modified] >= base[modified]))
        tt.flags.writeable = False
        mask.flags.writeable = False
        view = replace(graph, travel_time=tt) if modified.shape[0] else graph
        return LiveWeights(profile, self._version, tt, modified, mask, increased, view)

    # ------------------------------------------------------------------ map
    def geojson(self, *, at: float | None = None, profile: str | None = None) -> dict[str, Any]:
        """Active closures as a GeoJSON FeatureCollection (lon, lat) for the map.

        One feature per closure: a MultiLineString of the affected edges of
        ``profile`` (default: car if loaded, else the first graph), plus the
        polygon itself for area closures. Properties: id, kind, reason, start,
        end, edges.
        """
        when = self.now() if at is None else float(at)
        features = []
        for closure in self.closures(active_at=when):
            shown = (
                closure.edge_profile
                or profile
                or ("car" if "car" in self.graphs else next(iter(self.graphs)))
            )
            if not closure.applies_to(shown):
                shown = next((p for p in self.graphs if closure.applies_to(p)), shown)
            edges = self.closure_edges(closure.id, shown)
            graph = self.graphs.get(shown)
            lines = []
            if graph is not None:
                for e in edges.tolist()[:5000]:
                    lats, lons = graph.edge_points(e)
                    lines.append(
                        [
                            [round(float(x), 6), round(float(y), 6)]
                            for y, x in zip(lats, lons, strict=True)
                        ]
                    )
            props = {
                "id": closure.id,
                "kind": closure.kind,
                "reason": closure.reason,
                "start": _iso(closure.start) if closure.start is not None else None,
                "end": _iso(closure.end) if closure.end is not None else None,
                "profile": shown,
                "edges": int(edges.shape[0]),
                "speed_kmh": closure.speed_kmh,
                "factor": closure.factor,
            }
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "MultiLineString", "coordinates": lines},
                    "properties": props,
                }
            )
            if closure.polygon is not None:
                features.append(
                    {
                        "type": "Feature",
                        "geometry": closure.polygon,
                        "properties": {**props, "area": True},
                    }
                )
        return {"type": "FeatureCollection", "features": features}

    # ------------------------------------------------------------------ persistence
    def _save(self) -> None:
        if self.path is None:
            return
        cutoff = self.now() - self.traffic_ttl_s
        payload = {
            "format": LIVE_FORMAT,
            "saved": self.now(),
            "closures": [c.to_json() for c in self._closures.values()],
            "traffic": [asdict(r) for r in self._traffic.values() if r.timestamp >= cutoff],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _load(self) -> None:
        assert self.path is not None
        fix = f"fix or move away {self.path} (it holds the saved closures and traffic readings)"
        try:
            payload = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read live state {self.path}: {exc}; {fix}") from None
        if not isinstance(payload, dict) or payload.get("format") != LIVE_FORMAT:
            raise DataError(f"live state {self.path} has an unknown format; {fix}")
        try:
            closures = [Closure.from_json(c) for c in payload.get("closures", [])]
            readings = [TrafficReading(**r) for r in payload.get("traffic", [])]
        except (KeyError, TypeError, ValueError, RequestError) as exc:
            raise DataError(
                f"live state {self.path} has a malformed entry ({exc}); {fix}"
            ) from None
        with self._lock:
            for closure in closures:
                try:
                    resolved = self._resolve(closure)
                except RequestError as exc:
                    log.warning("saved closure %s no longer applies (%s); skipped", closure.id, exc)
                    continue
                self._closures[closure.id] = closure
                self._closure_edges.update(resolved)
            for reading in readings:
                self._traffic[reading.way_id] = reading
            self._changed(persist=False)
        log.info(
            "loaded live state %s: %d closure(s), %d traffic reading(s)",
            self.path,
            len(self._closures),
            len(self._traffic),
        )


__all__ = [
    "DEFAULT_TRAFFIC_TTL_S",
    "Closure",
    "LiveState",
    "LiveWeights",
    "TrafficReading",
    "parse_time",
    "traffic_records",
]
