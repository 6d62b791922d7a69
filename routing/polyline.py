"""Encoded polylines (Google's algorithm) with a chosen precision; MOTIS/OTP use precision 6."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _encode_value(value: int, out: list[str]) -> None:
    value = ~(value << 1) if value < 0 else value << 1
    while value >= 0x20:
        out.append(chr((0x20 | (value & 0x1F)) + 63))
        value >>= 5
    out.append(chr(value + 63))


def encode_polyline(lats: Iterable[float], lons: Iterable[float], precision: int = 6) -> str:
    """Encode (lat, lon) points as a polyline string with ``precision`` decimal digits."""
    factor = 10**precision
    lat_i = np.round(np.asarray(list(lats), dtype=np.float64) * factor).astype(np.int64)
    lon_i = np.round(np.asarray(list(lons), dtype=np.float64) * factor).astype(np.int64)
    out: list[str] = []
    prev_lat = prev_lon = 0
    for la, lo in zip(lat_i.tolist(), lon_i.tolist(), strict=True):
        _encode_value(la - prev_lat, out)
        _encode_value(lo - prev_lon, out)
        prev_lat, prev_lon = la, lo
    return "".join(out)


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
