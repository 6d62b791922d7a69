"""Zones: grid cells clipped to the service area, with residents and attractors.

A zone is one square cell of the population grid (1 km for Zensus) cut to
the service area. It carries the residents living inside the area (the
cell's population scaled by the share of its weight-grid cells or of its
area that lies inside), the attractors per category inside it, a centroid
for zone-to-zone travel times, and sub-cells for drawing request points:
the weight-grid cells (e.g. 100 m cells with residential buildings) where a
weight grid exists, else the whole cell. Cells without residents but with
attractors inside the area (industrial estates, a university campus) become
zones too, so that trips can go there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from demand.area import ServiceArea
from demand.attractors import Attractors
from demand.config import CATEGORIES, POPULATION
from demand.zensus import PopulationGrid, WeightGrid, laea_to_wgs84, wgs84_to_laea
from routing.errors import DataError

log = logging.getLogger(__name__)

_KEY_BASE = np.int64(10_000_000)


@dataclass(frozen=True)
class Zones:
    """Zones of the demand model (parallel arrays, one entry per zone).

    Attributes
    ----------
    cell_id : ndarray of str
        Grid cell id.
    x, y : ndarray of float64
        Cell centre in EPSG:3035 metres.
    lat, lon : ndarray of float64
        Zone centroid (residents' weighted centre where known) inside the area.
    population : ndarray of float64
        Residents inside the service area.
    inside_share : ndarray of float64
        Share of the cell's area inside the service area.
    attractors : ndarray of float64, shape (n, len(CATEGORIES))
        Number of attractors of each category in the zone.
    geometry : ndarray of shapely Polygon/MultiPolygon
        The clipped cell in WGS84 ``(lon, lat)``.
    cell_size_m : float
        Side of a grid cell.
    sub_zone : ndarray of int32
        Zone of each sampling sub-cell, sorted by zone.
    sub_x, sub_y, sub_half : ndarray of float64
        Sub-cell centre and half side (EPSG:3035 metres).
    sub_weight : ndarray of float64
        Relative weight of a sub-cell inside its zone.
    sub_first : ndarray of int64, shape (n + 1,)
        Sub-cells of zone ``z`` are ``sub_first[z]:sub_first[z + 1]``.
    """

    cell_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    population: np.ndarray
    inside_share: np.ndarray
    attractors: np.ndarray
    geometry: np.ndarray
    cell_size_m: float
    sub_zone: np.ndarray
    sub_x: np.ndarray
    sub_y: np.ndarray
    sub_half: np.ndarray
    sub_weight: np.ndarray
    sub_first: np.ndarray

    @property
    def size(self) -> int:
        """Number of zones."""
        return int(self.x.shape[0])

    def weighted(
        self, weights: Mapping[str, float], attractor_weights: Mapping[str, float]
    ) -> np.ndarray:
        """Combine residents and attractors into one value per zone.

        Parameters
        ----------
        weights : mapping
            Weight of ``"population"`` and of each attractor category.
        attractor_weights : mapping
            Attraction of one attractor of each category (config ``[attractors.weights]``).

        Returns
        -------
        ndarray of float64
            ``w_pop * population_share + sum_c w_c * attraction_share_c`` where
            both terms are normalised to sum to 1 over the zones, so that the
            weights compare residents with attractors on an equal footing. A
            term without any mass contributes nothing.
        """
        out = np.zeros(self.size)
        pop_total = self.population.sum()
        if weights.get(POPULATION, 0.0) > 0 and pop_total > 0:
            out += weights[POPULATION] * self.population / pop_total
        mass = np.zeros(self.size)
        share = 0.0
        for c, name in enumerate(CATEGORIES):
            w = weights.get(name, 0.0)
            if w > 0:
                mass += w * attractor_weights.get(name, 1.0) * self.attractors[:, c]
                share += w
        if mass.sum() > 0:
            out += share * mass / mass.sum()
        return out


def build_zones(
    grid: PopulationGrid,
    area: ServiceArea,
    *,
    attractors: Attractors | None = None,
    weight_grid: WeightGrid | None = None,
    min_inside_share: float = 0.01,
) -> Zones:
    """Cut grid cells to the service area and collect residents and attractors.

    Parameters
    ----------
    grid : PopulationGrid
        Residents per cell.
    area : ServiceArea
        Cells are clipped to it; cells with less than ``min_inside_share`` of
        their area inside are dropped.
    attractors : Attractors, optional
        OSM attractors; those outside the area are ignored.
    weight_grid : WeightGrid, optional
        Finer weights spreading residents inside a cell.
    min_inside_share : float
        See ``area``.

    Raises
    ------
    DataError
        No cell lies in the service area, or no residents live there.
    """
    size = grid.cell_size_m
    att = attractors or Attractors.empty()
    ax, ay = wgs84_to_laea(att.lat, att.lon) if att.size else (np.zeros(0), np.zeros(0))
    att_in = area.contains(att.lat, att.lon) if att.size else np.zeros(0, dtype=bool)

    # Cells: the populated grid plus empty cells holding attractors inside the area.
    grid_keys = _cell_key(grid.x, grid.y, size)
    att_keys = _cell_key(ax[att_in], ay[att_in], size)
    extra = np.setdiff1d(np.unique(att_keys), grid_keys)
    keys = np.concatenate([grid_keys, extra])
    cx = np.concatenate([grid.x, (extra // _KEY_BASE + 0.5) * size])
    cy = np.concatenate([grid.y, (extra % _KEY_BASE + 0.5) * size])
    ids = np.concatenate(
        [
            grid.cell_id.astype(object),
            [f"{int(size)}mN{int(k % _KEY_BASE)}E{int(k // _KEY_BASE)}" for k in extra],
        ]
    ).astype(object)
    pop = np.concatenate([grid.population, np.zeros(extra.size)])

    cells = _cell_polygons(cx, cy, size)
    clipped = shapely.intersection(cells, area.geometry)
    cell_area = shapely.area(cells)
    share = np.where(cell_area > 0, shapely.area(clipped) / cell_area, 0.0)
    # Residents inside the area: by the weight grid where the cell has weights.
    pop_in = pop * share
    sub = _SubCells.whole(cx, cy, size)
    if weight_grid is not None:
        sub, pop_in = _refine(weight_grid, keys, cx, cy, size, pop, pop_in, area)

    # Attractors per cell (before dropping cells: a cell may live by its attractors alone).
    cell_counts = np.zeros((keys.size, len(CATEGORIES)))
    if att.size:
        cell_of_att = _lookup(keys, _cell_key(ax, ay, size))
        ok = att_in & (cell_of_att >= 0)
        np.add.at(cell_counts, (cell_of_att[ok], att.category[ok].astype(np.int64)), 1.0)
    overlaps = share >= max(min_inside_share, 1e-12)
    if not overlaps.any():
        raise DataError(
            f"no grid cell of {grid.source} lies in the service area {area.name} "
            f"(area bounds {area.bounds}); the area or the grid is for another place"
        )
    # A cell whose residents all live outside the area and without attractors is no zone.
    keep = overlaps & ((pop_in > 0) | (cell_counts.sum(axis=1) > 0))
    index = np.flatnonzero(keep)
    remap = np.full(keys.size, -1, dtype=np.int64)
    remap[index] = np.arange(index.size)
    counts = cell_counts[index]

    zones_pop = pop_in[index]
    if index.size == 0 or zones_pop.sum() <= 0:
        raise DataError(
            f"no residents live in the service area {area.name} according to {grid.source} "
            f"({int(overlaps.sum())} cells overlap it, all with zero population); the demand model "
            f"needs a populated area"
        )
    sub_zone = remap[sub.cell]
    good = sub_zone >= 0
    # Sub-cells whose centre is outside the area never yield a point: drop them,
    # unless that leaves a zone without any (then keep its whole cell).
    sub_lat, sub_lon = laea_to_wgs84(sub.x, sub.y)
    inside = area.contains(sub_lat, sub_lon)
    has_inside = np.zeros(index.size, dtype=bool)
    has_inside[sub_zone[good & inside]] = True
    good &= inside | ~has_inside[np.maximum(sub_zone, 0)]
    order = np.argsort(sub_zone[good], kind="stable")
    sz = sub_zone[good][order].astype(np.int32)
    sx, sy = sub.x[good][order], sub.y[good][order]
    sh, sw = sub.half[good][order], sub.weight[good][order]
    first = np.zeros(index.size + 1, dtype=np.int64)
    np.add.at(first, sz.astype(np.int64) + 1, 1)
    first = np.cumsum(first)

    lat, lon = _centroids(clipped[index], sz, sx, sy, sw, first, area)
    zones = Zones(
        cell_id=ids[index],
        x=cx[index],
        y=cy[index],
        lat=lat,
        lon=lon,
        population=zones_pop,
        inside_share=share[index],
        attractors=counts,
        geometry=clipped[index],
        cell_size_m=size,
        sub_zone=sz,
        sub_x=sx,
        sub_y=sy,
        sub_half=sh,
        sub_weight=sw,
        sub_first=first,
    )
    log.info(
        "zones: %d cells in %s (%d without residents), %d residents, %d attractors, "
        "%d sampling sub-cells",
        zones.size,
        area.name,
        int((zones_pop <= 0).sum()),
        round(zones_pop.sum()),
        int(counts.sum()),
        sz.size,
    )
    return zones


@dataclass(frozen=True)
class _SubCells:
    cell: np.ndarray  # index into the cell arrays
    x: np.ndarray
    y: np.ndarray
    half: np.ndarray
    weight: np.ndarray

    @staticmethod
    def whole(cx: np.ndarray, cy: np.ndarray, size: float) -> _SubCells:
        n = cx.size
        return _SubCells(np.arange(n), cx.copy(), cy.copy(), np.full(n, size / 2.0), np.ones(n))


def _refine(
    wg: WeightGrid,
    keys: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    size: float,
    pop: np.ndarray,
    pop_in: np.ndarray,
    area: ServiceArea,
) -> tuple[_SubCells, np.ndarray]:
    """Sub-cells from the weight grid; residents inside the area by weight share."""
    if wg.cell_size_m >= size:
        raise DataError(
            f"{wg.source}: weight grid cells ({wg.cell_size_m:g} m) are not finer than the "
            f"population cells ({size:g} m)"
        )
    cell = _lookup(keys, _cell_key(wg.x, wg.y, size))
    use = (cell >= 0) & (wg.weight > 0)
    cell, x, y, w = cell[use], wg.x[use], wg.y[use], wg.weight[use]
    lat, lon = laea_to_wgs84(x, y)
    inside = area.contains(lat, lon)
    total = np.bincount(cell, weights=w, minlength=keys.size)
    total_in = np.bincount(cell, weights=w * inside, minlength=keys.size)
    has = total > 0
    pop_in = pop_in.copy()
    pop_in[has] = pop[has] * total_in[has] / total[has]
    whole = ~has
    n_whole = int(whole.sum())
    sub = _SubCells(
        cell=np.concatenate([cell, np.flatnonzero(whole)]),
        x=np.concatenate([x, cx[whole]]),
        y=np.concatenate([y, cy[whole]]),
        half=np.concatenate([np.full(x.size, wg.cell_size_m / 2.0), np.full(n_whole, size / 2)]),
        weight=np.concatenate([w, np.ones(n_whole)]),
    )
    log.info(
        "weight grid %s: %d sub-cells in %d cells; %d cells without weights",
        wg.source.name,
        x.size,
        int(has.sum()),
        n_whole,
    )
    return sub, pop_in


def _cell_key(x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    ix = np.floor(np.asarray(x) / size).astype(np.int64)
    iy = np.floor(np.asarray(y) / size).astype(np.int64)
    return ix * _KEY_BASE + iy


def _lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each query key in ``keys`` (unsorted, unique), or -1."""
    order = np.argsort(keys)
    pos = np.searchsorted(keys[order], query)
    pos = np.minimum(pos, keys.size - 1)
    found = keys[order][pos] == query
    return np.where(found, order[pos], -1)


def _cell_polygons(cx: np.ndarray, cy: np.ndarray, size: float) -> np.ndarray:
    """Square cells as WGS84 polygons (edges densified: LAEA squares are curved in lon/lat)."""
    half = size / 2.0
    t = np.linspace(-half, half, 5)[:-1]
    ring_dx = np.concatenate([t, np.full(4, half), -t, np.full(4, -half)])
    ring_dy = np.concatenate([np.full(4, -half), t, np.full(4, half), -t])
    xs = cx[:, None] + ring_dx[None, :]
    ys = cy[:, None] + ring_dy[None, :]
    lat, lon = laea_to_wgs84(xs.ravel(), ys.ravel())
    lat = lat.reshape(xs.shape)
    lon = lon.reshape(xs.shape)
    return np.array(
        [Polygon(np.column_stack([lon[i], lat[i]])) for i in range(cx.size)], dtype=object
    )


def _centroids(
    geoms: np.ndarray,
    sz: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    sw: np.ndarray,
    first: np.ndarray,
    area: ServiceArea,
) -> tuple[np.ndarray, np.ndarray]:
    """Residents' weighted centre of each zone, or a point of its clipped cell."""
    n = geoms.size
    wsum = np.bincount(sz, weights=sw, minlength=n)
    mx = np.bincount(sz, weights=sw * sx, minlength=n) / np.maximum(wsum, 1e-300)
    my = np.bincount(sz, weights=sw * sy, minlength=n) / np.maximum(wsum, 1e-300)
    lat, lon = laea_to_wgs84(mx, my)
    cent = shapely.centroid(geoms)
    rep = shapely.point_on_surface(geoms)
    inside_geom = shapely.contains_xy(geoms, lon, lat)
    clon = np.where(shapely.contains(geoms, cent), shapely.get_x(cent), shapely.get_x(rep))
    clat = np.where(shapely.contains(geoms, cent), shapely.get_y(cent), shapely.get_y(rep))
    use_weighted = (first[1:] - first[:-1] > 0) & inside_geom
    return np.where(use_weighted, lat, clat), np.where(use_weighted, lon, clon)
