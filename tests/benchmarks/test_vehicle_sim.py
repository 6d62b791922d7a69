"""The vehicle simulator's pure parts: where a vehicle is along its leg, and the day's settings."""

from __future__ import annotations

from datetime import date
from datetime import time as dtime

import numpy as np
import pytest

from benchmarks.vehicle_sim import Leg, day_config
from routing.geo import haversine_scalar_m


def _leg(drive_s: float = 100.0, **extra: object) -> Leg:
    """A straight leg of three points going north, ~1,112 m per 0.01 degree."""
    lats = np.array([49.40, 49.41, 49.42])
    lons = np.array([8.69, 8.69, 8.69])
    seg = [haversine_scalar_m(lats[i], lons[i], lats[i + 1], lons[i + 1]) for i in range(2)]
    cum = np.concatenate(([0.0], np.cumsum(seg)))
    return Leg("b", "pickup", lats, lons, cum, 1000.0, drive_s, **extra)  # type: ignore[arg-type]


def _metres_from_start(leg: Leg, t: float) -> float:
    lat, lon = leg.where(t)
    return haversine_scalar_m(float(leg.lats[0]), float(leg.lons[0]), lat, lon)


def test_a_leg_runs_from_its_start_to_its_stop_at_an_even_pace() -> None:
    leg = _leg()
    total = float(leg.cum_m[-1])
    assert leg.where(900.0) == (49.40, 8.69)  # before departure: at the start
    assert leg.where(1000.0) == (49.40, 8.69)
    assert _metres_from_start(leg, 1025.0) == pytest.approx(total / 4, abs=1.0)
    assert _metres_from_start(leg, 1050.0) == pytest.approx(total / 2, abs=1.0)
    assert leg.where(1100.0) == (49.42, 8.69) == leg.where(5000.0)
    assert leg.arrive == 1100.0


def test_an_incident_holds_the_vehicle_where_it_is() -> None:
    leg = _leg(stall_at=40.0, stall_s=600.0)
    held = leg.where(1040.0)
    assert leg.where(1300.0) == held == leg.where(1640.0)
    assert _metres_from_start(leg, 1650.0) == pytest.approx(leg.cum_m[-1] / 2, abs=1.0)
    assert leg.arrive == 1700.0


def test_the_time_profile_puts_the_slow_part_of_the_leg_where_the_model_has_it() -> None:
    total = 2 * 1111.95
    # the model spends 80 % of the time on the first half (slow street), 20 % on the second
    leg = _leg(knot_m=np.array([0.0, total / 2, total]), knot_share=np.array([0.0, 0.8, 1.0]))
    assert _metres_from_start(leg, 1040.0) == pytest.approx(total / 4, rel=0.01)
    assert _metres_from_start(leg, 1080.0) == pytest.approx(total / 2, rel=0.01)
    assert _metres_from_start(leg, 1090.0) == pytest.approx(3 * total / 4, rel=0.01)
    walked = [_metres_from_start(leg, 1000.0 + s) for s in range(0, 101, 5)]
    assert walked == sorted(walked)  # never backwards


def test_the_exact_day_has_no_breakdown_and_the_realistic_one_has_it_at_mid_day() -> None:
    day = date(2026, 12, 8)
    real = day_config(day=day, start=dtime(7), end=dtime(19), vehicles=8, seed=1, exact=False)
    exact = day_config(day=day, start=dtime(7), end=dtime(19), vehicles=8, seed=1, exact=True)
    assert exact.breakdown_at is None and exact.exact
    assert real.breakdown_at == pytest.approx((real.shift_start + 1800 + real.shift_end) / 2)
    assert real.shift_end - real.shift_start == 12.5 * 3600
