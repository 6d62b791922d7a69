"""Plan requests: every impossible input is a RequestError naming the field (no network needed)."""

from __future__ import annotations

import datetime as dt

import pytest

from routing.errors import RequestError
from routing.planner import MODES, EvSpec, PlanRequest
from routing.planner.request import parse_modes

A = (49.4094, 8.6937)
B = (49.3837, 8.6905)
T = "2022-09-14T08:00"


def test_defaults_and_parsing():
    req = PlanRequest(A, B, T, modes="walk, Transit")
    assert req.modes == {"walk", "transit"}
    assert req.depart_at.tzinfo is not None
    assert req.depart_at.hour == 8
    assert str(req.depart_at.utcoffset()) == "2:00:00"  # Europe/Berlin summer time
    no_ev = set(MODES) - {"shuttle", "ev", "ev_park_charge"}
    assert PlanRequest(A, B, dt.datetime(2022, 9, 14, 8)).modes == no_ev
    ev = EvSpec(capacity_kwh=40, battery_percent=50)
    assert PlanRequest(A, B, T, ev=ev).modes == set(MODES) - {"shuttle"}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"modes": "walk,teleport"}, "unknown mode(s) 'teleport'"),
        ({"modes": ""}, "no modes given"),
        ({"modes": ["hovercraft", "walk"]}, "hovercraft"),
        ({"destination": (49.40941, 8.69371)}, "same place"),
        ({"origin": (49.40, 200.0)}, "not a WGS84"),
        ({"origin": (95.0, 8.69)}, "not a WGS84"),
        ({"origin": "Bismarckplatz"}, "(lat, lon) pair"),
        ({"depart_at": "tomorrow morning"}, "ISO 8601"),
        ({"depart_at": 1663135200}, "datetime or ISO 8601"),
        ({"max_walk_s": -5}, "max_walk_s"),
        ({"max_transfers": 99}, "max_transfers"),
        ({"modes": "ev"}, "need the vehicle"),
        ({"modes": "ev_park_charge"}, "need the vehicle"),
        ({"parked_bike_at": "  "}, "parked_bike_at"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ],
)
def test_bad_requests(kwargs, fragment):
    args = {"origin": A, "destination": B, "depart_at": T, **kwargs}
    with pytest.raises(RequestError, match=None) as err:
        PlanRequest(**args)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"battery_kwh": -1.0}, "impossible"),
        ({"battery_kwh": 55.0}, "impossible"),  # above the 40 kWh capacity
        ({"battery_percent": 120}, "impossible"),
        ({"battery_percent": float("nan")}, "impossible"),
        ({"battery_kwh": 10.0, "battery_percent": 50}, "exactly one"),
        ({}, "exactly one"),
        ({"battery_percent": 50, "capacity_kwh": 0}, "capacity_kwh"),
        ({"battery_percent": 50, "consumption_kwh_per_km": 0}, "consumption_kwh_per_km"),
        ({"battery_percent": 50, "connectors": ("USB_C",)}, "unknown standard"),
        ({"battery_percent": 50, "connectors": ()}, "connectors is empty"),
        ({"battery_percent": 50, "reserve_percent": 90}, "reserve_percent"),
    ],
)
def test_impossible_battery_values(kwargs, fragment):
    spec = {"capacity_kwh": 40.0, **kwargs}
    with pytest.raises(RequestError) as err:
        EvSpec(**spec)
    assert fragment in str(err.value)


def test_battery_state_in_kwh_or_percent():
    assert EvSpec(capacity_kwh=40, battery_percent=25).initial_kwh == pytest.approx(10.0)
    spec = EvSpec(capacity_kwh=40, battery_kwh=7.5, reserve_percent=10, target_percent=80)
    assert (spec.initial_kwh, spec.reserve_kwh, spec.target_kwh) == (7.5, 4.0, 32.0)


def test_parse_modes_keeps_known_names_only():
    assert parse_modes(["WALK", "bike_share"]) == {"walk", "bike_share"}
    with pytest.raises(RequestError, match="known modes"):
        parse_modes("walk,plane")
