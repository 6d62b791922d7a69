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
(:class:`routing.road.RoadNetwork`) customizes its contraction hierarchy with it.

Every change bumps :attr:`LiveState.version`; the state is thread-safe and,
with a ``path``, persisted as JSON (written atomically) so a restart keeps it.
Traffic readings never make a road faster than its free-flow (speed-limit)
time: sensors measure congestion, the graph already assumes the limit.

The package is split along its seams:

* :mod:`routing.live.model`: the records (:class:`Closure`, :class:`TrafficReading`,
  :class:`LiveWeights`) and the constants;
* :mod:`routing.live.parsing`: validation of closures (:class:`ClosureInput`, a
  pydantic model), times and traffic feeds;
* :mod:`routing.live.index`: the edges of OSM ways and of areas;
* :mod:`routing.live.state`: :class:`LiveState`.
"""

from __future__ import annotations

from routing.live.model import (
    DEFAULT_TRAFFIC_TTL_S,
    KINDS,
    LIVE_FORMAT,
    MAX_SPEED_KMH,
    MIN_TRAFFIC_KMH,
    Closure,
    LiveWeights,
    TrafficReading,
)
from routing.live.parsing import ClosureInput, make_closure, parse_time, traffic_records
from routing.live.state import LiveState

__all__ = [
    "DEFAULT_TRAFFIC_TTL_S",
    "KINDS",
    "LIVE_FORMAT",
    "MAX_SPEED_KMH",
    "MIN_TRAFFIC_KMH",
    "Closure",
    "ClosureInput",
    "LiveState",
    "LiveWeights",
    "TrafficReading",
    "make_closure",
    "parse_time",
    "traffic_records",
]
