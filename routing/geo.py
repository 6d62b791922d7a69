"""Small geodesy helpers on numpy arrays: haversine distances and a local metric plane.

Everything here works on WGS84 degrees and metres, accepts scalars or arrays
(broadcasting like numpy) and is safe to use from any package.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), the radius used for every distance in Elster."""


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> np.ndarray:
    """Great-circle distance in metres between points given in degrees.

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float or array_like
        Coordinates in WGS84 degrees; arrays broadcast against each other.

    Returns
    -------
    ndarray of float64
        Distances in metres (a 0-d array for scalar input).
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def polyline_length_m(lats: ArrayLike, lons: ArrayLike) -> float:
    """Length in metres of a polyline given by its vertices (sum of haversine legs)."""
    lats = np.asarray(lats, dtype=np.float64)
    lons = np.asarray(lons, dtype=np.float64)
    if lats.shape[0] < 2:
        return 0.0
    return float(haversine_m(lats[:-1], lons[:-1], lats[1:], lons[1:]).sum())


class LocalPlane:
    """An equirectangular projection to metres around a reference latitude.

    Over a city (tens of kilometres) the scale error is well under 1 %, which
    is plenty for nearest-neighbour searches; exact distances are then
    recomputed with :func:`haversine_m`. The mapping is affine, so linear
    interpolation in the plane equals linear interpolation in degrees.

    Parameters
    ----------
    ref_lat : float
        Latitude (degrees) where the east-west scale is exact.
    """

    def __init__(self, ref_lat: float) -> None:
        self.ref_lat = float(ref_lat)
        self._ky = np.pi / 180.0 * EARTH_RADIUS_M
        self._kx = self._ky * np.cos(np.radians(self.ref_lat))

    def to_xy(self, lat: ArrayLike, lon: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Project degrees to plane metres ``(x east, y north)``."""
        return (
            np.asarray(lon, dtype=np.float64) * self._kx,
            np.asarray(lat, dtype=np.float64) * self._ky,
        )

    def to_latlon(self, x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`to_xy`: plane metres to ``(lat, lon)`` degrees."""
        lat = np.asarray(y, dtype=np.float64) / self._ky
        lon = np.asarray(x, dtype=np.float64) / self._kx
        return lat, lon


def project_to_segments(
    px: ArrayLike, py: ArrayLike, ax: ArrayLike, ay: ArrayLike, bx: ArrayLike, by: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Project points onto segments ``a-b`` in a plane.

    Returns
    -------
    t : ndarray
        Position of the closest point as a fraction of the segment, in [0, 1].
    dist : ndarray
        Planar distance from the point to that closest point.
    """
    ax = np.asarray(ax, dtype=np.float64)
    ay = np.asarray(ay, dtype=np.float64)
    dx = np.asarray(bx, dtype=np.float64) - ax
    dy = np.asarray(by, dtype=np.float64) - ay
    wx = np.asarray(px, dtype=np.float64) - ax
    wy = np.asarray(py, dtype=np.float64) - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(len2 > 0.0, (wx * dx + wy * dy) / len2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return t, np.hypot(wx - t * dx, wy - t * dy)


def valid_latlon(lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
    """Boolean mask of coordinates that are finite and within WGS84 ranges."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    return np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
