"""The isochrone polygon stays within its vertex budget however scattered the reach is."""

from __future__ import annotations

import numpy as np
import shapely

from api.services.isochrone_shape import MAX_VERTICES, isochrone_geometry


class _Streets:
    """A graph of ``side`` x ``side`` short, unconnected street pieces ``spacing_deg`` apart."""

    def __init__(self, side: int, spacing_deg: float) -> None:
        rows, cols = np.divmod(np.arange(side * side), side)
        lat0 = 49.3 + rows * spacing_deg
        lon0 = 8.6 + cols * spacing_deg * 1.5
        self.lat = np.concatenate([lat0, lat0 + 1e-5])
        self.lon = np.concatenate([lon0, lon0])
        n = side * side
        self._tail = np.arange(n)
        self.head = np.arange(n) + n
        self.length_m = np.full(n, 1.1)

    def tail(self) -> np.ndarray:
        return self._tail


def test_scattered_islands_are_cut_to_the_vertex_budget_largest_first() -> None:
    # 1,600 islands a few cells apart: simplifying keeps each one (>= 4 points each),
    # so no tolerance gets under the budget; this used to loop for ever.
    streets = _Streets(40, 0.01)
    edges = np.arange(streets.head.size)
    geometry, facts = isochrone_geometry(streets, edges, np.ones(edges.size))
    assert 0 < facts["vertices"] <= MAX_VERTICES
    area = shapely.geometry.shape(geometry)
    assert area.is_valid and not area.is_empty
    assert len(geometry["coordinates"]) < 40 * 40  # islands were dropped to fit


def test_a_compact_reach_keeps_every_island() -> None:
    streets = _Streets(5, 0.01)
    edges = np.arange(streets.head.size)
    geometry, facts = isochrone_geometry(streets, edges, np.ones(edges.size))
    assert facts["vertices"] <= MAX_VERTICES
    assert len(geometry["coordinates"]) == 25
