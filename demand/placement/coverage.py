"""Which demand each candidate site covers: one bounded reverse Dijkstra per site."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from demand.placement.inputs import Demand, Sites
from routing.errors import RequestError
from routing.graph import RoadGraph

log = logging.getLogger(__name__)

#: Demand points farther than this from the graph are left out (and counted).
MAX_SNAP_M = 400.0


@dataclass(frozen=True)
class Coverage:
    """Which demand nodes each candidate covers.

    Attributes
    ----------
    matrix : csr_matrix of bool, shape (n_sites, n_demand)
        ``matrix[s, d]``: demand node ``d`` reaches site ``s`` within the radius.
    demand_nodes : ndarray of int
        Graph node of each demand column.
    weights : ndarray of float
        Demand weight per column (points snapped to the same node are summed).
    site_nodes : ndarray of int
        Snapped graph node of each site (-1 = too far from the graph; covers nothing).
    dropped_weight : float
        Demand farther than :data:`MAX_SNAP_M` from the graph (never coverable).
    """

    matrix: csr_matrix
    demand_nodes: np.ndarray
    weights: np.ndarray
    site_nodes: np.ndarray
    dropped_weight: float


def coverage(
    graph: RoadGraph, sites: Sites, demand: Demand, radius_s: float, *, snapper: Any = None
) -> Coverage:
    """Build the coverage matrix with one bounded reverse Dijkstra per candidate site."""
    from routing.search import dijkstra_bounded
    from routing.snap import Snapper

    if radius_s <= 0:
        raise RequestError(f"the radius must be positive, got {radius_s} s")
    snapper = snapper or Snapper(graph)
    d_nodes, _d_dist = snapper.snap_many(demand.lat, demand.lon, max_distance_m=MAX_SNAP_M)
    ok = d_nodes >= 0
    dropped = float(demand.weight[~ok].sum())
    per_node = np.bincount(d_nodes[ok], weights=demand.weight[ok], minlength=graph.n_nodes)
    demand_nodes = np.flatnonzero(per_node > 0)
    column = np.full(graph.n_nodes, -1, dtype=np.int64)
    column[demand_nodes] = np.arange(demand_nodes.size)
    s_nodes, _ = snapper.snap_many(sites.lat, sites.lon, max_distance_m=MAX_SNAP_M)
    rows, cols = [], []
    for s, node in enumerate(s_nodes.tolist()):
        if node < 0:
            continue
        dist = dijkstra_bounded(graph, [node], None, radius_s, reverse=True)
        reached = column[np.flatnonzero(np.isfinite(dist))]
        reached = reached[reached >= 0]
        rows.append(np.full(reached.size, s, dtype=np.int64))
        cols.append(reached)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    matrix = csr_matrix(
        (np.ones(r.size, dtype=bool), (r, c)), shape=(len(sites), demand_nodes.size)
    )
    log.info(
        "coverage: %d sites, %d demand nodes, %d pairs within %.0f s (%.0f demand too far)",
        len(sites), demand_nodes.size, r.size, radius_s, dropped,
    )  # fmt: skip
    return Coverage(matrix, demand_nodes, per_node[demand_nodes], s_nodes, dropped)


def covered_weight(matrix: csr_matrix, weights: np.ndarray, chosen) -> float:
    """Demand weight covered by the ``chosen`` sites (rows)."""
    chosen = np.asarray(list(chosen), dtype=np.int64)
    if chosen.size == 0:
        return 0.0
    hit = np.asarray(matrix[chosen].sum(axis=0)).ravel() > 0
    return float(weights[hit].sum())
