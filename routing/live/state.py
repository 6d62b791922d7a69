"""The live network state: closures and traffic readings over the profile graphs.

:class:`LiveState` is thread-safe and versioned: every change bumps
:attr:`LiveState.version` and calls the subscribers (a road network drops its
customized hierarchy, a dispatcher its matrices). :meth:`LiveState.weights`
gives a profile's effective travel times at an instant as
:class:`~routing.live.model.LiveWeights`; these are the metric that
:meth:`routing.road.RoadNetwork.customized` feeds into the customizable
contraction hierarchy (the hook: customize once per ``(profile, version)``).
With a ``path`` the state persists itself as JSON, written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from routing.errors import DataError, RequestError, SnapError
from routing.graph import RoadGraph
from routing.live.index import GraphIndex, graph_index, unique_ids
from routing.live.model import (
    DEFAULT_TRAFFIC_TTL_S,
    LIVE_FORMAT,
    MIN_TRAFFIC_KMH,
    Closure,
    LiveWeights,
    TrafficReading,
    iso,
)
from routing.live.parsing import check_polygon, make_closure, reading_fields

if TYPE_CHECKING:
    from routing.snap import Snapper

log = logging.getLogger(__name__)

#: Live weights kept per state (the last few instants and profiles asked for).
_CACHE_ENTRIES = 8


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
        snapper: Snapper | None = None,
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
        self._closure_edges: dict[tuple[str, str], NDArray[np.int64]] = {}
        self._traffic: dict[int, TrafficReading] = {}
        self._cache: OrderedDict[tuple[Any, ...], LiveWeights] = OrderedDict()
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

    def _graph_index(self, profile: str) -> GraphIndex:
        """The edge index of ``profile``'s graph."""
        return graph_index(self.graphs[profile])

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
        closure = make_closure(
            {
                "id": closure_id,
                "kind": kind,
                "way_ids": list(way_ids),
                "polygon": dict(polygon) if polygon is not None else None,
                "edges": list(edges),
                "edge_profile": edge_profile,
                "profiles": profiles,
                "speed_kmh": speed_kmh,
                "factor": factor,
                "start": start,
                "end": end,
                "reason": reason,
            },
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

    def _resolve(self, closure: Closure) -> dict[tuple[str, str], NDArray[np.int64]]:
        """Edge ids of ``closure`` in every graph it applies to."""
        for p in closure.profiles:
            if p not in self.graphs:
                raise RequestError(
                    f"unknown profile {p!r} in the closure; loaded: {', '.join(self.graphs)}"
                )
        out: dict[tuple[str, str], NDArray[np.int64]] = {}
        if closure.edges:
            profile = closure.edge_profile or ""
            if profile not in self.graphs:
                raise RequestError(
                    f"edge_profile {profile!r} is not loaded; use one of {', '.join(self.graphs)}"
                )
            edges = unique_ids(np.fromiter(closure.edges, np.int64, len(closure.edges)))
            m = self.graphs[profile].n_edges
            if edges[0] < 0 or edges[-1] >= m:
                raise RequestError(
                    f"edge ids must be in 0..{m - 1} for the {profile} graph, got "
                    f"{int(edges[0])}..{int(edges[-1])}"
                )
            out[(closure.id, profile)] = edges
            return out
        geometry = check_polygon(closure.polygon) if closure.polygon is not None else None
        ways = unique_ids(np.fromiter(closure.way_ids, np.int64, len(closure.way_ids)))
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
                unique_ids(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
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

    def closure_edges(self, closure_id: str, profile: str) -> NDArray[np.int64]:
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
        self, record: Mapping[str, Any] | TrafficReading, row: int, index: GraphIndex
    ) -> tuple[TrafficReading | None, str]:
        """Place one record on the traffic graph: a reading, or ``None`` and why not."""
        if isinstance(record, TrafficReading):
            record = asdict(record)
        fields = reading_fields(record, row=row, zone=self.timezone)
        where = f"traffic reading {fields.row}"
        if fields.point is not None:
            try:
                snap = self._traffic_snapper().snap(*fields.point, max_distance_m=50.0)
            except SnapError as exc:
                return None, f"{where}: {exc}"
            way_id = int(self.graphs[self.traffic_profile].way_id[snap.edge])
        else:
            way_id = fields.way_id
            if index.edges_of_ways(np.array([way_id]))[0].shape[0] == 0:
                return None, f"{where}: way {way_id} is not in the {self.traffic_profile} graph"
        speed = max(fields.speed_kmh, MIN_TRAFFIC_KMH)
        return TrafficReading(way_id, speed, fields.timestamp, fields.sensor), ""

    def _traffic_snapper(self) -> Snapper:
        """The snapper of the traffic profile's graph (built on first need)."""
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
                "start": iso(closure.start) if closure.start is not None else None,
                "end": iso(closure.end) if closure.end is not None else None,
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


__all__ = ["LiveState"]
