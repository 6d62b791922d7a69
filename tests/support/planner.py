"""Shared helpers of the planner tests and benchmark: fixture stores placed in Heidelberg."""

from __future__ import annotations

import datetime as dt

from routing.stations.gbfs import load_gbfs
from routing.stations.model import Charger, Station
from routing.stations.ocpi import load_ocpi
from routing.stations.parkapi import load_parkapi
from routing.stations.store import ChargerStore, StationStore
from tests.support.paths import FIXTURES_DIR

PLANNER_FIXTURES = FIXTURES_DIR / "planner"
#: The moment the fixtures' live data refers to (two minutes after their timestamps).
FIXTURE_NOW = dt.datetime(2022, 9, 14, 6, 0, tzinfo=dt.UTC)
DEPART = dt.datetime(2022, 9, 14, 8, 0)  # local time (Europe/Berlin) = FIXTURE_NOW


def fixture_stations(base: list[Station] | None = None) -> StationStore:
    """Hand-made GBFS bike share + ParkAPI bike boxes in Heidelberg (plus ``base`` stations)."""
    gbfs = load_gbfs(PLANNER_FIXTURES / "gbfs_heidelberg", now=FIXTURE_NOW)
    boxes = load_parkapi(
        PLANNER_FIXTURES / "parkapi_heidelberg_ebox.json", source_uid="hd_ebox", now=FIXTURE_NOW
    )
    return StationStore([*(base or []), *gbfs.stations, *boxes.stations])


def fixture_chargers(base: list[Charger] | None = None) -> ChargerStore:
    """Hand-made OCPI chargers with live status in Heidelberg (plus ``base`` chargers)."""
    ocpi = load_ocpi(PLANNER_FIXTURES / "ocpi_heidelberg.json")
    return ChargerStore([*(base or []), *ocpi.chargers])
