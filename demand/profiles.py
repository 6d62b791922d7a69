"""Time of day: hourly request shares of a service day and its purpose mix.

A day is cut into its real hours in the region's timezone (23 or 25 on the
days clocks change); each hour gets the configured share of its local
wall-clock hour. A window (e.g. 06:00-10:00) keeps the covered parts of the
hours, with their shares cut in proportion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from demand.config import DemandConfig
from routing.errors import RequestError


@dataclass(frozen=True)
class TimeSlices:
    """Time slices of a service day (or window) with their share of the requests.

    Attributes
    ----------
    start, end : ndarray of int64
        Slice bounds in Unix seconds (UTC).
    share : ndarray of float64
        Share of the period's requests in each slice (sums to 1).
    local_hour : ndarray of int64
        Local wall-clock hour of each slice's start.
    day_type : str
        ``"weekday"`` or ``"weekend"``.
    window_share : float
        Share of the whole day's requests that falls into the window.
    timezone : str
        IANA timezone of the local hours.
    """

    start: np.ndarray
    end: np.ndarray
    share: np.ndarray
    local_hour: np.ndarray
    day_type: str
    window_share: float
    timezone: str


def day_slices(
    day: date,
    timezone: str,
    config: DemandConfig,
    *,
    window: tuple[time, time] | None = None,
) -> TimeSlices:
    """Hourly slices of ``day`` in ``timezone`` with the day type's hourly shares.

    Parameters
    ----------
    day : date
        The service day (local).
    timezone : str
        IANA zone, e.g. ``"Europe/Berlin"``.
    config : DemandConfig
        Hourly profiles and holidays.
    window : (time, time), optional
        Local start and end; ``end`` of ``00:00`` means midnight at the end of
        the day.

    Raises
    ------
    RequestError
        The window is empty or has no demand in the profile.
    """
    tz = ZoneInfo(timezone)
    day_type = config.day_type(day)
    hourly = np.asarray(config.profiles[day_type].hourly)
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    t0 = int(midnight.timestamp())
    t1 = int(next_midnight.timestamp())
    starts = np.arange(t0, t1, 3600, dtype=np.int64)
    ends = np.minimum(starts + 3600, t1)
    hours = np.array([datetime.fromtimestamp(int(s), tz).hour for s in starts], dtype=np.int64)
    # A 25-hour day repeats one local hour: split its share between both.
    weight = hourly[hours] / np.bincount(hours, minlength=24)[hours]
    day_total = weight.sum()
    if window is not None:
        w0 = int(datetime.combine(day, window[0], tzinfo=tz).timestamp())
        end_day = day + timedelta(days=1) if window[1] == time(0) else day
        w1 = int(datetime.combine(end_day, window[1], tzinfo=tz).timestamp())
        if w1 <= w0:
            raise RequestError(
                f"time window {window[0]:%H:%M}-{window[1]:%H:%M} is empty; give start < end"
            )
        covered = np.clip(np.minimum(ends, w1) - np.maximum(starts, w0), 0, None)
        weight = weight * covered / (ends - starts)
        keep = covered > 0
        starts = np.maximum(starts[keep], w0)
        ends = np.minimum(ends[keep], w1)
        hours = hours[keep]
        weight = weight[keep]
    total = weight.sum()
    if total <= 0:
        raise RequestError(
            f"the {day_type} profile has no demand in the chosen time window on {day}; "
            f"widen the window or change [profiles.{day_type}] hourly"
        )
    return TimeSlices(
        starts, ends, weight / total, hours, day_type, float(total / day_total), timezone
    )


def expected_requests(
    population: float, day_type: str, config: DemandConfig, window_share: float = 1.0
) -> float:
    """Expected shuttle requests: residents x trips/person x shuttle share (x weekend factor)."""
    r = config.requests
    factor = r.weekend_factor if day_type == "weekend" else 1.0
    return population * r.trips_per_person * r.shuttle_share * factor * window_share


def purpose_mix(day_type: str, config: DemandConfig) -> tuple[list[str], np.ndarray]:
    """Purpose names and their shares for a day type."""
    mix = config.profiles[day_type].purpose_mix
    names = list(mix)
    return names, np.array([mix[n] for n in names], dtype=float)
