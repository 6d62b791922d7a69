"""Walking and cycling estimates, and virtual stops that keep every resident within a walk.

Walks are straight lines times a circuity factor (street networks make a walk
about 1.2-1.4 times the crow-fly distance in European cities; Boeing 2017 finds
~1.1-1.3 for street-network circuity). The same factor is used for generating
stops and for checking the walks, so the walking-distance promise holds exactly
for every point that was covered.

Virtual stops are placed on the shuttle network by greedy set cover: every
resident location of the zone (the demand model's walk-graph nodes inside the
area: where requests start and end) must lie within ``walk_m`` of a stop.
Walk nodes with no shuttle street at all within ``walk_m`` (footpaths through
parks and cemeteries) cannot be covered; up to ``max_uncovered_share`` of
them are left out with a warning, and a rider starting there is not served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from routing.errors import DataError
from routing.geo import LocalPlane, haversine_m

log = logging.getLogger(__name__)

#: Default walking speed, m/s (4.7 km/h; HBS/Weidmann 1993 ~1.34 m/s for adults).
WALK_MPS = 1.3
#: Default cycling speed, m/s (15 km/h, typical urban everyday cycling).
BIKE_MPS = 15 / 3.6


def walk_metres(lat1, lon1, lat2, lon2, circuity: float) -> np.ndarray:
    """Walking distance estimate: crow-fly metres times ``circuity``."""
    return haversine_m(lat1, lon1, lat2, lon2) * circuity


@dataclass(frozen=True)
class StopSet:
    """Boarding points on the shuttle network.

    Attributes
    ----------
    lat, lon : ndarray
        Stop coordinates (on the shuttle network).
    loc : ndarray of int64
        Travel-model location of each stop.
    walk_m : float
        The promised longest walk.
    circuity : float
        Walk distance = crow-fly x circuity.
    """

    lat: np.ndarray
    lon: np.ndarray
    loc: np.ndarray
    walk_m: float
    circuity: float

    @property
    def n(self) -> int:
        """Number of stops."""
        return int(self.lat.size)

    def nearest(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest stop of each point and the walk to it (metres)."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        plane = LocalPlane(float(self.lat.mean()))
        sx, sy = plane.to_xy(self.lat, self.lon)
        px, py = plane.to_xy(lat, lon)
        _, idx = cKDTree(np.column_stack((sx, sy))).query(np.column_stack((px, py)))
        idx = np.asarray(idx, dtype=np.int64)
        return idx, walk_metres(lat, lon, self.lat[idx], self.lon[idx], self.circuity)


def virtual_stops(
    travel,
    resident_lat: np.ndarray,
    resident_lon: np.ndarray,
    *,
    walk_m: float,
    circuity: float,
    max_uncovered_share: float = 0.05,
    area=None,
) -> StopSet:
    """Stops on ``travel``'s network so that every resident point is within ``walk_m``.

    Candidates are the reachable network locations within the walk of a
    resident point (a stop is on a street a shuttle can reach); greedy set cover picks the candidate
    covering the most uncovered points until all are covered (ties: lowest
    index, so the result is deterministic).

    Raises
    ------
    DataError
        No resident points (an empty zone), or a point with no street within
        ``walk_m`` (the message says how far the nearest one is).
    """
    lat = np.asarray(resident_lat, dtype=float)
    lon = np.asarray(resident_lon, dtype=float)
    if lat.size == 0:
        raise DataError(
            "[area]: the zone holds no resident locations; draw the polygon over a "
            "residential district"
        )
    # candidates: every reachable network location near a resident point
    nodes = np.asarray(getattr(travel, "usable", np.unique(travel.locate_many(lat, lon))))
    nodes = nodes[nodes >= 0]
    if nodes.size == 0:
        raise DataError("[area]: no street of the shuttle network lies in the zone")
    n_lat = np.array([travel.coords(int(c))[0] for c in nodes]) if nodes.size < 5000 else None
    if n_lat is None:  # a road travel model: read the coordinate arrays directly
        n_lat, n_lon = travel.graph.lat[nodes], travel.graph.lon[nodes]
    else:
        n_lon = np.array([travel.coords(int(c))[1] for c in nodes])
    plane0 = LocalPlane(float(lat.mean()))
    nx, ny = plane0.to_xy(n_lat, n_lon)
    rx, ry = plane0.to_xy(lat, lon)
    near = cKDTree(np.column_stack((rx, ry))).query(
        np.column_stack((nx, ny)), distance_upper_bound=walk_m / circuity
    )[0]
    keep = np.isfinite(near)
    if area is not None:  # stops only inside the zone (shapely geometry in lon, lat)
        from shapely import contains_xy

        keep &= contains_xy(area, n_lon, n_lat)
    if not keep.any():
        raise DataError("[area]: no street of the shuttle network lies in the zone")
    cand = nodes[keep].astype(np.int64)
    c_lat, c_lon = n_lat[keep], n_lon[keep]
    plane = LocalPlane(float(lat.mean()))
    px, py = plane.to_xy(lat, lon)
    cx, cy = plane.to_xy(c_lat, c_lon)
    radius = walk_m / circuity
    # slightly inside the radius so float noise never breaks the promise
    covers = cKDTree(np.column_stack((cx, cy))).query_ball_point(
        np.column_stack((px, py)), r=radius * (1 - 1e-6)
    )
    cover_sets: list[list[int]] = [[] for _ in range(cand.size)]
    for p, cs in enumerate(covers):
        for c in cs:
            cover_sets[c].append(p)
    # the haversine check is the promise: drop planar pairs that fail it
    for c in range(cand.size):
        pts = np.asarray(cover_sets[c], dtype=np.int64)
        if pts.size:
            ok = walk_metres(lat[pts], lon[pts], c_lat[c], c_lon[c], circuity) <= walk_m
            cover_sets[c] = pts[ok].tolist()
    reachable = np.zeros(lat.size, dtype=bool)
    for points in cover_sets:
        reachable[points] = True
    uncovered = int((~reachable).sum())
    if uncovered > max_uncovered_share * lat.size:
        bad = int(np.flatnonzero(~reachable)[0])
        raise DataError(
            f"[stops] walk_m = {walk_m:g}: {uncovered} of {lat.size} resident points (e.g. "
            f"({lat[bad]:.5f}, {lon[bad]:.5f})) have no shuttle street within that walk; raise "
            f"walk_m or shrink the zone"
        )
    if uncovered:
        # footpaths in parks and cemeteries: no home there, no street to put a stop on
        log.warning(
            "virtual stops: %d of %d walk locations have no shuttle street within %.0f m "
            "(parks, footpaths); they are left out of the walking promise",
            uncovered,
            lat.size,
            walk_m,
        )
    covered = ~reachable
    chosen: list[int] = []
    gain = np.array([len(s) for s in cover_sets])
    sets = [np.asarray(s, dtype=np.int64) for s in cover_sets]
    while not covered.all():
        c = int(np.argmax(gain))
        chosen.append(c)
        covered[sets[c]] = True
        gain = np.array([int((~covered[s]).sum()) if s.size else 0 for s in sets])
    chosen_arr = np.asarray(sorted(chosen), dtype=np.int64)
    return StopSet(
        lat=c_lat[chosen_arr],
        lon=c_lon[chosen_arr],
        loc=cand[chosen_arr].astype(np.int64),
        walk_m=float(walk_m),
        circuity=float(circuity),
    )
