"""A short live day through the real server: the vehicle simulator's end-to-end check.

Three vehicles, a dozen rides over about 45 simulated minutes in Heidelberg,
one passenger who never shows up and one vehicle that breaks down with
passengers on board (forced), with the realistic travel-time noise. Nobody may
be stranded, every booking must end in a final status, the broken vehicle's
passengers must be picked up again and brought to their destination, and the
no-show must free the seat.
"""

from __future__ import annotations

from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

import pytest

from benchmarks.fleet_live import serve_day
from benchmarks.vehicle_sim import FINAL, TZ, SimConfig, Trip

pytestmark = pytest.mark.slow

T0 = datetime.combine(date(2026, 12, 8), dtime(10, 0), TZ).timestamp()
PLACES = {
    "station": (49.4036, 8.6757),
    "bismarck": (49.4094, 8.6937),
    "bergheim": (49.4085, 8.6820),
    "weststadt": (49.3980, 8.6900),
    "rohrbach": (49.3850, 8.6840),
    "neuenheim": (49.4165, 8.6900),
    "kirchheim": (49.3880, 8.6650),
    "altstadt": (49.4110, 8.7050),
}
RIDES = [  # (minutes after T0, from, to)
    (0, "station", "neuenheim"),
    (2, "bismarck", "rohrbach"),
    (4, "bergheim", "kirchheim"),
    (6, "weststadt", "altstadt"),
    (9, "neuenheim", "station"),
    (12, "altstadt", "weststadt"),
    (14, "kirchheim", "bismarck"),
    (17, "rohrbach", "bergheim"),
    (20, "station", "altstadt"),
    (24, "bismarck", "kirchheim"),
    (28, "weststadt", "neuenheim"),
]
NO_SHOW = 4  # the ride of minute 9


def _trips() -> list[Trip]:
    return [
        Trip(
            id=f"R{i:02d}",
            book_at=T0 + 60 * (minute - 15),
            pickup_after=T0 + 60 * minute,
            origin=PLACES[a],
            destination=PLACES[b],
            no_show=i == NO_SHOW,
        )
        for i, (minute, a, b) in enumerate(RIDES)
    ]


def test_a_short_day_strands_nobody_and_rescues_the_broken_vehicles_riders(
    hd_data_dir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    config = SimConfig(
        vehicles=3, seats=4, shift_start=T0 - 1200, shift_end=T0 + 45 * 60,
        breakdown_at=T0 + 14 * 60, incidents=1, no_show_wait_s=120.0, seed=3,
    )  # fmt: skip
    result = serve_day(_trips(), config, workdir=tmp_path / "day", data_dir=hd_data_dir,
                       cache_dir=cache_dir)  # fmt: skip
    assert result["booked"] >= 8, result["statuses"]
    assert result["stranded"] == 0, result["stranded_bookings"]
    assert all(status in FINAL for status in result["final"].values()), result["final"]
    # the breakdown: its riders were picked up again where it stood and brought home
    breakdown = result["breakdown"]
    assert breakdown["vehicle"] is not None, "nobody was on board after the breakdown time"
    assert breakdown["onboard"], breakdown
    assert sorted(breakdown["changes"]["rescued"]) == breakdown["onboard"]
    assert breakdown["rescued_and_completed"] == len(breakdown["onboard"])
    for booking in breakdown["onboard"]:
        assert result["final"][booking] == "completed"
        events = result["events"][booking]
        assert events.count("picked_up") == 2 and "delayed" in events, events
    # the no-show: reported after the wait, the booking left the manifest at once
    assert result["no_shows_reported"] == 1 and result["no_show_seats_freed"] == 1
    assert result["statuses"].get("no_show") == 1
    kpis = result["kpis"]
    assert kpis["noShows"] == 1 and kpis["rescues"] == len(breakdown["onboard"])
    assert kpis["open"] == 0 and kpis["served"] == result["statuses"]["completed"]
    assert result["alerts_at_end"] == 0
