"""Encoded polylines (Google's algorithm) with an explicit precision, as MOTIS/OTP send them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def encode(
    lats: Sequence[float] | np.ndarray, lons: Sequence[float] | np.ndarray, precision: int = 6
) -> str:
    """Encode a (lat, lon) polyline; ``precision`` decimal digits (6 = about 0.1 m).

    Parameters
    ----------
    lats, lons : array_like of float
        Vertices in WGS84 degrees.
    precision : int
        Decimal digits kept; the decoder must use the same value.
    """
    factor = 10.0**precision
    lat_i = np.round(np.asarray(lats, dtype=np.float64) * factor).astype(np.int64)
    lon_i = np.round(np.asarray(lons, dtype=np.float64) * factor).astype(np.int64)
    if lat_i.size == 0:
        return ""
    pairs = np.empty(lat_i.size * 2, dtype=np.int64)
    pairs[0::2] = np.diff(lat_i, prepend=0)
    pairs[1::2] = np.diff(lon_i, prepend=0)
    out: list[str] = []
    for value in pairs.tolist():
        value = ~(value << 1) if value < 0 else value << 1
        while value >= 0x20:
            out.append(chr((0x20 | (value & 0x1F)) + 63))
            value >>= 5
        out.append(chr(value + 63))
    return "".join(out)


def decode(text: str, precision: int = 6) -> list[tuple[float, float]]:
    """Decode an encoded polyline into ``(lat, lon)`` tuples (the slow, obvious way)."""
    factor = 10.0**precision
    coords: list[tuple[float, float]] = []
    index = lat = lon = 0
    while index < len(text):
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                byte = ord(text[index]) - 63
                index += 1
                result |= (byte & 0x1F) << shift
                shift += 5
                if byte < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        coords.append((lat / factor, lon / factor))
    return coords
