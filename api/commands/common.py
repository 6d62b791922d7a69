"""Option parsing shared by the CLI verbs."""

from __future__ import annotations

from routing.errors import RequestError


def parse_latlon(text: str, *, option: str = "--from") -> tuple[float, float]:
    """Parse ``"LAT,LON"`` into floats, with an error that shows the expected form."""
    parts = text.replace(" ", "").split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise RequestError(
            f"{option} {text!r} is not LAT,LON (for example 49.4094,8.6937)"
        ) from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise RequestError(
            f"{option} {text!r}: latitude must be within ±90 and longitude within ±180 "
            "(did you swap them? the order is LAT,LON)"
        )
    return lat, lon
