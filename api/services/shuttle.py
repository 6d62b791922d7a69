"""Shuttle bookings: the API's one adapter over the dispatch protocol.

The API does not decide who gets a seat; a dispatcher does
(:class:`fleet.online.protocol.ShuttleDispatcher`, implemented by the fleet's
online dispatcher). This module adds only what a passenger needs from the
service around it: idempotent creation, a token per booking, durable state
changes (:mod:`api.storage.bookings`), and the mapping of the dispatcher's
answers to HTTP errors. That the plans are the same in every worker process
and after a restart is the dispatch log's work (:mod:`api.services.dispatch_log`).

A database that goes away
-------------------------
A call is redone on a new connection while the database is unreachable
(:meth:`api.services.dispatch_log.DispatchLog.with_retries`). Should the break
come during ``COMMIT``, the booking service first looks whether the batch's
first new booking was stored: if so the answers stand, else the batch is
redone; a booking is never answered twice or lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from api.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)
from api.services.dispatch_log import (
    DB_RETRY_S,
    EPOCH_MAX_AGE_S,
    LOG_LIMIT,
    DispatchLog,
    local_midnight,
)
from api.storage import Booking, BookingStore
from api.storage.bookings import FINAL_STATUSES, LogKind, request_digest
from api.storage.db import CommitOutcomeUnknownError, DatabaseUnavailableError, Tx
from fleet.online.protocol import (
    BookingMilestone,
    Capability,
    EventConflictError,
    ImplausibleEventError,
    NotCancellableError,
    QuoteExpiredError,
    ReportError,
    ShuttleDispatcher,
    ShuttleQuote,
    ShuttleRequest,
    UnknownTargetError,
    VehicleReport,
)
from routing.errors import RequestError

logger = logging.getLogger(__name__)

_R = TypeVar("_R")

NOT_AVAILABLE = "shuttle dispatch not available in this build"


PROGRESS_DETAIL = {
    "assigned": "the shuttle is on its way to the pickup",
    "arriving": "the shuttle is arriving",
    "picked_up": "picked up",
    "delayed": "the shuttle is late",
    "completed": "dropped off",
    "no_show": "nobody came to the pickup",
    "cancelled_by_operator": "cancelled by the operator",
}
#: A passenger may cancel until a vehicle sets off to pick them up (the dispatcher
#: refuses a delayed booking whose passengers are on board).
CANCELLABLE = ("confirmed", "delayed")
#: With real vehicles a booking moved to another vehicle reads ``assigned`` again while
#: that vehicle has not set off: the live dispatcher decides (it refuses once one has).
CANCELLABLE_LIVE = ("confirmed", "assigned", "delayed")


def _check_cancellable(booking: Booking, *, live: bool = False) -> None:
    if booking.status not in (CANCELLABLE_LIVE if live else CANCELLABLE):
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

    Attributes
    ----------
    log : DispatchLog or None
        The dispatcher kept in step with the other workers (None without a dispatcher).
    """

    def __init__(
        self,
        store: BookingStore,
        dispatcher: ShuttleDispatcher | None,
        *,
        on_outcome: Callable[[str], None] | None = None,
        timezone: str = "Europe/Berlin",
        clock: Callable[[], float] = time.time,
        log_limit: int = LOG_LIMIT,
        epoch_max_age_s: float = EPOCH_MAX_AGE_S,
        db_retry_s: float = DB_RETRY_S,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.timezone = timezone
        self.clock = clock
        self.on_outcome: Callable[[str], None] = on_outcome or (lambda outcome: None)
        self.log: DispatchLog | None = None
        if dispatcher is not None:
            self.log = DispatchLog(
                store,
                dispatcher,
                timezone=timezone,
                clock=clock,
                log_limit=log_limit,
                epoch_max_age_s=epoch_max_age_s,
                db_retry_s=db_retry_s,
            )
            self.log.open()

    @property
    def available(self) -> bool:
        """Whether a dispatcher is wired in."""
        return self.log is not None

    def _need_log(self) -> DispatchLog:
        if self.log is None:
            raise UnavailableError(NOT_AVAILABLE, fix="plan with walk, bike or transit instead")
        return self.log

    # ------------------------------------------------------------------ passenger calls
    def quote(self, request: ShuttleRequest) -> ShuttleQuote:
        """Ask the dispatcher for an offer without booking it."""
        log = self._need_log()

        def attempt() -> ShuttleQuote:
            with log.synced():
                log.now()
                return log.dispatcher.quote(request)

        return log.with_retries("quote", attempt)

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
        log = self._need_log()
        retries = self._stored_retries(calls)
        todo = [call for call, retry in zip(calls, retries, strict=True) if retry is None]
        decided = self._decide_batch(log, todo) if todo else []
        answers: list[BookingResult | BaseException] = []
        fresh = iter(decided)
        for retry in retries:
            if retry is None:
                result, outcome = next(fresh)
            else:
                result, outcome = retry, "" if isinstance(retry, ConflictError) else "replayed"
            if outcome:  # after the commit: counted once, even if a batch is redone
                self.on_outcome(outcome)
            answers.append(result)
        return answers

    def _decide_batch(
        self, log: DispatchLog, calls: list[BookingCall]
    ) -> list[tuple[BookingResult | BaseException, str]]:
        """(answer, outcome) per call, decided in one transaction (one by one should it fail)."""
        decided: list[tuple[BookingResult | BaseException, str]] = []

        def attempt() -> list[tuple[BookingResult | BaseException, str]]:
            decided.clear()
            try:
                with log.synced() as tx:
                    for call in calls:
                        result: BookingResult | BaseException
                        try:
                            result, outcome = self._book_one(tx, log, call)
                        except _RefusedError as refused:
                            result, outcome = refused.error, refused.outcome
                        decided.append((result, outcome))
            except CommitOutcomeUnknownError:
                if self._batch_was_stored(decided):
                    return list(decided)
                raise  # rolled back: redo the batch
            return list(decided)

        try:
            decided = log.with_retries(f"booking batch of {len(calls)}", attempt)
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

    def _book_one(self, tx: Tx, log: DispatchLog, call: BookingCall) -> tuple[BookingResult, str]:
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
        dispatcher = log.dispatcher
        now = log.now()
        booking_id = str(uuid.uuid4())
        one_step = Capability.BOOK_NOW in dispatcher.capabilities
        if one_step:
            changed_before = log.mutating
            log.mutating = True
            quote = dispatcher.book_now(booking_id, call.request)
            if not quote.accepted:
                log.mutating = changed_before  # a refusal changed nothing
        else:
            quote = dispatcher.quote(call.request)
        if not quote.accepted:
            self.store.bump_counter(tx, self._day_counter("refused", now))
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
        kind = LogKind.BOOK_NOW if one_step else LogKind.BOOK
        log.append(tx, kind, now, booking_id, {"request": payload, "quote": stored})
        if not one_step:
            # Last: a refusal rolls the transaction back (and the plans are rebuilt).
            log.mutating = True
            try:
                dispatcher.commit(booking_id, call.request, quote)
            except QuoteExpiredError as exc:
                raise RejectedError(str(exc), fix="ask for a new quote") from None
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
        log = self.log
        if log is None or Capability.PROGRESS not in log.dispatcher.capabilities:
            return booking
        if booking.status in FINAL_STATUSES:
            return booking

        def attempt() -> Booking:
            # Under the database lock, like every decision: moving this dispatcher's clock
            # to now outside it could put it past an entry another worker is about to log.
            with log.synced() as tx:
                log.now()
                current = self.store.get(booking.id, tx)
                assert current is not None
                if self._record_progress(tx, log, [current]):
                    current = self.store.get(booking.id, tx)
                    assert current is not None
            return current

        # Recording milestones twice stores them once: redone while the database is away.
        return log.with_retries("read", attempt)

    def cancel(self, booking_id: str, token: str | None) -> Booking:
        """Cancel an open booking for the holder of its token.

        A refusal (the shuttle has set off) stores the status that made it, so
        a following read agrees with the 409.
        """
        booking = self._current(self._authorised(booking_id, token))
        if booking.status == "cancelled":
            return booking
        log = self.log
        live = log is not None and Capability.LIVE in log.dispatcher.capabilities
        _check_cancellable(booking, live=live)
        if log is None:
            return self.store.set_status(booking_id, "cancelled", "cancelled by passenger")
        cancelled_here = False

        def attempt() -> tuple[Booking, ConflictError | None]:
            """The booking after the attempt, and the dispatcher's refusal if any."""
            nonlocal cancelled_here
            refused: ConflictError | None = None
            with log.synced() as tx:
                current = self.store.get(booking_id, tx)
                assert current is not None
                if current.status == "cancelled":
                    return current, None
                _check_cancellable(current, live=live)
                now = log.now()
                try:
                    # First: a dispatcher that refuses (vehicle on its way) has changed nothing.
                    log.dispatcher.cancel(booking_id)
                except NotCancellableError as exc:
                    refused = ConflictError(
                        str(exc),
                        fix="the shuttle is on its way or the trip has started; contact the "
                        "operator",
                    )
                    self._record_progress(tx, log, [current])  # committed: reads show why
                else:
                    log.mutating = True
                    self.store.update_status(
                        tx, booking_id, "cancelled", "cancelled by passenger", now
                    )
                    log.append(tx, LogKind.CANCEL, now, booking_id)
                after = self.store.get(booking_id, tx)
            assert after is not None
            cancelled_here = refused is None
            return after, refused

        # A redo after an unanswered COMMIT finds the booking cancelled: idempotent.
        after, refused = log.with_retries("cancel", attempt)
        if refused is not None:
            raise refused
        if cancelled_here:
            self.on_outcome("cancelled")
        return after

    # ------------------------------------------------------------------ operator calls
    def vehicles(self) -> list[dict[str, Any]]:
        """Every vehicle with its plan, after applying every booking of every worker."""
        log = self._need_log()

        def attempt() -> list[dict[str, Any]]:
            with log.synced():
                log.now()
                return log.dispatcher.vehicles()

        return log.with_retries("vehicles", attempt)

    def periodic(self, *, every_s: float, rebalance: bool = True) -> dict[str, Any]:
        """Re-optimise the open plans and move idle vehicles toward demand (logged).

        Skipped when another worker did it less than ``0.8 * every_s`` ago.

        Parameters
        ----------
        every_s : float
            The period of the caller's timer.
        rebalance : bool
            Also move idle vehicles (when the dispatcher can).

        Returns
        -------
        dict
            What was done (``skipped``, ``requests``, ``cost_before``,
            ``cost_after``, ``moves``, ``status_changes``).
        """
        log = self._need_log()
        dispatcher = log.dispatcher
        can = dispatcher.capabilities
        with log.synced() as tx:
            last = self.store.load_state("periodic", tx) or {}
            now = log.now()
            if now - float(last.get("at", 0.0)) < 0.8 * every_s:
                return {"skipped": "done recently by another worker"}
            progressed = self._record_progress(tx, log)
            stats: dict[str, Any] = {}
            if Capability.REOPTIMISE in can:
                log.mutating = True
                stats = dict(dispatcher.reoptimise())
                if stats.get("requests", 0) > 0:
                    log.append(tx, LogKind.REOPTIMISE, now)
            moves = []
            if rebalance and Capability.REBALANCE in can:
                for move in dispatcher.rebalance_moves():
                    if dispatcher.reposition(move):
                        log.append(tx, LogKind.REPOSITION, now, None,
                                   {"vehicle": move.vehicle, "target": move.target})  # fmt: skip
                        moves.append(move)
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

    def _record_progress(
        self, tx: Tx, log: DispatchLog, bookings: list[Booking] | None = None
    ) -> int:
        """Store the milestones the open bookings reached (see :class:`BookingMilestone`).

        Each becomes a status change with the instant it happened, in order, so
        a booking served between two runs shows its whole history; one stored
        already (same status, same instant) is not stored again. ``bookings``
        limits it to these (default: every open booking). Returns the number
        of changes stored.
        """
        if Capability.PROGRESS not in log.dispatcher.capabilities:
            return 0
        open_bookings = self.store.open_bookings(tx) if bookings is None else bookings
        if not open_bookings:
            return 0
        reached = log.dispatcher.progress([b.id for b in open_bookings])
        if not reached:
            return 0
        stored = self.store.events_of(list(reached), tx)
        changes = 0
        for booking in open_bookings:
            seen = {(e.status, round(e.at, 3)) for e in stored.get(booking.id, ())}
            for milestone in reached.get(booking.id, ()):
                if (milestone.status, round(milestone.at, 3)) in seen:
                    continue
                self.store.update_status(tx, booking.id, milestone.status,
                                         self._detail(milestone), milestone.at)  # fmt: skip
                changes += 1
        return changes

    def _detail(self, milestone: BookingMilestone) -> str:
        """The event text of a milestone: its reason and, when known, the new ETA."""
        text = milestone.reason or PROGRESS_DETAIL.get(milestone.status, milestone.status)
        if milestone.status in ("delayed", "assigned", "arriving") and math.isfinite(milestone.eta):
            local = dt.datetime.fromtimestamp(milestone.eta, ZoneInfo(self.timezone))
            text += f" (ETA {local:%H:%M})"
        return text

    def _day_counter(self, name: str, unix: float) -> str:
        return f"{name}:{local_midnight(unix, self.timezone):.0f}"

    # ------------------------------------------------------------------ vehicles
    def report(self, report: VehicleReport, report_id: str) -> tuple[dict[str, Any], bool]:
        """Apply a vehicle's report once: ``(answer, replayed)``.

        The report, its log entry and the booking milestones it caused are
        stored in one transaction; the same ``report_id`` again answers what
        was answered the first time and changes nothing.

        Raises
        ------
        NotFoundError, ConflictError, RequestError
            The dispatcher refused it (unknown vehicle or booking; out of order
            or not in that state; impossible); nothing is stored.
        """
        log = self._need_log()
        if Capability.LIVE not in log.dispatcher.capabilities:
            raise ConflictError(
                "this server simulates its shuttle fleet and takes no vehicle reports",
                fix="start it with ELSTER_SHUTTLE_OPERATION=live for real vehicles",
            )
        stored = self.store.find_report(report.vehicle, report_id)
        if stored is not None:
            return stored, True

        def attempt() -> tuple[dict[str, Any], bool]:
            with log.synced() as tx:
                again = self.store.find_report(report.vehicle, report_id, tx)
                if again is not None:  # a redo after an unanswered COMMIT, or a racing replay
                    return again, True
                now = log.now()
                log.mutating = True
                try:
                    changes = log.dispatcher.report(report)
                except ReportError as exc:
                    log.mutating = False  # a refused report changed nothing
                    raise _report_error(exc) from None
                answer = {"applied": True, "at": now, "changes": changes}
                self.store.insert_report(tx, report.vehicle, report_id, report.kind, now, answer)
                log.append(tx, LogKind.VEHICLE_REPORT, now, report.booking,
                           {"report": report.to_dict(), "report_id": report_id})  # fmt: skip
                self._record_progress(tx, log)
            return answer, False

        return log.with_retries(f"{report.kind} report", attempt)

    def _read(self, what: str, read: Callable[[ShuttleDispatcher], _R]) -> _R:
        """``read(dispatcher)`` with every worker's log applied, at now."""
        log = self._need_log()

        def attempt() -> _R:
            with log.synced():
                log.now()
                return read(log.dispatcher)

        return log.with_retries(what, attempt)

    def manifest(self, vehicle: str) -> list[dict[str, Any]]:
        """A vehicle's next stops with planned times and each booking's pickup code."""
        stops = self._read("manifest", lambda d: d.manifest(vehicle))
        for stop in stops:
            stop["pickup_code"] = (
                self.store.pickup_code(stop["booking"]) if stop["kind"] == "pickup" else None
            )
        return stops

    def booking_live(self, booking_id: str) -> dict[str, Any] | None:
        """Where a booking's vehicle is and when it comes (None: no vehicle has it now)."""
        return self._read("live booking", lambda d: d.booking_live(booking_id))

    def day_kpis(self) -> dict[str, Any]:
        """The day's KPIs: the dispatcher's figures and the bookings refused today."""
        kpis: dict[str, Any] = dict(self._read("kpis", lambda d: d.day_kpis()))
        kpis["refused"] = self.store.counter(self._day_counter("refused", self.clock()))
        return kpis

    def alerts(self) -> list[dict[str, Any]]:
        """What needs a dispatcher's attention now."""
        return self._read("alerts", lambda d: d.alerts())


def _report_error(exc: ReportError) -> Exception:
    """The HTTP error of a refused vehicle report."""
    fix = exc.fix or "check the report"
    if isinstance(exc, UnknownTargetError):
        return NotFoundError(str(exc), fix=fix)
    if isinstance(exc, EventConflictError):
        return ConflictError(str(exc), fix=fix)
    assert isinstance(exc, ImplausibleEventError)
    return RequestError(f"{exc} ({fix})")
