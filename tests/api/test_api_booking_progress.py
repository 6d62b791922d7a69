"""Bookings follow their trip: assigned, picked up, completed; cancel only until assigned.

The booking service runs on the fleet's real online dispatcher (on a
straight-line travel model, so the test needs no map) and a store in SQLite
or PostgreSQL (each test runs on both).
"""

from __future__ import annotations

import pytest

from api.errors import ConflictError, RejectedError
from api.services.shuttle import BookingService
from api.storage import BookingStore
from fleet.online.dispatcher import Dispatcher, FleetSpec
from fleet.online.protocol import ShuttleRequest
from fleet.online.service import OnlineShuttle
from fleet.online.travel import EuclideanTravel

T0 = 1_700_000_000.0  # UNIX seconds "now" at the start of each test
HOME, WORK = (49.400, 8.680), (49.420, 8.700)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_dispatcher() -> Dispatcher:
    travel = EuclideanTravel(speed_mps=8.0, ref_lat=49.4)
    depot = travel.locate(49.402, 8.682)
    return Dispatcher(travel, FleetSpec(n_vehicles=1, depots=(depot,)), seed=0)


def build() -> OnlineShuttle:
    return OnlineShuttle(make_dispatcher, origin_unix=T0)


@pytest.fixture
def service(db_url):
    store = BookingStore(db_url)
    clock = Clock(T0)
    fleet = build()
    booking_service = BookingService(store, fleet, timezone="UTC", clock=clock)
    yield booking_service, fleet, clock
    store.close()


def book(service: BookingService, pickup_in_s: float = 1200.0):
    assert service.log is not None
    request = ShuttleRequest(HOME, WORK, service.log.clock() + pickup_in_s)
    booking, _, created = service.book(request)
    assert created
    return booking


def test_progress_reports_milestones_in_order_with_their_instants(service):
    booking_service, fleet, clock = service
    booking = book(booking_service)
    assert fleet.progress([booking.id]) == {}  # nothing has happened yet
    clock.t = T0 + 6 * 3600
    fleet.pin_clock(clock.t)
    reached = fleet.progress([booking.id, "unknown"])
    assert [m.status for m in reached[booking.id]] == ["assigned", "picked_up", "completed"]
    times = [m.at for m in reached[booking.id]]
    assert times == sorted(times)
    record = fleet.dispatcher.request(booking.id)
    origin = fleet.origin_unix  # the epoch's local midnight
    assert times[1] == pytest.approx(record.pickup_time + origin)
    assert times[2] == pytest.approx(record.dropoff_time + origin)
    # The promise was kept: picked up inside the quoted window.
    quote = booking.quote
    assert quote["pickup_earliest"] - 1e-6 <= times[1] <= quote["pickup_latest"] + 1e-6


def test_periodic_run_stores_the_whole_history(service):
    booking_service, _, clock = service
    booking = book(booking_service)
    clock.t = T0 + 6 * 3600
    result = booking_service.periodic(every_s=60.0)
    assert result["status_changes"] == 3
    stored = booking_service.store.get(booking.id)
    assert stored is not None and stored.status == "completed"
    events = booking_service.store.events(booking.id)
    assert [e.status for e in events] == ["confirmed", "assigned", "picked_up", "completed"]
    assert [e.at for e in events] == sorted(e.at for e in events)
    # A second run changes nothing; a served booking can no longer be cancelled.
    clock.t += 120
    assert booking_service.periodic(every_s=60.0)["status_changes"] == 0
    with pytest.raises(ConflictError, match="completed"):
        booking_service.cancel(booking.id, booking_service.store.token_for(booking.id))


def test_partial_progress_is_stored_step_by_step(service):
    booking_service, fleet, clock = service
    booking = book(booking_service)
    record = fleet.dispatcher.request(booking.id)
    # Move to just after the pickup: the vehicle is committed and the passenger boarded.
    clock.t = T0 + 1200 + 1
    booking_service.periodic(every_s=60.0)
    record = fleet.dispatcher.request(booking.id)
    origin = fleet.origin_unix
    between = (record.pickup_time + record.dropoff_time) / 2 + origin
    clock.t = max(clock.t + 60, between)
    booking_service.periodic(every_s=60.0)
    assert booking_service.store.get(booking.id).status == "picked_up"
    clock.t = record.dropoff_time + origin + 60
    booking_service.periodic(every_s=60.0)
    assert booking_service.store.get(booking.id).status == "completed"


def test_cancel_is_refused_once_the_shuttle_set_off_and_nothing_changes(service):
    booking_service, fleet, clock = service
    booking = book(booking_service, pickup_in_s=600.0)
    token = booking_service.store.token_for(booking.id)
    # The vehicle leaves for the pickup, but no periodic run has told the store yet.
    clock.t = T0 + 600
    log_before = booking_service.store.log_length(booking_service.log.epoch["id"])
    with pytest.raises(ConflictError, match="can no longer be cancelled"):
        booking_service.cancel(booking.id, token)
    # The refusal stored the status that made it (issue 17, finding 6): reads agree with it.
    assert booking_service.store.get(booking.id).status in ("assigned", "picked_up")
    assert booking_service.store.log_length(booking_service.log.epoch["id"]) == log_before
    assert not booking_service.log.dirty  # the plans were not touched: no rebuild needed
    assert fleet.dispatcher.request(booking.id).status in ("onboard", "done")


def test_cancel_before_departure_frees_the_seat(service):
    booking_service, fleet, _ = service
    booking = book(booking_service, pickup_in_s=3600.0)
    after = booking_service.cancel(booking.id, booking_service.store.token_for(booking.id))
    assert after.status == "cancelled"
    assert fleet.dispatcher.request(booking.id).status == "cancelled"
    assert fleet.progress([booking.id]) == {}


def test_two_workers_booking_in_one_step_end_with_the_same_plans(db_url):
    """Bookings alternate between two services on one database (two uvicorn workers)."""
    import random

    url = db_url
    clock = Clock(T0)
    workers = []
    for _ in range(2):
        store = BookingStore(url)
        fleet = build()
        workers.append((BookingService(store, fleet, timezone="UTC", clock=clock), fleet, store))
    rng = random.Random(5)
    booked = refused = 0
    for i in range(40):
        service = workers[i % 2][0]
        clock.t += rng.uniform(5, 60)
        origin = (49.40 + rng.uniform(-0.01, 0.01), 8.68 + rng.uniform(-0.01, 0.01))
        destination = (49.42 + rng.uniform(-0.01, 0.01), 8.70 + rng.uniform(-0.01, 0.01))
        request = ShuttleRequest(origin, destination, clock.t + rng.uniform(600, 2400))
        try:
            service.book(request)
            booked += 1
        except RejectedError:
            refused += 1
    assert booked >= 5 and refused >= 1  # one vehicle: some trips do not fit
    views = [service.vehicles() for service, _, _ in workers]
    assert views[0] == views[1]
    for service, _, store in workers:
        assert service.log.replay_failures == 0 and not service.log.dirty
        kinds = {e.kind for e in store.log_since(service.log.epoch["id"], 0)}
        assert kinds == {"book_now"}
        store.close()


def test_status_read_agrees_with_the_cancel_refusal_at_once(service):
    """Issue 17, finding 6: GET said confirmed while cancel answered 409 "on its way"."""
    booking_service, _fleet, clock = service
    booking = book(booking_service, pickup_in_s=60.0)  # the shuttle sets off almost at once
    token = booking_service.store.token_for(booking.id)
    assert booking_service.get(booking.id, token).status == "confirmed"
    clock.t = T0 + 120.0  # no periodic run in between
    read = booking_service.get(booking.id, token)
    assert read.status in ("assigned", "picked_up")  # what the dispatcher's plans say now
    [event] = [e for e in booking_service.store.events(booking.id) if e.status == "assigned"]
    assert event.at <= clock.t
    with pytest.raises(ConflictError, match="can no longer be cancelled"):
        booking_service.cancel(booking.id, token)
    assert booking_service.get(booking.id, token).status == read.status


def test_cancel_refused_by_the_dispatcher_stores_the_status_that_made_it(service):
    booking_service, _fleet, clock = service
    booking = book(booking_service, pickup_in_s=60.0)
    token = booking_service.store.token_for(booking.id)
    clock.t = T0 + 120.0
    # Straight to cancel, without a read first: the refusal and the stored status agree.
    with pytest.raises(ConflictError):
        booking_service.cancel(booking.id, token)
    assert booking_service.store.get(booking.id).status in ("assigned", "picked_up")
