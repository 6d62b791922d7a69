"""What demand needs from the road network: zone travel times and on-graph points.

* :func:`road_travel_times`: car travel times between zone centroids, the
  centroids snapped to the car graph, shortest paths from the routing core.
* :func:`crowfly_travel_times`: an explicit *estimate* (straight-line
  distance x detour factor at a fixed speed) for regions without a map
  offline; never used silently (the caller logs and reports it).
* :class:`NodeSnapper`: nearest node of a graph among the nodes of its
  largest strongly connected component that lie in the service area, so a
  snapped point is routable both ways and inside the area.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from demand.area import ServiceArea
from routing.errors import DataError
from routing.geo import LocalPlane, haversine_m
from routing.graph import RoadGraph

log = logging.getLogger(__name__)

#: ``f(lat, lon) -> seconds[n, n]``: travel times between the given points.
TravelTimeFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def largest_component(graph: RoadGraph) -> np.ndarray:
    """Boolean mask of the nodes in the graph's largest strongly connected component."""
    n = graph.n_nodes
    if n == 0:
        return np.zeros(0, dtype=bool)
    adj = csr_matrix(
        (
            np.ones(graph.n_edges, dtype=np.int8),
            np.asarray(graph.head),
            np.asarray(graph.first_out),
        ),
        shape=(n, n),
    )
    _, labels = connected_components(adj, directed=True, connection="strong")
    return labels == np.bincount(labels).argmax()


class NodeSnapper:
    """Snap points to the nearest eligible node (k-d tree in a local metric plane).

    Parameters
    ----------
    lat, lon : ndarray
        Candidate node coordinates.
    node : ndarray of int, optional
        Node index reported for each candidate (default: its position).
    """

    def __init__(self, lat: np.ndarray, lon: np.ndarray, node: np.ndarray | None = None) -> None:
        self.lat = np.asarray(lat, dtype=float)
        self.lon = np.asarray(lon, dtype=float)
        if self.lat.size == 0:
            raise DataError("no graph nodes to snap to (the service area holds no usable road)")
        self.node = np.arange(self.lat.size) if node is None else np.asarray(node)
        self.plane = LocalPlane(float(self.lat.mean()))
        x, y = self.plane.to_xy(self.lat, self.lon)
        self._tree = cKDTree(np.column_stack([x, y]))

    @classmethod
    def for_graph(cls, graph: RoadGraph, area: ServiceArea | None = None) -> NodeSnapper:
        """Snapper onto ``graph``'s largest strongly connected component, inside ``area``."""
        from routing.snap import location_points

        lat, lon, owner = location_points(graph)
        keep = largest_component(graph)[owner]
        if area is not None:
            keep &= area.contains(lat, lon)
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            raise DataError(
                f"the {graph.profile} graph has no connected nodes inside the service area"
                f"{' ' + area.name if area else ''}; check the area and the map extract"
            )
        log.info(
            "%s snapper: %d of %d nodes eligible (largest component%s)",
            graph.profile,
            np.unique(owner[idx]).size,
            graph.n_nodes,
            ", inside the area" if area is not None else "",
        )
        return cls(lat[idx], lon[idx], owner[idx])

    @property
    def size(self) -> int:
        """Number of eligible nodes."""
        return int(self.lat.size)

    def snap(
        self, lat: np.ndarray, lon: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nearest eligible node of each point.

        Returns
        -------
        node : ndarray of int64
            Graph node index.
        lat, lon : ndarray of float64
            The node's coordinates (the snapped point).
        distance_m : ndarray of float64
            Haversine distance from the point to the node.
        """
        x, y = self.plane.to_xy(lat, lon)
        _, k = self._tree.query(np.column_stack([x, y]))
        k = np.asarray(k, dtype=np.int64)
        dist = haversine_m(lat, lon, self.lat[k], self.lon[k])
        return self.node[k].astype(np.int64), self.lat[k], self.lon[k], np.asarray(dist)


def crowfly_travel_times(
    lat: np.ndarray, lon: np.ndarray, *, speed_kmh: float = 30.0, detour: float = 1.35
) -> np.ndarray:
    """Estimated travel times (s): great-circle distance x ``detour`` at ``speed_kmh``.

    Only for regions without a road graph offline; the demand summary says so.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    dist = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    return dist * detour / (speed_kmh / 3.6)


def road_travel_times(
    graph: RoadGraph,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    max_snap_m: float = 2000.0,
    hierarchy: Any = None,
) -> np.ndarray:
    """Shortest travel times (s) on ``graph`` between points snapped to its main component.

    Parameters
    ----------
    graph : RoadGraph
        Usually the car graph.
    lat, lon : ndarray
        Zone centroids.
    max_snap_m : float
        Points farther than this from the graph get ``inf`` rows and columns.
    hierarchy : ContractionHierarchy, optional
        The graph's contraction hierarchy, for a fast bucket matrix.

    Returns
    -------
    ndarray of float64, shape (n, n)
        Seconds; ``inf`` where no route exists or a point could not be snapped.
    """
    from routing.matrix import many_to_many

    started = time.perf_counter()
    snapper = NodeSnapper.for_graph(graph)
    nodes, _, _, dist = snapper.snap(lat, lon)
    ok = dist <= max_snap_m
    if not ok.all():
        log.warning(
            "%d of %d zone centroids are more than %.0f m from the %s graph; "
            "they get no travel times",
            int((~ok).sum()),
            ok.size,
            max_snap_m,
            graph.profile,
        )
    n = len(nodes)
    out = np.full((n, n), np.inf)
    cols = np.flatnonzero(ok)
    # Bucket many-to-many on the hierarchy when one is given, one Dijkstra per row otherwise.
    out[np.ix_(cols, cols)] = many_to_many(hierarchy or graph, nodes[cols], nodes[cols])
    log.info(
        "road travel times: %d x %d zones on the %s graph in %.2f s",
        n,
        n,
        graph.profile,
        time.perf_counter() - started,
    )
    return out
