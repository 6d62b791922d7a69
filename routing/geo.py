"""Small geodesy helpers: haversine distances and a local metric plane.

This is the one place that knows the Earth's radius and the haversine
formula. It comes in three variants with the same formula and the same
results, for the three ways the code calls it:

* :func:`haversine_m`: numpy, vectorised (scalars or broadcasting arrays);
* :func:`haversine_scalar_m`: one pair of Python floats (no numpy overhead
  on per-request paths such as snapping one coordinate);
* :func:`haversine_kernel`: the same for one pair inside ``@njit`` kernels.

Everything here works on WGS84 degrees and metres and is safe to use from
any package.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), the radius used for every distance in Elster."""

M_PER_DEG_LAT = math.pi / 180.0 * EARTH_RADIUS_M
"""Metres per degree of latitude (and of longitude at the equator) on that sphere."""


def haversine_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
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
    out: NDArray[np.float64] = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


def haversine_scalar_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """:func:`haversine_m` for one pair of Python floats (same formula, no numpy).

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float
        Coordinates in WGS84 degrees.

    Returns
    -------
    float
        Distance in metres.
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    s1 = math.sin((p2 - p1) / 2.0)
    s2 = math.sin(math.radians(lon2 - lon1) / 2.0)
    a = s1 * s1 + math.cos(p1) * math.cos(p2) * s2 * s2
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


@njit(cache=True, nogil=True)
def haversine_kernel(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """:func:`haversine_scalar_m` compiled for use inside other ``@njit`` kernels.

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float
        Coordinates in WGS84 degrees.

    Returns
    -------
    float
        Distance in metres.
    """
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    s1 = math.sin((p2 - p1) / 2.0)
    s2 = math.sin(math.radians(lon2 - lon1) / 2.0)
    a = s1 * s1 + math.cos(p1) * math.cos(p2) * s2 * s2
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


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
        self._ky = M_PER_DEG_LAT
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


def valid_latlon(lat: ArrayLike, lon: ArrayLike) -> NDArray[np.bool_]:
    """Boolean mask of coordinates that are finite and within WGS84 ranges.

    Parameters
    ----------
    lat, lon : float or array_like
        Coordinates in degrees.

    Returns
    -------
    ndarray of bool
        True where both are finite and within range.
    """
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    ok: NDArray[np.bool_] = (
        np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90.0) & (np.abs(lo) <= 180.0)
    )
    return ok
