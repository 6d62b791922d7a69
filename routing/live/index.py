"""Edge matching for live changes: the edges of OSM ways and of an area.

A :class:`GraphIndex` is built once per graph (and kept on it) and shared by
every :class:`routing.live.LiveState` over that graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from routing.graph import RoadGraph


def unique_ids(values: ArrayLike) -> NDArray[np.int64]:
    """Sorted distinct int64 values (``np.unique``'s hashing is ~10x slower on 40,000 ids)."""
    out = np.sort(np.asarray(values, dtype=np.int64))
    if out.shape[0] < 2:
        return out
    keep = np.empty(out.shape[0], dtype=np.bool_)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


class GraphIndex:
    """Per-graph lookups: edges of a way (sorted way ids) and of an area (edge bounding boxes).

    Built once per graph and shared by every :class:`LiveState` over it
    (:func:`graph_index`).
    """

    def __init__(self, graph: RoadGraph) -> None:
        """Sort the graph's edges by way id (the area lookups are built on first use)."""
        self.graph = graph
        self.order = np.argsort(graph.way_id, kind="stable").astype(np.int64, copy=False)
        self.sorted_way = np.asarray(graph.way_id)[self.order]
        self._points: tuple[NDArray[Any], ...] | None = None

    def edges_of_ways(self, way_ids: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Edges of each way: (edge ids, index of the way each belongs to)."""
        ways = np.asarray(way_ids, dtype=np.int64)
        lo = np.searchsorted(self.sorted_way, ways, side="left")
        hi = np.searchsorted(self.sorted_way, ways, side="right")
        counts = hi - lo
        owner = np.repeat(np.arange(ways.shape[0]), counts)
        # Concatenated ranges lo[i]:hi[i]: output slot j of way i reads lo[i] + (j - start[i]).
        shift = lo - (np.cumsum(counts) - counts)
        return self.order[np.arange(int(counts.sum())) + shift[owner]], owner

    def _edge_points(self) -> tuple[NDArray[Any], ...]:
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

    def edges_in(self, geometry: Any) -> NDArray[np.int64]:
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
        hits: NDArray[np.bool_] = shapely.intersects(geometry, lines)
        return near[hits].astype(np.int64)


def graph_index(graph: RoadGraph) -> GraphIndex:
    """The :class:`GraphIndex` of ``graph`` (built once, kept on the graph)."""
    index = graph.__dict__.get("_live_index")
    if index is None:
        index = GraphIndex(graph)
        object.__setattr__(graph, "_live_index", index)  # a cache, not a field
    return index


__all__ = ["GraphIndex", "graph_index", "unique_ids"]
