"""Encoded polylines (Google's algorithm) with a chosen precision; MOTIS/OTP use precision 6."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numba import njit
from numpy.typing import NDArray

from routing.arrays import Int64Array


def encode_polyline(lats: Iterable[float], lons: Iterable[float], precision: int = 6) -> str:
    """Encode (lat, lon) points as a polyline string with ``precision`` decimal digits.

    Parameters
    ----------
    lats, lons : iterable of float
        WGS84 degrees, the same number of each.
    precision : int
        Decimal digits kept (5 for Google's format, 6 for OSRM's ``polyline6``, MOTIS, OTP).

    Returns
    -------
    str
        The encoded points (ASCII).

    Raises
    ------
    ValueError
        ``lats`` and ``lons`` differ in length.
    """
    lat_a = np.asarray(lats if isinstance(lats, np.ndarray) else list(lats), dtype=np.float64)
    lon_a = np.asarray(lons if isinstance(lons, np.ndarray) else list(lons), dtype=np.float64)
    if lat_a.shape != lon_a.shape:
        raise ValueError(f"{lat_a.shape[0]} latitudes but {lon_a.shape[0]} longitudes")
    if lat_a.ndim == 1 and 0 <= precision <= 15:
        # Scaling and rounding inside the kernel: one call on the route answer's hot path
        # instead of five array operations. 10**precision is exact in float64 up to 15.
        out = _encode_scaled_kernel(lat_a, lon_a, float(10**precision))
        if out is not None:
            encoded: str = out.tobytes().decode("ascii")
            return encoded
    # Other shapes, non-finite or huge values: the same integers by numpy's rules.
    factor = 10**precision
    lat_i = np.round(lat_a * factor).astype(np.int64)
    lon_i = np.round(lon_a * factor).astype(np.int64)
    text: str = _encode_kernel(lat_i, lon_i).tobytes().decode("ascii")
    return text


#: Largest scaled coordinate the kernel rounds itself (far inside int64, exact in float64).
_MAX_SCALED = 2.0**52


@njit(cache=True, nogil=True)
def _encode_scaled_kernel(
    lat: NDArray[np.float64], lon: NDArray[np.float64], factor: float
) -> NDArray[np.uint8] | None:
    """The encoded bytes of ``round(lat * factor)``, ``round(lon * factor)``, or None.

    ``np.rint`` rounds half to even, as ``np.round`` does; None (the caller then
    uses numpy) when a scaled value is not finite or beyond :data:`_MAX_SCALED`.
    """
    n = lat.shape[0]
    lat_i = np.empty(n, dtype=np.int64)
    lon_i = np.empty(n, dtype=np.int64)
    for i in range(n):
        a = lat[i] * factor
        b = lon[i] * factor
        if not (abs(a) <= _MAX_SCALED and abs(b) <= _MAX_SCALED):  # also NaN
            return None
        lat_i[i] = np.int64(np.rint(a))
        lon_i[i] = np.int64(np.rint(b))
    return _encode_kernel(lat_i, lon_i)


@njit(cache=True, nogil=True)
def _encode_kernel(lat_i: Int64Array, lon_i: Int64Array) -> NDArray[np.uint8]:
    """The encoded characters (as bytes) of integer coordinates: deltas, zigzag, 5-bit groups."""
    out = np.empty(lat_i.shape[0] * 2 * 13, dtype=np.uint8)  # 13 groups hold any int64
    k = 0
    prev_lat = 0
    prev_lon = 0
    for i in range(lat_i.shape[0]):
        for j in range(2):
            value = lat_i[i] - prev_lat if j == 0 else lon_i[i] - prev_lon
            value = ~(value << 1) if value < 0 else value << 1
            while value >= 0x20:
                out[k] = (0x20 | (value & 0x1F)) + 63
                k += 1
                value >>= 5
            out[k] = value + 63
            k += 1
        prev_lat = lat_i[i]
        prev_lon = lon_i[i]
    return out[:k]


def decode_polyline(text: str, precision: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Decode a polyline string into (lats, lons)."""
    values: list[int] = []
    shift = result = 0
    for char in text:
        byte = ord(char) - 63
        result |= (byte & 0x1F) << shift
        shift += 5
        if byte < 0x20:
            values.append(~(result >> 1) if result & 1 else result >> 1)
            shift = result = 0
    deltas = np.asarray(values, dtype=np.int64).reshape(-1, 2)
    coords = np.cumsum(deltas, axis=0) / 10**precision
    return coords[:, 0], coords[:, 1]
