"""Request checks shared by the routers: points inside the region, times in a sane range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
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


def attach_zone(value: datetime, zone: str | ZoneInfo, *, name: str) -> datetime:
    """Return ``value`` aware; a naive ``value`` is a wall-clock time in ``zone``.

    A wall-clock time that does not exist (it falls into the hour skipped
    when clocks go forward, e.g. 2026-03-29T02:30 in Europe/Berlin) is refused
    rather than silently moved. A time that exists twice (the hour repeated
    when clocks go back) is the first of the two (summer time); send an
    explicit UTC offset to choose the other.

    Raises
    ------
    RequestError
        The local time does not exist; the message names the field and the
        instant the client probably means.
    """
    if value.tzinfo is not None:
        return value
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    aware = value.replace(tzinfo=tz)
    round_trip = aware.astimezone(UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != value:
        raise RequestError(
            f"{name} {value.isoformat()} does not exist in {tz.key}: the clocks skip that "
            f"hour (daylight saving time starts); give a time outside the gap, e.g. "
            f"{round_trip.isoformat()}, or an explicit UTC offset"
        )
    return aware


def parse_local_instant(value: Any, zone: str, *, name: str) -> Any:
    """Check an ISO 8601 string or unix seconds the way :func:`attach_zone` checks a datetime.

    Numbers and strings with an offset pass unchanged; an ISO string without
    offset must be a local time that exists. Anything unparsable also passes
    unchanged (the core names it).
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        float(text)
        return value
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return value
    attach_zone(when, zone, name=name)
    return value


def local_time(
    state: RegionState,
    value: datetime | None,
    *,
    default: datetime | None = None,
    name: str = "time",
) -> datetime:
    """Return ``value`` as an aware datetime in the region's zone (naive = local time).

    Raises
    ------
    RequestError
        A naive ``value`` names a local time that does not exist (DST gap).
    """
    zone = ZoneInfo(state.region.timezone)
    if value is None:
        value = default or datetime.now(zone)
    return attach_zone(value, zone, name=name).astimezone(zone)


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
    now = datetime.fromtimestamp(state.clock(), ZoneInfo(state.region.timezone))
    return now - timedelta(minutes=15), now + timedelta(days=7)
