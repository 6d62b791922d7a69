"""Group commit of bookings: a batch answers exactly as the same calls one by one would."""

from __future__ import annotations

import asyncio

import pytest

from api.errors import ConflictError, RejectedError
from api.services.booking_batch import BookingBatcher
from api.services.shuttle import BookingCall, BookingService
from api.storage import BookingStore
from benchmarks.support.shuttle_doubles import SLOT_S, SeatLedgerDispatcher
from fleet.online.protocol import ShuttleRequest

T0 = 1_700_000_000.0
PICKUP = (T0 // SLOT_S + 8) * SLOT_S + 60.0  # inside one ledger slot, two hours ahead


def make_service(database, name: str, seats: int = 5, **kw) -> BookingService:
    """A booking service on a new database (SQLite file or PostgreSQL) and a seat ledger."""
    store = BookingStore(database(name))
    return BookingService(store, SeatLedgerDispatcher(seats), clock=lambda: T0, **kw)


def calls() -> list[BookingCall]:
    """Seats 2, 2, 2 (slot full: 5 seats), a key reused with another body, a retry, 1."""
    out = []
    for i, seats in enumerate((2, 2, 2)):
        request = ShuttleRequest((49.40, 8.69), (49.39, 8.68), PICKUP + i, passengers=seats)
        out.append(BookingCall(request, f"key-{i}"))
    other = ShuttleRequest((49.41, 8.69), (49.39, 8.68), PICKUP, passengers=1)
    out.append(BookingCall(other, "key-0"))  # same key, different trip: conflict
    out.append(out[1])  # a retry of call 1: the same booking again
    out.append(BookingCall(ShuttleRequest((49.40, 8.69), (49.39, 8.68), PICKUP + 9), None))
    return out


def summary(answer) -> tuple:
    if isinstance(answer, BaseException):
        return (type(answer).__name__,)
    booking, _, created = answer
    return (booking.request["passengers"], booking.idempotency_key, created)


def test_batch_answers_like_one_call_at_a_time(database):
    batched = make_service(database, "batched")
    single = make_service(database, "single")
    got = batched.book_many(calls())
    expected = []
    for call in calls():
        try:
            expected.append(single.book(call.request, idempotency_key=call.idempotency_key))
        except (RejectedError, ConflictError) as exc:
            expected.append(exc)
    assert [summary(a) for a in got] == [summary(a) for a in expected]
    assert [summary(a) for a in got] == [
        (2, "key-0", True),
        (2, "key-1", True),
        ("RejectedError",),  # only one seat left in the slot
        ("ConflictError",),
        (2, "key-1", False),
        (1, None, True),
    ]
    assert got[4][0].id == got[1][0].id  # the retry is the stored booking
    assert batched.dispatcher.booked.keys() == {a[0].id for a in got if isinstance(a, tuple)}
    log = batched.store.log_since(batched.log.epoch["id"], 0)
    assert [e.booking_id for e in log] == [got[0][0].id, got[1][0].id, got[5][0].id]


def test_a_call_failing_half_way_does_not_fail_the_others(database, monkeypatch):
    service = make_service(database, "b", seats=100)
    ledger = service.dispatcher
    real_commit = ledger.commit
    failing = {"count": 0}

    def commit(booking_id, request, quote):
        if request.passengers == 3:
            failing["count"] += 1
            raise RuntimeError("disk on fire")
        real_commit(booking_id, request, quote)

    monkeypatch.setattr(ledger, "commit", commit)
    trips = [
        BookingCall(ShuttleRequest((49.40, 8.69), (49.39, 8.68), PICKUP + i, passengers=p))
        for i, p in enumerate((1, 3, 2))
    ]
    got = service.book_many(trips)
    assert isinstance(got[1], RuntimeError)
    assert [summary(a) for a in (got[0], got[2])] == [(1, None, True), (2, None, True)]
    # The failed batch was rolled back and redone: nothing stored twice, plans rebuilt.
    assert len(service.store.list(limit=10)) == 2
    assert sorted(s for _, s in ledger.booked.values()) == [1, 2]
    assert failing["count"] == 2  # once in the batch, once on its own


def test_batcher_books_concurrent_calls_together_in_order(database):
    service = make_service(database, "b", seats=100)
    batcher = BookingBatcher(service, max_batch=4)
    trips = [
        BookingCall(ShuttleRequest((49.40, 8.69), (49.39, 8.68), PICKUP + i), f"k-{i:03d}")
        for i in range(10)
    ]

    async def main():
        return await asyncio.gather(*(batcher.book(call) for call in trips))

    got = asyncio.run(main())
    assert [b.idempotency_key for b, _, created in got] == [c.idempotency_key for c in trips]
    assert batcher.calls == 10 and batcher.batches == 3 and batcher.largest == 4
    log = service.store.log_since(service.log.epoch["id"], 0)
    assert [e.booking_id for e in log] == [b.id for b, _, _ in got]


def test_batcher_raises_each_calls_own_error(database):
    service = make_service(database, "b", seats=1)
    batcher = BookingBatcher(service)
    trips = [BookingCall(ShuttleRequest((49.40, 8.69), (49.39, 8.68), PICKUP)) for _ in range(2)]

    async def main():
        return await asyncio.gather(*(batcher.book(c) for c in trips), return_exceptions=True)

    first, second = asyncio.run(main())
    assert first[2] is True
    assert isinstance(second, RejectedError) and "seats of this slot" in str(second)


def test_batcher_without_dispatcher_fails_every_call(database):
    store = BookingStore(database("b"))
    batcher = BookingBatcher(BookingService(store, None))
    call = BookingCall(ShuttleRequest((49.40, 8.69), (49.39, 8.68), PICKUP))

    async def main():
        return await asyncio.gather(batcher.book(call), batcher.book(call), return_exceptions=True)

    answers = asyncio.run(main())
    assert all("not available" in str(a) for a in answers)
    with pytest.raises(Exception, match="not available"):
        asyncio.run(batcher.book(call))


def test_retries_are_answered_without_the_lock(database, monkeypatch):
    service = make_service(database, "b", seats=2)
    first = BookingCall(ShuttleRequest((49.40, 8.69), (49.39, 8.68), PICKUP, passengers=2), "k-1")
    booking, _, _ = service.book(first.request, idempotency_key="k-1")
    log_before = service.store.log_length(service.log.epoch["id"])

    def no_lock():
        raise AssertionError("a retry took the write lock")

    monkeypatch.setattr(service.store, "exclusive", no_lock)
    other = BookingCall(ShuttleRequest((49.41, 8.69), (49.39, 8.68), PICKUP + 5), "k-1")
    retry, conflict = service.book_many([first, other])
    assert retry[0].id == booking.id and retry[2] is False
    assert isinstance(conflict, ConflictError) and "already used" in str(conflict)
    assert service.store.log_length(service.log.epoch["id"]) == log_before
