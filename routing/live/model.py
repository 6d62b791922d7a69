"""Data types of the live network state: closures, traffic readings, live weights.

Plain frozen records; validation of user input lives in
:mod:`routing.live.parsing`, edge matching in :mod:`routing.live.index` and
the mutable, thread-safe state in :mod:`routing.live.state`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.graph import RoadGraph

LIVE_FORMAT = 1
#: Seconds a traffic reading stays valid.
DEFAULT_TRAFFIC_TTL_S = 900.0
#: Slowest speed a reading may set (a standing queue is slow, not closed).
MIN_TRAFFIC_KMH = 1.0
MAX_SPEED_KMH = 250.0
KINDS = ("closed", "speed")
_CACHE_ENTRIES = 8


def iso(seconds: float) -> str:
    """ISO 8601 UTC text (``...Z``) of unix ``seconds``.

    Parameters
    ----------
    seconds : float
        Unix time.
    """
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


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
    polygon: dict[str, Any] | None = None
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
            out[f"{name}_iso"] = iso(value) if value is not None else None
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Closure:
        """Inverse of :meth:`to_json` (validates like :meth:`LiveState.add_closure`).

        Raises
        ------
        RequestError
            A field is missing or invalid.
        """
        from routing.live.parsing import closure_from_json  # parsing builds Closures

        return closure_from_json(data)


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
    travel_time: NDArray[np.float64]
    modified: NDArray[np.int64]
    modified_mask: NDArray[np.bool_]
    increased_only: bool
    graph: RoadGraph

    @property
    def changed(self) -> bool:
        """Whether anything differs from the base graph."""
        return bool(self.modified.shape[0])


__all__ = [
    "DEFAULT_TRAFFIC_TTL_S",
    "KINDS",
    "LIVE_FORMAT",
    "MAX_SPEED_KMH",
    "MIN_TRAFFIC_KMH",
    "Closure",
    "LiveWeights",
    "TrafficReading",
    "iso",
]
