"""The road graph as parallel numpy arrays in CSR form (RoutingKit style).

A :class:`RoadGraph` is frozen: queries never mutate it. Node ``v``'s outgoing
edges are ``first_out[v]:first_out[v + 1]``; edge ``e`` leads to ``head[e]``.
Nodes are routing nodes (junctions and dead ends); the shape points of the
OSM ways between them are kept as edge geometry for drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np

PROFILES = ("walk", "bike", "car", "shuttle")
"""Profiles built from every OSM file (``wheelchair`` is built on demand).

``bike``, ``car`` and ``shuttle`` graphs are turn-expanded (:mod:`routing.turns`).
"""


@dataclass(frozen=True)
class RoadGraph:
    """A directed road graph of one profile.

    Attributes
    ----------
    profile : str
        ``"walk"``, ``"bike"``, ``"car"``, ``"shuttle"`` or ``"wheelchair"``.
    first_out : ndarray of int64, shape (n + 1,)
        CSR offsets: the edges leaving node ``v`` are ``first_out[v]:first_out[v+1]``.
    head : ndarray of int32, shape (m,)
        Target node of each edge.
    travel_time : ndarray of float64, shape (m,)
        Seconds to traverse each edge with this profile.
    length_m : ndarray of float64, shape (m,)
        Edge length in metres along its geometry.
    lat, lon : ndarray of float64, shape (n,)
        Node coordinates (WGS84 degrees).
    osm_node_id : ndarray of int64, shape (n,)
        OSM id of each node.
    way_id : ndarray of int64, shape (m,)
        OSM way id each edge comes from (for closures and traffic updates).
    geom_first : ndarray of int64, shape (m + 1,)
        Offsets into ``geom_lat``/``geom_lon`` of each edge's intermediate shape
        points (tail and head node excluded), in driving order.
    geom_lat, geom_lon : ndarray of float64
        Intermediate shape points of all edges.
    road_edge : ndarray of int64, shape (m,)
        Which road segment each edge drives. In a node-based graph every edge is
        its own segment (``arange(m)``); in a turn-expanded graph
        (:mod:`routing.turns`) an edge is a turn *onto* a segment, and all turns
        onto the same segment share its id. Snapping groups edges by it.
    turn_cost : ndarray of float64, shape (m,)
        Seconds of ``travel_time`` spent on the turn at the edge's start (zeros
        in a node-based graph); the rest is driven along the geometry.
    """

    profile: str
    first_out: np.ndarray
    head: np.ndarray
    travel_time: np.ndarray
    length_m: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    osm_node_id: np.ndarray
    way_id: np.ndarray
    geom_first: np.ndarray
    geom_lat: np.ndarray
    geom_lon: np.ndarray
    road_edge: np.ndarray = field(default=None)  # type: ignore[arg-type]
    turn_cost: np.ndarray = field(default=None)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        m = int(self.head.shape[0])
        if self.road_edge is None:
            object.__setattr__(self, "road_edge", np.arange(m, dtype=np.int64))
        if self.turn_cost is None:
            object.__setattr__(self, "turn_cost", np.zeros(m, dtype=np.float64))

    @cached_property
    def turn_expanded(self) -> bool:
        """Whether edges are turns between road segments (nodes are segment ends)."""
        m = self.n_edges
        return bool(m) and not np.array_equal(self.road_edge, np.arange(m))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.first_out.shape[0] - 1)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.head.shape[0])

    def tail(self) -> np.ndarray:
        """Return the source node of every edge (int32, shape (m,))."""
        degrees = np.diff(self.first_out)
        return np.repeat(np.arange(self.n_nodes, dtype=np.int32), degrees)

    def array_fields(self) -> dict[str, np.ndarray]:
        """Return every array attribute by name (used by the disk cache)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "profile"}

    def edge_points(self, edge: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the full (lat, lon) polyline of ``edge`` including both end nodes."""
        tail = int(np.searchsorted(self.first_out, edge, side="right") - 1)
        a, b = int(self.geom_first[edge]), int(self.geom_first[edge + 1])
        lats = np.concatenate(([self.lat[tail]], self.geom_lat[a:b], [self.lat[self.head[edge]]]))
        lons = np.concatenate(([self.lon[tail]], self.geom_lon[a:b], [self.lon[self.head[edge]]]))
        return lats, lons
