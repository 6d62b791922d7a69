"""Isochrones as small, simplified polygons (instead of every reached street piece).

A 60-minute bike isochrone reaches most of a city's streets: dumping each
reached edge as a polyline made a 6.4 MB answer and seconds of Python per
request. Here the reached streets are rasterised, all in numpy, onto a grid
whose cell size grows with the reached extent (so a grid has at most about
:data:`MAX_CELLS_PER_SIDE` cells a side), every cell within one cell of a
reached street is kept, the cells are merged into polygons (a GEOS coverage
union: the cells never overlap) and the outline is simplified until it has at
most :data:`MAX_VERTICES` vertices. Cost and output are bounded whatever the
budget: at most ``MAX_CELLS_PER_SIDE**2`` cells and ``MAX_VERTICES`` vertices.

It works on what :meth:`routing.road.RoadNetwork.isochrone_edges` returns
(reached edges with the reachable fraction of each) and the graph's node
coordinates; nothing in :mod:`routing` changes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from routing.geo import M_PER_DEG_LAT

#: Largest number of grid cells along the reached area's longer side.
MAX_CELLS_PER_SIDE = 160
#: Smallest grid cell (metres): finer detail than this is noise for a walk isochrone.
MIN_CELL_M = 40.0
#: Most vertices in one answer (all rings of all polygons).
MAX_VERTICES = 2000
#: Tolerance doublings tried before islands and holes are dropped instead.
MAX_SIMPLIFY_ROUNDS = 8
#: Most sample points taken along the reached edges (bounds the rasterising work).
MAX_SAMPLES = 200_000
_M_PER_DEG = M_PER_DEG_LAT


def reached_points(
    graph: Any, edges: np.ndarray, fraction: np.ndarray, step_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) samples at most ``step_m`` apart along the reached part of each edge.

    Straight from tail to head (an edge's shape points are ignored: at the
    grid's resolution they do not matter).
    """
    if edges.size == 0:
        return np.zeros(0), np.zeros(0)
    tails = graph.tail()[edges]
    heads = graph.head[edges]
    lat0, lon0 = graph.lat[tails], graph.lon[tails]
    dlat = (graph.lat[heads] - lat0) * fraction
    dlon = (graph.lon[heads] - lon0) * fraction
    length = np.asarray(graph.length_m[edges], dtype=np.float64) * fraction
    pieces = np.maximum(np.ceil(length / step_m), 1).astype(np.int64)
    total = int(pieces.sum()) + edges.size
    if total > MAX_SAMPLES:  # very long budgets on big graphs: coarser samples, same bound
        pieces = np.maximum((pieces * (MAX_SAMPLES / total)).astype(np.int64), 1)
    counts = pieces + 1  # both ends of every edge
    owner = np.repeat(np.arange(edges.size), counts)
    starts = np.cumsum(counts) - counts
    t = (np.arange(owner.size) - starts[owner]) / pieces[owner]
    return lat0[owner] + t * dlat[owner], lon0[owner] + t * dlon[owner]


def isochrone_geometry(
    graph: Any, edges: np.ndarray, fraction: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A GeoJSON MultiPolygon (lon, lat) of the area around the reached streets, and its facts.

    Returns
    -------
    (geometry, properties)
        ``properties`` has ``cellM`` (the grid resolution) and ``vertices``.
    """
    import shapely

    keep = fraction > 0.0
    edges, fraction = edges[keep], fraction[keep]
    if edges.size == 0:
        return {"type": "MultiPolygon", "coordinates": []}, {"cellM": 0.0, "vertices": 0}
    nodes = np.concatenate([graph.tail()[edges], graph.head[edges]])
    lat_span = float(np.ptp(graph.lat[nodes])) * _M_PER_DEG
    ref_lat = float(np.mean(graph.lat[nodes]))
    m_per_deg_lon = _M_PER_DEG * max(math.cos(math.radians(ref_lat)), 0.01)
    lon_span = float(np.ptp(graph.lon[nodes])) * m_per_deg_lon
    cell_m = max(MIN_CELL_M, max(lat_span, lon_span) / MAX_CELLS_PER_SIDE)
    lats, lons = reached_points(graph, edges, fraction, step_m=cell_m / 2)
    step_lat, step_lon = cell_m / _M_PER_DEG, cell_m / m_per_deg_lon
    rows = np.floor(lats / step_lat).astype(np.int64)
    cols = np.floor(lons / step_lon).astype(np.int64)
    row0, col0 = int(rows.min()) - 1, int(cols.min()) - 1
    height, width = int(rows.max()) - row0 + 2, int(cols.max()) - col0 + 2
    grid = np.zeros((height, width), dtype=bool)
    grid[rows - row0, cols - col0] = True
    # Every cell within one cell of a reached street (closes the gaps between parallel
    # streets and around a street's own cells): a 3 x 3 dilation.
    dilated = grid.copy()
    dilated[1:, :] |= grid[:-1, :]
    dilated[:-1, :] |= grid[1:, :]
    vertical = dilated.copy()
    dilated[:, 1:] |= vertical[:, :-1]
    dilated[:, :-1] |= vertical[:, 1:]
    # One rectangle per horizontal run of cells (far fewer shapes than cells to merge).
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = dilated
    edges_of_runs = np.diff(padded, axis=1)
    run_rows, run_starts = np.nonzero(edges_of_runs == 1)
    _, run_ends = np.nonzero(edges_of_runs == -1)
    boxes = shapely.box(
        (col0 + run_starts) * step_lon,
        (row0 + run_rows) * step_lat,
        (col0 + run_ends) * step_lon,
        (row0 + run_rows + 1) * step_lat,
    )
    area = shapely.coverage_union_all(boxes)
    tolerance = 0.5 * min(step_lat, step_lon)
    shape = shapely.simplify(area, tolerance, preserve_topology=True)
    for _ in range(MAX_SIMPLIFY_ROUNDS):
        if shapely.get_num_coordinates(shape) <= MAX_VERTICES:
            break
        tolerance *= 2.0
        shape = shapely.simplify(area, tolerance, preserve_topology=True)
    # Simplifying keeps every island and hole (at least 4 points each): scattered reach
    # (a car's few minutes along main roads) can stay above the budget at any tolerance.
    shape = _within_vertex_budget(shape, MAX_VERTICES)
    # Simplifying each polygon apart can make neighbours overlap; snapping to a 1e-6 degree
    # grid (the precision written out) with GEOS' valid-output mode merges them again.
    shape = shapely.set_precision(shape, 1e-6)
    polygons = [p for p in shapely.get_parts(shape) if p.geom_type == "Polygon"]
    coordinates = [
        [
            [[round(x, 6), round(y, 6)] for x, y in ring.coords]
            for ring in (polygon.exterior, *polygon.interiors)
        ]
        for polygon in polygons
        if not polygon.is_empty
    ]
    geometry = {"type": "MultiPolygon", "coordinates": coordinates}
    return geometry, {
        "cellM": round(cell_m, 1),
        "vertices": int(shapely.get_num_coordinates(shape)),
    }


def _within_vertex_budget(shape: Any, budget: int) -> Any:
    """``shape`` with at most ``budget`` vertices: the largest polygons kept, holes filled first.

    A polygon that does not fit whole is kept without its holes when that fits
    (the area then covers a little more than was reached); polygons that still
    do not fit are dropped, smallest last to be considered (they matter least).
    """
    import shapely

    if shapely.get_num_coordinates(shape) <= budget:
        return shape
    polygons = [p for p in shapely.get_parts(shape) if p.geom_type == "Polygon"]
    polygons.sort(key=lambda p: p.area, reverse=True)
    kept = []
    left = budget
    for polygon in polygons:
        if shapely.get_num_coordinates(polygon) > left:
            polygon = shapely.Polygon(polygon.exterior)
        count = int(shapely.get_num_coordinates(polygon))
        if count <= left:
            kept.append(polygon)
            left -= count
    return shapely.MultiPolygon(kept)
