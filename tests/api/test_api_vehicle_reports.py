"""Vehicle reports through the dispatch log: once each, the same in every worker, after a restart.

Two booking services on one store play two worker processes; a third,
started afterwards, plays a restarted server. The dispatcher is the fleet's
live one on a straight-line travel model (no map needed); each test runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from api.errors import ConflictError, NotFoundError
from api.services.shuttle import BookingService
from api.storage import BookingStore
from fleet.online.dispatcher import FleetSpec
from fleet.online.live import LiveConfig, LiveDispatcher
from fleet.online.protocol import ShuttleRequest, VehicleReport
from fleet.online.service import OnlineShuttle
from fleet.online.travel import EuclideanTravel
from routing.errors import RequestError

T0 = 1_700_000_000.0
DEPOT, HOME, WORK = (49.400, 8.680), (49.404, 8.684), (49.420, 8.700)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_live() -> LiveDispatcher:
    travel = EuclideanTravel(speed_mps=8.0, ref_lat=49.4)
    depot = travel.locate(*DEPOT)
    return LiveDispatcher(
        travel, FleetSpec(n_vehicles=2, depots=(depot,)), live=LiveConfig(no_show_wait_s=60.0)
    )


def worker(store: BookingStore, clock: Clock, **kw) -> BookingService:
    return BookingService(
        store, OnlineShuttle(make_live, origin_unix=T0, clock=clock), timezone="UTC",
        clock=clock, **kw,
    )  # fmt: skip


@pytest.fixture
def store(db_url):
    s = BookingStore(db_url)
    yield s
    s.close()


def shift(vehicle: str, at: float, where=DEPOT) -> VehicleReport:
    return VehicleReport(vehicle, "shift_start", at, lat=where[0], lon=where[1], passengers=4,
                         wheelchairs=1)  # fmt: skip


def served_state(service: BookingService) -> tuple:
    d = service.log.dispatcher
    return (
        [(v["id"], v["mode"], v["onboard"], [s["request"] for s in v["stops"]])
         for v in service.vehicles()],
        {b.id: [m.status for m in ms] for b in service.store.list()
         for ms in [d.progress([b.id]).get(b.id, [])]},
    )  # fmt: skip


def test_two_workers_and_a_restart_agree_on_every_report(store) -> None:
    clock = Clock(T0 + 3600)
    a, b = worker(store, clock), worker(store, clock)
    a.report(shift("V001", clock.t), "shift-1")
    booking, _, _ = b.book(ShuttleRequest(HOME, WORK, clock.t + 60))
    clock.t += 30
    a.report(VehicleReport("V001", "position", clock.t, lat=DEPOT[0], lon=DEPOT[1]), "fix-1")
    clock.t += 90
    b.report(VehicleReport("V001", "arrived", clock.t, booking=booking.id, stop="pickup"), "arr-1")
    clock.t += 30
    a.report(VehicleReport("V001", "picked_up", clock.t, booking=booking.id, passengers=1), "pu-1")
    # b learns a's reports from the log before it answers
    assert b.manifest("V001")[0]["kind"] == "dropoff"
    assert store.get(booking.id).status == "picked_up"
    restarted = worker(store, clock)
    assert served_state(restarted) == served_state(a) == served_state(b)
    # a replayed report changes nothing and gets the first answer
    answer, replayed = restarted.report(
        VehicleReport("V001", "picked_up", clock.t, booking=booking.id, passengers=1), "pu-1"
    )
    assert replayed and answer["applied"]
    events = [e.status for e in store.events(booking.id)]
    assert events.count("picked_up") == 1


def test_refused_reports_map_to_4xx_and_store_nothing(store) -> None:
    clock = Clock(T0 + 3600)
    service = worker(store, clock)
    with pytest.raises(ConflictError, match="not on shift"):
        service.report(VehicleReport("V001", "position", clock.t, lat=HOME[0], lon=HOME[1]), "f-0")
    with pytest.raises(NotFoundError, match="V007"):
        service.report(shift("V007", clock.t), "s-7")
    service.report(shift("V001", clock.t), "s-1")
    with pytest.raises(RequestError, match="in the future"):
        service.report(
            VehicleReport("V001", "position", clock.t + 600, lat=HOME[0], lon=HOME[1]), "f-1"
        )
    assert store.find_report("V001", "f-1") is None
    assert store.find_report("V001", "s-1") is not None
    # the refused report's id is still free: the corrected report is applied
    service.report(VehicleReport("V001", "position", clock.t, lat=HOME[0], lon=HOME[1]), "f-1")


def test_a_long_log_goes_on_while_vehicles_are_on_shift(store) -> None:
    clock = Clock(T0 + 3600)
    first = worker(store, clock)
    first.report(shift("V001", clock.t), "s-1")
    booking, _, _ = first.book(ShuttleRequest(HOME, WORK, clock.t + 60))
    for i in range(3):
        clock.t += 30
        first.report(VehicleReport("V001", "position", clock.t, lat=DEPOT[0], lon=DEPOT[1]),
                     f"fix-{i}")  # fmt: skip
    epoch = first.log.epoch["id"]
    # a restart with a tiny log limit would start a new epoch, but V001 is on shift
    again = worker(store, clock, log_limit=1)
    assert again.log.epoch["id"] == epoch
    assert again.manifest("V001")[0]["booking"] == booking.id
    clock.t += 5
    again.report(VehicleReport("V001", "arrived", clock.t, booking=booking.id, stop="pickup"),
                 "arr")  # fmt: skip
    clock.t += 70
    again.report(VehicleReport("V001", "no_show", clock.t, booking=booking.id), "ns")
    assert store.get(booking.id).status == "no_show"
    again.report(VehicleReport("V001", "shift_end", clock.t), "end")
    # nobody on shift: the next restart may start afresh
    fresh = worker(store, clock, log_limit=1)
    assert fresh.log.epoch["id"] != epoch


def test_a_simulated_fleet_takes_no_vehicle_reports(store) -> None:
    from fleet.online.dispatcher import Dispatcher

    def simulated() -> Dispatcher:
        travel = EuclideanTravel(speed_mps=8.0, ref_lat=49.4)
        return Dispatcher(travel, FleetSpec(n_vehicles=1, depots=(travel.locate(*DEPOT),)))

    clock = Clock(T0)
    service = BookingService(store, OnlineShuttle(simulated, origin_unix=T0, clock=clock),
                             timezone="UTC", clock=clock)  # fmt: skip
    with pytest.raises(ConflictError, match="simulates"):
        service.report(shift("V001", clock.t), "s-1")
