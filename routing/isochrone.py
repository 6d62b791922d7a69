"""Isochrones: everything reachable within a travel-time budget.

Node level: a bounded multi-source Dijkstra (:func:`routing.search.dijkstra_bounded`).
Edge level, for drawing: every edge whose tail is reached, with the fraction
of its length that can still be travelled within the budget.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from routing.graph import RoadGraph
from routing.paths import edge_prefix_polyline
from routing.search import dijkstra_bounded


class IsochroneEdges(NamedTuple):
    """Reached edges of an isochrone.

    ``edges`` (int64) are edge ids whose tail is within the budget;
    ``fraction`` (float64, 0..1) is the share of each edge's travel time
    that fits in the remaining budget (1 = fully reached); ``tail_time`` is
    the arrival time at the edge's tail.
    """

    edges: np.ndarray
    fraction: np.ndarray
    tail_time: np.ndarray


def isochrone(
    graph: RoadGraph,
    src_nodes: ArrayLike,
    src_costs: ArrayLike | None,
    budget_s: float,
    *,
    reverse: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes reachable within ``budget_s`` seconds and their travel times.

    Parameters
    ----------
    graph : RoadGraph
    src_nodes, src_costs : array_like
        Seeds (e.g. a snapped point's nodes and partial edge times); costs may be ``None``.
    budget_s : float
        Time budget in seconds (inclusive).
    reverse : bool
        If true, the nodes from which a seed can be reached within the budget.

    Returns
    -------
    (nodes, times) : ndarray of int32, ndarray of float64
        Sorted by time, then node id.
    """
    dist = dijkstra_bounded(graph, src_nodes, src_costs, budget_s, reverse=reverse)
    nodes = np.flatnonzero(np.isfinite(dist))
    order = np.lexsort((nodes, dist[nodes]))
    nodes = nodes[order].astype(np.int32)
    return nodes, dist[nodes]


def isochrone_edges(
    graph: RoadGraph, src_nodes: ArrayLike, src_costs: ArrayLike | None, budget_s: float
) -> IsochroneEdges:
    """Edges reached within ``budget_s`` seconds, with the reachable fraction of each.

    Parameters are as in :func:`isochrone` (forward direction only).
    """
    dist = dijkstra_bounded(graph, src_nodes, src_costs, budget_s)
    tails = graph.tail()
    tail_time = dist[tails]
    edges = np.flatnonzero(np.isfinite(tail_time))
    tail_time = tail_time[edges]
    travel = graph.travel_time[edges]
    left = float(budget_s) - tail_time
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(travel > 0, np.minimum(left / travel, 1.0), 1.0)
    return IsochroneEdges(edges.astype(np.int64), np.clip(fraction, 0.0, 1.0), tail_time)


def isochrone_polylines(
    graph: RoadGraph, reached: IsochroneEdges
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(lat, lon) polylines of the reached part of every reached edge (for maps)."""
    out = []
    for edge, fraction in zip(reached.edges.tolist(), reached.fraction.tolist(), strict=True):
        if fraction >= 1.0:
            out.append(graph.edge_points(edge))
        elif fraction > 0.0:
            out.append(edge_prefix_polyline(graph, edge, fraction))
    return out


__all__ = ["IsochroneEdges", "isochrone", "isochrone_edges", "isochrone_polylines"]
