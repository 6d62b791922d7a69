"""Hand-made live feeds placed in Heidelberg, for the planner tests and ``benchmarks.plan``.

The feeds are in ``benchmarks/support/fixtures/planner`` (see its README).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from routing.stations.gbfs import load_gbfs
from routing.stations.model import Charger, Station
from routing.stations.ocpi import load_ocpi
from routing.stations.parkapi import load_parkapi
from routing.stations.store import ChargerStore, StationStore

#: The hand-made feeds (GBFS bike share, ParkAPI boxes, OCPI chargers) in Heidelberg.
PLANNER_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "planner"
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
