"""Request checks shared by the routers: points inside the region, times in a sane range."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from api.state import RegionState
from routing.errors import RequestError


def check_in_region(state: RegionState, lat: float, lon: float, *, name: str) -> None:
    """Raise :class:`RequestError` when a point lies outside the region's bounding box."""
    if not state.region.contains(lat, lon):
        min_lon, min_lat, max_lon, max_lat = state.region.bbox
        hint = ""
        if state.region.contains(lon, lat):
            hint = " (latitude and longitude look swapped)"
        raise RequestError(
            f"{name} ({lat:.5f}, {lon:.5f}) is outside region {state.region.name}{hint}; "
            f"choose a point with latitude {min_lat}..{max_lat} and longitude {min_lon}..{max_lon}"
        )


#: A "lat,lon" query value, e.g. ``49.4094,8.6937``.
PLACE_PATTERN = r"^\s*-?\d{1,3}(\.\d+)?\s*,\s*-?\d{1,3}(\.\d+)?\s*$"


def parse_place(text: str, *, name: str) -> tuple[float, float]:
    """Parse ``"lat,lon"`` with a message that shows the expected form."""
    parts = text.replace(" ", "").split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise RequestError(
            f"{name}={text!r} is not 'lat,lon' (for example 49.4094,8.6937)"
        ) from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or lat != lat or lon != lon:
        raise RequestError(
            f"{name}={text!r}: latitude must be within ±90 and longitude within ±180 "
            "(the order is lat,lon)"
        )
    return lat, lon


def local_time(
    state: RegionState, value: datetime | None, *, default: datetime | None = None
) -> datetime:
    """Return ``value`` as an aware datetime in the region's zone (naive = local time)."""
    zone = ZoneInfo(state.region.timezone)
    if value is None:
        value = default or datetime.now(zone)
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


def check_time_window(
    value: datetime, *, earliest: datetime, latest: datetime, name: str, why: str
) -> None:
    """Raise :class:`RequestError` when ``value`` lies outside ``[earliest, latest]``."""
    if not (earliest <= value <= latest):
        raise RequestError(
            f"{name} {value.isoformat()} is outside {earliest.isoformat()} .. "
            f"{latest.isoformat()} ({why}); choose a time in that range"
        )


def shuttle_window(state: RegionState) -> tuple[datetime, datetime]:
    """Bookable pickup times: from 15 minutes ago (clock skew) up to 7 days ahead."""
    now = local_time(state, None)
    return now - timedelta(minutes=15), now + timedelta(days=7)
