"""Several booking services on one database (SQLite and PostgreSQL), and a database that goes away.

Each :class:`BookingService` here has its own store (its own connections and
lock), as each uvicorn worker and each host has: they share nothing but the
database. With threads booking through all of them at once, an Idempotency-Key
names one booking, a slot is never over-booked, and every service's plans hold
exactly the stored bookings. On PostgreSQL, a connection killed in the middle
of a booking's transaction, or a server restart between two bookings, is
redone on a new connection: the booking is stored once. A COMMIT whose answer
is lost (stored or not) ends with every booking of the batch stored once.
"""

from __future__ import annotations

import threading

import pytest

from api.errors import RejectedError
from api.services.shuttle import BookingService
from api.storage import BookingStore
from benchmarks.support.shuttle_doubles import SLOT_S, SeatLedgerDispatcher
from fleet.online.protocol import ShuttleRequest

T0 = 1_700_000_000.0
PICKUP = (T0 // SLOT_S + 8) * SLOT_S + 60.0


def services(url: str, n: int, seats: int) -> list[BookingService]:
    return [
        BookingService(BookingStore(url), SeatLedgerDispatcher(seats), clock=lambda: T0)
        for _ in range(n)
    ]


def run_threads(target, n: int) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)


def request(i: int = 0, passengers: int = 1) -> ShuttleRequest:
    return ShuttleRequest((49.40, 8.69), (49.39, 8.68), PICKUP + i, passengers=passengers)


def test_parallel_duplicates_through_several_workers_store_one_booking(db_url):
    workers = services(db_url, 4, seats=100)
    answers: list[tuple[str, bool, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        try:
            booking, token, created = workers[i % 4].book(request(), idempotency_key="dup-1")
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            answers.append((booking.id, created, token))

    run_threads(client, 12)
    assert not errors, errors
    assert len({a[0] for a in answers}) == 1
    assert sum(created for _, created, _ in answers) == 1
    assert len({a[2] for a in answers}) == 1  # every worker hands out the same token
    assert len(workers[0].store.list()) == 1
    for w in workers:
        w.vehicles()  # catch up with the log
        assert set(w.dispatcher.booked) == {answers[0][0]}
        w.store.close()


def test_concurrent_workers_never_over_book_and_hold_the_same_plans(db_url):
    seats = 10
    workers = services(db_url, 3, seats=seats)
    created: list[str] = []
    refused = 0
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        nonlocal refused
        try:
            booking, _, _ = workers[i % 3].book(request(i % 7), idempotency_key=f"k-{i:03d}")
        except RejectedError:
            with lock:
                refused += 1
            return
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            created.append(booking.id)

    run_threads(client, 30)
    assert not errors, errors
    assert (len(created), refused) == (seats, 30 - seats)  # one slot of 10 seats
    stored = {b.id for b in workers[0].store.open_bookings()}
    assert stored == set(created)
    log = workers[0].store.log_since(workers[0].log.epoch["id"], 0)
    assert [e.booking_id for e in log if e.kind == "book"] != []
    assert sorted(e.booking_id for e in log) == sorted(created)
    assert [e.seq for e in log] == sorted(e.seq for e in log)
    for w in workers:
        w.vehicles()
        assert set(w.dispatcher.booked) == stored
        assert sum(s for _, s in w.dispatcher.booked.values()) == seats
        assert w.log.replay_failures == 0
        w.store.close()


@pytest.fixture
def pg_url(pg_server):
    """An empty database on the session's PostgreSQL server."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


def _kill_connections(pg_server) -> None:
    pg_server.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'elster' AND pid <> pg_backend_pid()"
    )


def test_connection_killed_inside_a_booking_is_redone_once(pg_server, pg_url):
    [service] = services(pg_url, 1, seats=100)
    ledger = service.dispatcher
    real_commit = ledger.commit
    kills = {"n": 0}

    def commit(booking_id, req, quote):
        if kills["n"] == 0:  # the transaction is open, the booking inserted, not committed
            kills["n"] += 1
            _kill_connections(pg_server)
        real_commit(booking_id, req, quote)

    ledger.commit = commit
    booking, _, created = service.book(request(), idempotency_key="killed-1")
    assert created and kills["n"] == 1
    assert service.log.db_retries >= 1
    assert [b.id for b in service.store.open_bookings()] == [booking.id]
    log = service.store.log_since(service.log.epoch["id"], 0)
    assert [e.booking_id for e in log] == [booking.id]
    service.vehicles()
    assert set(ledger.booked) == {booking.id}  # the rolled-back attempt was undone
    # A retry by the client answers with the same booking.
    again, _, created_again = service.book(request(), idempotency_key="killed-1")
    assert again.id == booking.id and not created_again
    service.store.close()


def test_server_restart_between_bookings_is_invisible(pg_server, pg_url):
    if not hasattr(pg_server, "restart"):
        pytest.skip("the PostgreSQL server is not ours to restart (ELSTER_TEST_POSTGRES_URL)")
    workers = services(pg_url, 2, seats=100)
    first, _, _ = workers[0].book(request(1), idempotency_key="before")
    workers[1].vehicles()
    pg_server.restart()  # every pooled connection of both workers is now dead
    second, _, created = workers[1].book(request(2), idempotency_key="after")
    assert created
    third, _, _ = workers[0].book(request(3))
    stored = {b.id for b in workers[0].store.open_bookings()}
    assert stored == {first.id, second.id, third.id}
    for w in workers:
        w.vehicles()
        assert set(w.dispatcher.booked) == stored
        w.store.close()


class _LostCommitAnswer:
    """Wraps a store's ``exclusive``: the next transaction's COMMIT "gets no answer".

    ``stored=True``: the transaction commits, then the caller is told the outcome
    is unknown (the answer was lost). ``stored=False``: it rolls back, same message.
    """

    def __init__(self, store: BookingStore, *, stored: bool) -> None:
        self.real = store.db.exclusive
        self.stored = stored
        self.armed = True
        store.db.exclusive = self  # type: ignore[method-assign]

    def __call__(self):
        import contextlib

        from api.storage.db import CommitOutcomeUnknownError

        real = self.real

        @contextlib.contextmanager
        def cm():
            if not self.armed:
                with real() as tx:
                    yield tx
                return
            self.armed = False
            with contextlib.suppress(RuntimeError), real() as tx:
                yield tx
                if not self.stored:
                    raise RuntimeError("roll back")
            raise CommitOutcomeUnknownError("server closed the connection during COMMIT")

        return cm()


@pytest.mark.parametrize("stored", [True, False], ids=["committed", "rolled-back"])
def test_commit_without_an_answer_books_once(db_url, stored):
    [service] = services(db_url, 1, seats=100)
    _LostCommitAnswer(service.store, stored=stored)
    calls = [request(1), request(2, passengers=2)]
    from api.services.shuttle import BookingCall

    answers = service.book_many([BookingCall(r) for r in calls])  # no keys: only a look helps
    assert all(isinstance(a, tuple) and a[2] for a in answers), answers
    ids = {a[0].id for a in answers}
    assert {b.id for b in service.store.open_bookings()} == ids  # stored once, no extra
    assert service.store.log_length(service.log.epoch["id"]) == 2
    service.vehicles()
    assert set(service.dispatcher.booked) == ids
    assert service.log.db_retries == (0 if stored else 1)
    service.store.close()


def test_every_dispatch_log_kind_has_a_replay():
    """A new kind of log entry (vehicle events, say) cannot be logged without its replay."""
    from api.services.dispatch_log import DispatchLog
    from api.storage.bookings import LogKind

    assert set(DispatchLog.REPLAY) == set(LogKind)
