"""Shuttle booking: a small dispatcher protocol and the durable booking service on top.

The API does not decide who gets a seat; a dispatcher does. Any object with
``quote / commit / cancel / vehicles / reset / pin_clock`` (see
:class:`ShuttleDispatcher`) can serve, and the fleet's online dispatcher is
wrapped to fit in :mod:`api.services.fleet_adapter`. The booking service adds
what a passenger needs from the service around it: idempotent creation, a
token per booking, durable state changes, and the same vehicle plans in every
worker process and after a restart.

One plan, many processes
------------------------
Each uvicorn worker holds its own dispatcher in memory. They agree because
every change of the plans is appended to the *dispatch log* in the bookings
database (:class:`api.storage.bookings.LogEntry`: book, cancel, re-optimise,
reposition, each with the instant it was applied at), and a worker applies
every entry, in order and at its instant, before it decides anything itself:

1. take the database's write lock (``flock`` + ``BEGIN IMMEDIATE`` on SQLite,
   an advisory lock on PostgreSQL), so no other worker changes the plans;
2. replay the entries other workers appended since the last one seen;
3. quote and commit at ``t = max(now, every instant seen)``, store the
   booking and append its log entry in the same transaction; commit.

The dispatcher is deterministic given the same calls at the same instants, so
every worker ends with the same plans: a vehicle is never over-booked by two
workers that each saw only their own bookings, and whichever worker answers
``/fleet/vehicles`` shows every confirmed booking. A restarted server replays
the log of the current *epoch* (its dispatcher clock origin, kept in the
database) and is where it was; when that log has grown long, a new epoch
starts from the open bookings (re-booked with their promises). Should a
replay ever fail (a diverged plan), the worker rebuilds its dispatcher from
the whole log.

A database that goes away
-------------------------
When the connection breaks (a PostgreSQL restart or fail-over), the write
transaction is rolled back, the dispatcher marks its plans for a rebuild from
the log, and the call is redone on a new connection, for up to ``DB_RETRY_S``
seconds (then 503). Should the break come during ``COMMIT``, the booking
service first looks whether the batch's first new booking was stored: if so
the answers stand, else the batch is redone; a booking is never answered
twice or lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from api.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)
from api.storage import Booking, BookingStore
from api.storage.bookings import LogEntry, request_digest
from api.storage.db import CommitOutcomeUnknownError, DatabaseUnavailableError, Tx

logger = logging.getLogger(__name__)

NOT_AVAILABLE = "shuttle dispatch not available in this build"
#: A log longer than this starts a new epoch at the next server start (bounds replay time).
LOG_LIMIT = 5000
#: An epoch older than this (seconds) starts a new one at the next server start.
EPOCH_MAX_AGE_S = 2 * 86400.0
#: How long a call waits for an unreachable database (restart, fail-over) before answering 503.
DB_RETRY_S = 20.0

_T = TypeVar("_T")


@dataclass(frozen=True)
class ShuttleRequest:
    """A passenger's request for a ride (times in UNIX seconds).

    Attributes
    ----------
    origin, destination : (lat, lon)
        Pickup and drop-off points.
    earliest_pickup : float
        Earliest time the passenger can be picked up.
    passengers : int
        Seats needed.
    wheelchairs : int
        Wheelchair places needed.
    """

    origin: tuple[float, float]
    destination: tuple[float, float]
    earliest_pickup: float
    passengers: int = 1
    wheelchairs: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (tuples become lists)."""
        return {
            "origin": list(self.origin),
            "destination": list(self.destination),
            "earliest_pickup": self.earliest_pickup,
            "passengers": self.passengers,
            "wheelchairs": self.wheelchairs,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShuttleRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(
            origin=(float(data["origin"][0]), float(data["origin"][1])),
            destination=(float(data["destination"][0]), float(data["destination"][1])),
            earliest_pickup=float(data["earliest_pickup"]),
            passengers=int(data.get("passengers", 1)),
            wheelchairs=int(data.get("wheelchairs", 0)),
        )


@dataclass(frozen=True)
class ShuttleQuote:
    """A dispatcher's answer: an offer (pickup window, arrival, price, vehicle) or a refusal."""

    accepted: bool
    reason: str = ""
    pickup_earliest: float | None = None
    pickup_latest: float | None = None
    dropoff_eta: float | None = None
    price_eur: float | None = None
    vehicle_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (fields spelled out: ``asdict`` deep-copies, slowly)."""
        return {
            "accepted": self.accepted,
            "reason": self.reason,
            "pickup_earliest": self.pickup_earliest,
            "pickup_latest": self.pickup_latest,
            "dropoff_eta": self.dropoff_eta,
            "price_eur": self.price_eur,
            "vehicle_id": self.vehicle_id,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShuttleQuote:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})  # type: ignore[arg-type]


class ShuttleDispatcher(Protocol):
    """What the booking service needs from a dispatcher.

    ``quote`` must not change the plans; ``commit`` inserts the quoted trip into
    a vehicle's plan (it may raise :class:`RejectedError` when the plans changed
    since the quote). Every call happens at the instant last given to
    ``pin_clock`` (UNIX seconds), so that replaying the same calls at the same
    instants gives the same plans in every worker process. ``reset`` empties
    the plans and sets the clock origin (UNIX seconds of dispatcher second 0).

    ``cancel`` may refuse with :class:`ConflictError` (the vehicle is on its
    way, the passenger on board); it must then have changed nothing.

    Optional: ``reoptimise() -> dict`` (improve open plans, keep every promise;
    the dict has ``requests``: open requests considered, 0 = nothing could
    change), ``rebalance_moves() -> list[(vehicle, target)]`` (where idle
    vehicles should go; changes nothing), ``reposition(vehicle, target)`` and
    ``progress(booking_ids) -> {id: [(status, unix), ...]}`` (the milestones
    ``assigned``, ``picked_up``, ``completed`` each booking has reached) and
    ``book_now(booking_id, request) -> ShuttleQuote`` (quote and commit in one
    decision, half the work of both; a refusal changes nothing).
    """

    def quote(self, request: ShuttleRequest) -> ShuttleQuote: ...

    def commit(self, booking_id: str, request: ShuttleRequest, quote: ShuttleQuote) -> None: ...

    def cancel(self, booking_id: str) -> None: ...

    def vehicles(self) -> list[dict[str, Any]]: ...

    def reset(self, origin_unix: float) -> None: ...

    def pin_clock(self, unix: float) -> None: ...


#: Order of the statuses a booking moves through while it is served.
STATUS_RANK = {"confirmed": 0, "assigned": 1, "picked_up": 2, "completed": 3}
PROGRESS_DETAIL = {
    "assigned": "the shuttle is on its way to the pickup",
    "picked_up": "picked up",
    "completed": "dropped off",
}
#: A passenger may cancel until a vehicle sets off to pick them up.
CANCELLABLE = ("confirmed",)


def _check_cancellable(booking: Booking) -> None:
    if booking.status not in CANCELLABLE:
        raise ConflictError(
            f"booking {booking.id} is {booking.status} and can no longer be cancelled",
            fix="a booking can be cancelled until the shuttle sets off to pick you up",
        )


@dataclass(frozen=True)
class BookingCall:
    """One booking creation: the trip, the client's Idempotency-Key and its body as sent."""

    request: ShuttleRequest
    idempotency_key: str | None = None
    fingerprint: dict[str, Any] | None = None


#: A created or replayed booking: (booking, passenger token, created now).
BookingResult = tuple[Booking, str, bool]


class _RefusedError(Exception):
    """A booking call answered with an error before it changed anything."""

    def __init__(self, error: Exception, outcome: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.outcome = outcome


def _digest(call: BookingCall) -> str:
    """What identifies a retry of ``call``: the client's body as sent, else the request."""
    return request_digest(
        call.fingerprint if call.fingerprint is not None else call.request.to_dict()
    )


def _no_shuttle(quote: ShuttleQuote) -> RejectedError:
    return RejectedError(
        f"no shuttle can serve this trip: {quote.reason}",
        fix="try a later pickup time or fewer passengers",
    )


def local_midnight(unix: float, timezone: str) -> float:
    """UNIX seconds of the local midnight that starts the day of ``unix``."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    day = dt.datetime.fromtimestamp(unix, zone).date()
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp()


class BookingService:
    """Durable, idempotent shuttle bookings over a :class:`ShuttleDispatcher`.

    Parameters
    ----------
    store : BookingStore
        Where bookings and the dispatch log live.
    dispatcher : ShuttleDispatcher or None
        None when this build has no dispatcher: every shuttle call then answers 503.
    on_outcome : callable, optional
        Called with ``"created" | "replayed" | "rejected" | "cancelled"`` (metrics).
    timezone : str
        The region's zone (an epoch's clock origin is a local midnight).
    clock : callable
        UNIX time now.
    log_limit, epoch_max_age_s :
        When a restart starts a new epoch instead of replaying the log.
    db_retry_s : float
        How long a call is redone while the database is unreachable.
    """

    def __init__(
        self,
        store: BookingStore,
        dispatcher: ShuttleDispatcher | None,
        *,
        on_outcome: Any = None,
        timezone: str = "Europe/Berlin",
        clock: Callable[[], float] = time.time,
        log_limit: int = LOG_LIMIT,
        epoch_max_age_s: float = EPOCH_MAX_AGE_S,
        db_retry_s: float = DB_RETRY_S,
    ) -> None:
        self.store = store
        self.db_retry_s = db_retry_s
        self.db_retries = 0
        self.dispatcher = dispatcher
        self._on_outcome = on_outcome or (lambda outcome: None)
        self.timezone = timezone
        self.clock = clock
        self.log_limit = log_limit
        self.epoch_max_age_s = epoch_max_age_s
        # One caller at a time in this process: the dispatcher's state is not thread-safe.
        self.lock = threading.RLock()
        self.epoch: dict[str, Any] | None = None
        self.seen_seq = 0
        self.clock_high = 0.0  # latest instant this dispatcher was moved to
        self.replayed = 0
        self.replay_failures = 0
        self._dirty = False
        self._mutating = False  # the dispatcher's plans may have changed in this call
        if dispatcher is not None:

            def open_epoch() -> None:
                with self.lock, store.exclusive() as tx:
                    self._open_epoch(tx)

            # A redo after a lost COMMIT joins the epoch it may have started: no harm.
            self._with_retries("joining the dispatch log", open_epoch)

    @property
    def available(self) -> bool:
        """Whether a dispatcher is wired in."""
        return self.dispatcher is not None

    def _need_dispatcher(self) -> ShuttleDispatcher:
        if self.dispatcher is None:
            raise UnavailableError(NOT_AVAILABLE, fix="plan with walk, bike or transit instead")
        return self.dispatcher

    # ------------------------------------------------------------------ the dispatch log
    def _open_epoch(self, tx: Tx) -> None:
        """Join the current epoch (replaying its log), or start a new one when needed."""
        import json

        raw = self.store.meta("dispatch_epoch", tx)
        epoch = json.loads(raw) if raw else None
        now = self.clock()
        if epoch is not None:
            length = self.store.log_length(epoch["id"], tx)
            too_long = length > self.log_limit
            too_old = now - float(epoch["started"]) > self.epoch_max_age_s
            if not (too_long or too_old):
                self._join(epoch, tx)
                logger.info(
                    "shuttle dispatcher joined epoch %s: %d log entries replayed",
                    epoch["id"][:8],
                    length,
                )
                return
        self._new_epoch(tx, now)

    def _new_epoch(self, tx: Tx, now: float) -> None:
        import json

        now = max(now, self.store.last_log(tx)[1])
        epoch: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "origin": local_midnight(now, self.timezone),
            "started": now,
        }
        self.store.set_meta(tx, "dispatch_epoch", json.dumps(epoch))
        self._join(epoch, tx)
        # Carry the open bookings over, oldest first, with the promises they were given.
        carried = lost = 0
        for booking in self.store.open_bookings(tx):
            request = ShuttleRequest.from_dict(booking.request)
            quote = ShuttleQuote.from_dict(booking.quote)
            try:
                self._at(now)
                self.dispatcher.commit(booking.id, request, quote)  # type: ignore[union-attr]
            except Exception as exc:
                lost += 1
                logger.warning("open booking %s cannot be carried over: %s", booking.id, exc)
                continue
            self._append(tx, "book", now, booking.id, {"request": booking.request,
                                                       "quote": booking.quote})  # fmt: skip
            carried += 1
        logger.info(
            "shuttle dispatcher started epoch %s: %d open bookings carried over, %d lost",
            epoch["id"][:8],
            carried,
            lost,
        )

    def _join(self, epoch: dict[str, Any], tx: Tx | None) -> None:
        """Empty plans at the epoch's origin, then every entry of its log."""
        dispatcher = self._need_dispatcher()
        dispatcher.reset(float(epoch["origin"]))
        self.epoch = epoch
        self.seen_seq = 0
        self.clock_high = 0.0
        self._dirty = False
        for entry in self.store.log_since(epoch["id"], 0, tx):
            self._apply(entry, rebuilding=True)

    def _at(self, unix: float) -> float:
        self.clock_high = max(self.clock_high, unix)
        self._need_dispatcher().pin_clock(unix)
        return unix

    def _apply(self, entry: LogEntry, *, rebuilding: bool = False) -> None:
        """Apply one log entry of another worker (or of a replay) at its instant."""
        dispatcher = self._need_dispatcher()
        if entry.at < self.clock_high - 1e-6 and not rebuilding:
            # This dispatcher already moved past the entry's instant: replaying it
            # now could differ from the original, so rebuild from the whole log.
            logger.warning("log entry %d is older than this dispatcher's clock; rebuilding",
                           entry.seq)  # fmt: skip
            self._dirty = True
            return
        self._at(entry.at)
        try:
            if entry.kind == "book":
                request = ShuttleRequest.from_dict(entry.data["request"])
                dispatcher.quote(request)  # the same calls as the worker that booked
                dispatcher.commit(
                    str(entry.booking_id), request, ShuttleQuote.from_dict(entry.data["quote"])
                )
            elif entry.kind == "book_now":
                request = ShuttleRequest.from_dict(entry.data["request"])
                got = dispatcher.book_now(str(entry.booking_id), request)  # type: ignore[attr-defined]
                if got.to_dict() != entry.data["quote"]:
                    raise RuntimeError(f"the replayed offer differs from the booked one: {got}")
            elif entry.kind == "cancel":
                dispatcher.cancel(str(entry.booking_id))
            elif entry.kind == "reoptimise":
                dispatcher.reoptimise()  # type: ignore[attr-defined]
            elif entry.kind == "reposition":
                dispatcher.reposition(  # type: ignore[attr-defined]
                    int(entry.data["vehicle"]), int(entry.data["target"])
                )
            else:
                logger.error("unknown dispatch log entry kind %r (seq %d)", entry.kind, entry.seq)
        except Exception as exc:
            self.replay_failures += 1
            logger.error("replaying dispatch log entry %d (%s %s) failed: %s", entry.seq,
                         entry.kind, entry.booking_id, exc)  # fmt: skip
            if not rebuilding:
                self._dirty = True
        self.seen_seq = entry.seq
        self.replayed += 1

    def _catch_up(self, tx: Tx | None) -> None:
        """Apply what other workers logged since the last entry seen (all of it if needed)."""
        import json

        assert self.epoch is not None
        if tx is not None:
            raw = self.store.meta("dispatch_epoch", tx)
            current = json.loads(raw) if raw else None
            if current is not None and current["id"] != self.epoch["id"]:
                logger.info("another worker started epoch %s; joining it", current["id"][:8])
                self._join(current, tx)
                return
        if self._dirty:
            self._join(self.epoch, tx)
            return
        for entry in self.store.log_since(self.epoch["id"], self.seen_seq, tx):
            self._apply(entry)
            if self._dirty:
                self._join(self.epoch, tx)
                return

    def _append(
        self, tx: Tx, kind: str, at: float, booking_id: str | None = None, data: Any = None
    ) -> None:
        assert self.epoch is not None
        self.seen_seq = self.store.append_log(
            tx, self.epoch["id"], kind, at, booking_id=booking_id, data=data
        )

    def _now(self) -> float:
        """The instant of a new decision: never before anything this dispatcher has seen."""
        return self._at(max(self.clock(), self.clock_high))

    def _synced(self) -> Any:
        """Context: process lock + database write lock, with the log caught up."""
        service = self

        class _Synced:
            def __enter__(self) -> Tx:
                service.lock.acquire()
                service._mutating = False
                try:
                    service._catch_up(None)  # most of it outside the database lock
                    self._tx_cm = service.store.exclusive()
                    tx = self._tx_cm.__enter__()
                    try:
                        service._catch_up(tx)
                    except BaseException:
                        self._tx_cm.__exit__(*sys.exc_info())
                        raise
                    return tx
                except BaseException:
                    service.lock.release()
                    raise

            def __exit__(self, *exc: Any) -> None:
                try:
                    if exc[0] is not None and service._mutating:
                        # The transaction rolls back: whatever the dispatcher did for it
                        # must be undone too, so rebuild from the log next time.
                        service._dirty = True
                    try:
                        self._tx_cm.__exit__(*exc)
                    except BaseException:
                        # The COMMIT failed (a lost connection): the same, whether or
                        # not it was stored, the log says what the plans are.
                        if service._mutating:
                            service._dirty = True
                        raise
                finally:
                    service.lock.release()

        return _Synced()

    def _with_retries(self, what: str, attempt: Callable[[], _T]) -> _T:
        """``attempt()``, redone while the database is unreachable (up to ``db_retry_s``).

        Only for attempts that change nothing when they fail: a rolled-back
        transaction (:class:`DatabaseUnavailableError`). Blocks the caller
        (and its event loop) meanwhile: requests wait rather than fail.
        """
        deadline = time.monotonic() + self.db_retry_s
        delay = 0.05
        while True:
            try:
                return attempt()
            except DatabaseUnavailableError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                self.db_retries += 1
                logger.warning("%s: %s; redoing it in %.2f s", what, exc, delay)
                time.sleep(delay)
                delay = min(2 * delay, 1.0)

    # ------------------------------------------------------------------ passenger calls
    def quote(self, request: ShuttleRequest) -> ShuttleQuote:
        """Ask the dispatcher for an offer without booking it."""
        dispatcher = self._need_dispatcher()

        def attempt() -> ShuttleQuote:
            with self._synced():
                self._now()
                return dispatcher.quote(request)

        return self._with_retries("quote", attempt)

    def book(
        self,
        request: ShuttleRequest,
        *,
        idempotency_key: str | None = None,
        fingerprint: dict[str, Any] | None = None,
    ) -> BookingResult:
        """Quote, commit and store a booking; replay the stored one for a known key.

        ``fingerprint`` identifies a retry (the client's body as sent); default the request.

        Returns
        -------
        (Booking, str, bool)
            The booking, the passenger's token and whether it was created now.
        """
        [result] = self.book_many([BookingCall(request, idempotency_key, fingerprint)])
        if isinstance(result, BaseException):
            raise result
        return result

    def book_many(self, calls: list[BookingCall]) -> list[BookingResult | BaseException]:
        """Book several trips in one lock hold and one transaction (group commit).

        The calls are decided one after the other, in order, exactly as
        separate :meth:`book` calls would be; only the locking, the catch-up
        with other workers and the database commit are shared. A call refused
        before it changed anything (no seat, a reused Idempotency-Key) gets its
        error as its answer. Should a call fail half-way, the transaction rolls
        back and the calls are booked one by one, so no call's failure becomes
        another's.

        Returns
        -------
        list
            Per call, in order: ``(booking, token, created)`` or the exception to answer with.
        """
        dispatcher = self._need_dispatcher()
        retries = self._stored_retries(calls)
        todo = [call for call, retry in zip(calls, retries, strict=True) if retry is None]
        decided = self._decide_batch(dispatcher, todo) if todo else []
        answers: list[BookingResult | BaseException] = []
        fresh = iter(decided)
        for retry in retries:
            if retry is None:
                result, outcome = next(fresh)
            else:
                result, outcome = retry, "" if isinstance(retry, ConflictError) else "replayed"
            if outcome:  # after the commit: counted once, even if a batch is redone
                self._on_outcome(outcome)
            answers.append(result)
        return answers

    def _decide_batch(
        self, dispatcher: ShuttleDispatcher, calls: list[BookingCall]
    ) -> list[tuple[BookingResult | BaseException, str]]:
        """(answer, outcome) per call, decided in one transaction (one by one should it fail)."""
        decided: list[tuple[BookingResult | BaseException, str]] = []

        def attempt() -> list[tuple[BookingResult | BaseException, str]]:
            decided.clear()
            try:
                with self._synced() as tx:
                    for call in calls:
                        result: BookingResult | BaseException
                        try:
                            result, outcome = self._book_one(tx, dispatcher, call)
                        except _RefusedError as refused:
                            result, outcome = refused.error, refused.outcome
                        decided.append((result, outcome))
            except CommitOutcomeUnknownError:
                if self._batch_was_stored(decided):
                    return list(decided)
                raise  # rolled back: redo the batch
            return list(decided)

        try:
            decided = self._with_retries(f"booking batch of {len(calls)}", attempt)
        except UnavailableError:
            # Every call of the batch gets the 503; never redone one by one: after an
            # unanswered COMMIT whose outcome stays unknown that could book twice.
            raise
        except Exception:
            if len(calls) == 1:
                raise
            logger.warning("a booking failed inside a batch of %d; booking them one by one",
                           len(calls), exc_info=True)  # fmt: skip
            decided = []
            for call in calls:
                try:
                    [answer] = self.book_many([call])
                except Exception as exc:
                    answer = exc
                decided.append((answer, ""))  # counted by the inner call
        return decided

    def _batch_was_stored(self, decided: list[tuple[BookingResult | BaseException, str]]) -> bool:
        """Whether a batch whose ``COMMIT`` got no answer was committed (its first new booking).

        Raises
        ------
        UnavailableError
            The database stays unreachable: the outcome is still unknown, so the
            batch must not be redone (not a :class:`DatabaseUnavailableError`).
        """
        created = [r[0].id for r, _ in decided if isinstance(r, tuple) and r[2]]
        if not created:
            return False  # nothing was written that a redo could duplicate
        try:
            stored = self.store.get(created[0]) is not None
        except DatabaseUnavailableError as exc:
            raise UnavailableError(
                f"the bookings database went away while confirming {len(created)} booking(s)",
                fix="retry with the same Idempotency-Key: it answers with the booking if it "
                "was stored",
            ) from exc
        logger.warning("a booking batch's COMMIT got no answer; it was %sstored",
                       "" if stored else "not ")  # fmt: skip
        return stored

    def _stored_retries(
        self, calls: list[BookingCall]
    ) -> list[BookingResult | ConflictError | None]:
        """Per call: its stored booking when it is a retry (or the key's conflict), else None.

        Read without the lock: a retry changes nothing, so it waits for no one.
        """
        found: list[BookingResult | ConflictError | None] = []
        for call in calls:
            answer: BookingResult | ConflictError | None = None
            if call.idempotency_key is not None:
                try:
                    answer = self._replay(call.idempotency_key, _digest(call), None)
                except ConflictError as exc:
                    answer = exc
            found.append(answer)
        return found

    def _book_one(
        self, tx: Tx, dispatcher: ShuttleDispatcher, call: BookingCall
    ) -> tuple[BookingResult, str]:
        """Decide and store one booking inside the batch's transaction.

        Raises :class:`_RefusedError` for an answer given before anything changed.
        """
        key = call.idempotency_key
        payload = call.request.to_dict()
        digest = _digest(call)
        if key is not None:
            try:
                replay = self._replay(key, digest, tx)
            except ConflictError as exc:
                raise _RefusedError(exc, "") from None
            if replay is not None:
                return replay, "replayed"
        now = self._now()
        booking_id = str(uuid.uuid4())
        one_step = hasattr(dispatcher, "book_now")
        if one_step:
            changed_before = self._mutating
            self._mutating = True
            quote = dispatcher.book_now(booking_id, call.request)  # type: ignore[attr-defined]
            if not quote.accepted:
                self._mutating = changed_before  # a refusal changed nothing
        else:
            quote = dispatcher.quote(call.request)
        if not quote.accepted:
            raise _RefusedError(_no_shuttle(quote), "rejected")
        stored = quote.to_dict()
        booking = self.store.insert(
            tx,
            request=payload,
            quote=stored,
            idempotency_key=key,
            digest=digest,
            now=now,
            booking_id=booking_id,
        )
        kind = "book_now" if one_step else "book"
        self._append(tx, kind, now, booking_id, {"request": payload, "quote": stored})
        if not one_step:
            # Last: a refusal rolls the transaction back (and the plans are rebuilt).
            self._mutating = True
            dispatcher.commit(booking_id, call.request, quote)
        return (booking, self.store.token_for(booking.id), True), "created"

    def _replay(self, key: str, digest: str, tx: Tx | None) -> BookingResult | None:
        found = self.store.find_by_idempotency_key(key, tx)
        if found is None:
            return None
        booking, stored_digest = found
        if stored_digest != digest:
            raise ConflictError(
                f"Idempotency-Key {key!r} was already used for a different booking request",
                fix="use a new Idempotency-Key for a new trip",
            )
        return booking, self.store.token_for(booking.id), False

    def get(self, booking_id: str, token: str | None) -> Booking:
        """Return a booking to the holder of its token (404 otherwise: ids are not probeable).

        The status is the one the dispatcher's plans give now (a booking whose
        shuttle has set off reads ``assigned`` at once, not after the next
        periodic run), so what a passenger reads is what :meth:`cancel` enforces.
        """
        return self._current(self._authorised(booking_id, token))

    def _authorised(self, booking_id: str, token: str | None) -> Booking:
        booking = self.store.get(booking_id)
        if booking is None or not self.store.check_token(booking_id, token):
            if booking is not None and not token:
                raise AuthError(
                    "this booking needs its token",
                    fix="send the token returned at creation in the X-Booking-Token header",
                )
            raise NotFoundError(
                f"no booking {booking_id!r} for this token",
                fix="check the booking id and the X-Booking-Token header",
            )
        return booking

    def _current(self, booking: Booking) -> Booking:
        """``booking`` with the milestones the dispatcher's plans have reached by now stored."""
        if booking.status not in STATUS_RANK or not hasattr(self.dispatcher, "progress"):
            return booking
        if booking.status == "completed":
            return booking

        def attempt() -> Booking:
            # Under the database lock, like every decision: moving this dispatcher's clock
            # to now outside it could put it past an entry another worker is about to log.
            with self._synced() as tx:
                self._now()
                current = self.store.get(booking.id, tx)
                assert current is not None
                if self._record_progress(tx, [current]):
                    current = self.store.get(booking.id, tx)
                    assert current is not None
            return current

        # Recording milestones twice stores them once: redone while the database is away.
        return self._with_retries("read", attempt)

    def cancel(self, booking_id: str, token: str | None) -> Booking:
        """Cancel an open booking for the holder of its token.

        A refusal (the shuttle has set off) stores the status that made it, so
        a following read agrees with the 409.
        """
        booking = self._current(self._authorised(booking_id, token))
        if booking.status == "cancelled":
            return booking
        _check_cancellable(booking)
        if self.dispatcher is None:
            return self.store.set_status(booking_id, "cancelled", "cancelled by passenger")
        dispatcher = self.dispatcher
        cancelled_here = False

        def attempt() -> tuple[Booking, ConflictError | None]:
            """The booking after the attempt, and the dispatcher's refusal if any."""
            nonlocal cancelled_here
            refused: ConflictError | None = None
            with self._synced() as tx:
                current = self.store.get(booking_id, tx)
                assert current is not None
                if current.status == "cancelled":
                    return current, None
                _check_cancellable(current)
                now = self._now()
                try:
                    # First: a dispatcher that refuses (vehicle on its way) has changed nothing.
                    dispatcher.cancel(booking_id)
                except ConflictError as exc:
                    refused = exc
                    self._record_progress(tx, [current])  # committed: reads show why
                else:
                    self._mutating = True
                    self.store.update_status(
                        tx, booking_id, "cancelled", "cancelled by passenger", now
                    )
                    self._append(tx, "cancel", now, booking_id)
                after = self.store.get(booking_id, tx)
            assert after is not None
            cancelled_here = refused is None
            return after, refused

        # A redo after an unanswered COMMIT finds the booking cancelled: idempotent.
        after, refused = self._with_retries("cancel", attempt)
        if refused is not None:
            raise refused
        if cancelled_here:
            self._on_outcome("cancelled")
        return after

    # ------------------------------------------------------------------ operator calls
    def vehicles(self) -> list[dict[str, Any]]:
        """Every vehicle with its plan, after applying every booking of every worker."""
        dispatcher = self._need_dispatcher()

        def attempt() -> list[dict[str, Any]]:
            with self._synced():
                self._now()
                return dispatcher.vehicles()

        return self._with_retries("vehicles", attempt)

    def periodic(self, *, every_s: float, rebalance: bool = True) -> dict[str, Any]:
        """Re-optimise the open plans and move idle vehicles toward demand (logged).

        Skipped when another worker did it less than ``0.8 * every_s`` ago.
        Returns what was done (``skipped``, ``requests``, ``cost_before``,
        ``cost_after``, ``moves``).
        """
        dispatcher = self._need_dispatcher()
        with self._synced() as tx:
            last = self.store.load_state("periodic", tx) or {}
            now = self._now()
            if now - float(last.get("at", 0.0)) < 0.8 * every_s:
                return {"skipped": "done recently by another worker"}
            progressed = self._record_progress(tx)
            stats: dict[str, Any] = {}
            if hasattr(dispatcher, "reoptimise"):
                self._mutating = True
                stats = dict(dispatcher.reoptimise())
                if stats.get("requests", 0) > 0:
                    self._append(tx, "reoptimise", now)
            moves = []
            if rebalance and hasattr(dispatcher, "rebalance_moves"):
                for vehicle, target in dispatcher.rebalance_moves():
                    if dispatcher.reposition(vehicle, target):  # type: ignore[attr-defined]
                        self._append(tx, "reposition", now, None,
                                     {"vehicle": int(vehicle), "target": int(target)})  # fmt: skip
                        moves.append((int(vehicle), int(target)))
            result = {
                "at": now,
                **{k: float(v) for k, v in stats.items()},
                "moves": len(moves),
                "status_changes": progressed,
            }
            self.store.save_state("periodic", result, tx)
        logger.info(
            "shuttle plans re-optimised: %d open requests, cost %.0f -> %.0f, %d vehicles "
            "moved, %d booking status changes",
            result.get("requests", 0),
            result.get("cost_before", 0.0),
            result.get("cost_after", 0.0),
            len(moves),
            progressed,
        )
        return result

    def _record_progress(self, tx: Tx, bookings: list[Booking] | None = None) -> int:
        """Store the milestones the open bookings reached (assigned, picked up, completed).

        Each becomes a status change with the instant it happened, in order, so
        a booking served between two runs shows its whole history. ``bookings``
        limits it to these (default: every open booking). Returns the number of
        changes stored.
        """
        progress = getattr(self.dispatcher, "progress", None)
        if progress is None:
            return 0
        open_bookings = self.store.open_bookings(tx) if bookings is None else bookings
        if not open_bookings:
            return 0
        reached = progress([b.id for b in open_bookings])
        changes = 0
        for booking in open_bookings:
            rank = STATUS_RANK[booking.status]
            for status, at in reached.get(booking.id, ()):
                if STATUS_RANK[status] > rank:
                    self.store.update_status(tx, booking.id, status, PROGRESS_DETAIL[status], at)
                    rank = STATUS_RANK[status]
                    changes += 1
        return changes
