"""The dispatch log: one dispatcher's plans, the same in every worker process and after a restart.

Each uvicorn worker holds its own dispatcher in memory. They agree because
every change of the plans is appended to the *dispatch log* in the bookings
database (:class:`api.storage.bookings.LogEntry`, one :class:`LogKind` per
kind of change, each with the instant it was applied at), and a worker applies
every entry, in order and at its instant, before it decides anything itself:

1. take the database's write lock (``flock`` + ``BEGIN IMMEDIATE`` on SQLite,
   an advisory lock on PostgreSQL), so no other worker changes the plans;
2. replay the entries other workers appended since the last one seen;
3. decide at ``t = max(now, every instant seen)``, store the result and append
   its log entry in the same transaction; commit.

The dispatcher is deterministic given the same calls at the same instants
(:class:`fleet.online.protocol.ShuttleDispatcher`), so every worker ends with
the same plans. A restarted server replays the log of the current *epoch*
(its dispatcher clock origin, kept in the database) and is where it was; when
that log has grown long, a new epoch starts from the open bookings (re-booked
with their promises). Should a replay ever fail (a diverged plan), the worker
rebuilds its dispatcher from the whole log.

A new kind of change (the vehicle events of live operations, say) is one
:class:`LogKind` member and one replay handler in :data:`DispatchLog.REPLAY`.

A database that goes away
-------------------------
When the connection breaks (a PostgreSQL restart or fail-over), the write
transaction is rolled back, the dispatcher is marked for a rebuild from the
log, and the call is redone on a new connection for up to ``DB_RETRY_S``
seconds (:meth:`DispatchLog.with_retries`, then 503).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

from api.storage import BookingStore
from api.storage.bookings import LogEntry, LogKind
from api.storage.db import DatabaseUnavailableError, Tx
from fleet.online.protocol import (
    Capability,
    ShuttleDispatcher,
    ShuttleQuote,
    ShuttleRequest,
    VehicleMove,
    VehicleReport,
)

logger = logging.getLogger(__name__)

#: A log longer than this starts a new epoch at the next server start (bounds replay time).
LOG_LIMIT = 5000
#: An epoch older than this (seconds) starts a new one at the next server start.
EPOCH_MAX_AGE_S = 2 * 86400.0
#: How long a call waits for an unreachable database (restart, fail-over) before answering 503.
DB_RETRY_S = 20.0

_T = TypeVar("_T")


def local_midnight(unix: float, timezone: str) -> float:
    """UNIX seconds of the local midnight that starts the day of ``unix``.

    Parameters
    ----------
    unix : float
        Any instant.
    timezone : str
        IANA zone name.

    Returns
    -------
    float
    """
    import datetime as dt
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    day = dt.datetime.fromtimestamp(unix, zone).date()
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp()


def _replay_book(dispatcher: ShuttleDispatcher, entry: LogEntry) -> None:
    request = ShuttleRequest.from_dict(entry.data["request"])
    dispatcher.quote(request)  # the same calls as the worker that booked
    dispatcher.commit(str(entry.booking_id), request, ShuttleQuote.from_dict(entry.data["quote"]))


def _replay_book_now(dispatcher: ShuttleDispatcher, entry: LogEntry) -> None:
    request = ShuttleRequest.from_dict(entry.data["request"])
    got = dispatcher.book_now(str(entry.booking_id), request)
    if got.to_dict() != entry.data["quote"]:
        raise RuntimeError(f"the replayed offer differs from the booked one: {got}")


def _replay_cancel(dispatcher: ShuttleDispatcher, entry: LogEntry) -> None:
    dispatcher.cancel(str(entry.booking_id))


def _replay_reoptimise(dispatcher: ShuttleDispatcher, entry: LogEntry) -> None:
    dispatcher.reoptimise()


def _replay_reposition(dispatcher: ShuttleDispatcher, entry: LogEntry) -> None:
    dispatcher.reposition(VehicleMove(int(entry.data["vehicle"]), int(entry.data["target"])))


def _replay_vehicle_report(dispatcher: ShuttleDispatcher, entry: LogEntry) -> None:
    dispatcher.report(VehicleReport.from_dict(entry.data["report"]))


class DispatchLog:
    """A dispatcher kept in step with the dispatch log of a booking store.

    Parameters
    ----------
    store : BookingStore
        Where the log (and the current epoch) live.
    dispatcher : ShuttleDispatcher
        This process's dispatcher; only this object calls it.
    timezone : str
        The region's zone (an epoch's clock origin is a local midnight).
    clock : callable
        UNIX time now.
    log_limit, epoch_max_age_s :
        When opening starts a new epoch instead of replaying the log.
    db_retry_s : float
        How long a call is redone while the database is unreachable.

    Attributes
    ----------
    lock : threading.RLock
        One caller at a time in this process (the dispatcher is not thread-safe).
    epoch : dict or None
        ``id``, ``origin`` and ``started`` of the epoch joined.
    replayed, replay_failures, db_retries : int
        Counters (entries applied, entries that failed, database redos).
    """

    #: How each kind of entry is applied to a dispatcher.
    REPLAY: ClassVar[dict[str, Callable[[ShuttleDispatcher, LogEntry], None]]] = {
        LogKind.BOOK: _replay_book,
        LogKind.BOOK_NOW: _replay_book_now,
        LogKind.CANCEL: _replay_cancel,
        LogKind.REOPTIMISE: _replay_reoptimise,
        LogKind.REPOSITION: _replay_reposition,
        LogKind.VEHICLE_REPORT: _replay_vehicle_report,
    }

    def __init__(
        self,
        store: BookingStore,
        dispatcher: ShuttleDispatcher,
        *,
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
        self.log_limit = log_limit
        self.epoch_max_age_s = epoch_max_age_s
        self.db_retry_s = db_retry_s
        self.db_retries = 0
        self.lock = threading.RLock()
        self.epoch: dict[str, Any] | None = None
        self.seen_seq = 0
        self.clock_high = 0.0  # latest instant this dispatcher was moved to
        self.replayed = 0
        self.replay_failures = 0
        self.dirty = False  # the plans may differ from the log: rebuild before the next call
        self.mutating = False  # the dispatcher's plans may have changed in this transaction

    # ------------------------------------------------------------------ epochs
    def open(self) -> None:
        """Join the current epoch (replaying its log), or start a new one when needed.

        A redo after a lost COMMIT joins the epoch it may have started: no harm.
        """

        def attempt() -> None:
            with self.lock, self.store.exclusive() as tx:
                self._open_epoch(tx)

        self.with_retries("joining the dispatch log", attempt)

    def _open_epoch(self, tx: Tx) -> None:
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
            if self._vehicles_on_shift(epoch, tx):  # joined (replayed) by the check
                logger.info("epoch %s goes on although long or old: vehicles are on shift",
                            epoch["id"][:8])  # fmt: skip
                return
        self._new_epoch(tx, now)

    def _vehicles_on_shift(self, epoch: dict[str, Any], tx: Tx) -> bool:
        """Whether real vehicles are on shift in ``epoch`` (it then goes on, however long).

        A new epoch carries over only bookings, not vehicles with passengers on
        board, so it starts only when no vehicle is on shift.
        """
        if Capability.LIVE not in self.dispatcher.capabilities:
            return False
        self._join(epoch, tx)
        return any(v.get("on_shift") for v in self.dispatcher.vehicles())

    def _new_epoch(self, tx: Tx, now: float) -> None:
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
                self.at(now)
                self.dispatcher.commit(booking.id, request, quote)
            except Exception as exc:
                lost += 1
                logger.warning("open booking %s cannot be carried over: %s", booking.id, exc)
                continue
            self.append(tx, LogKind.BOOK, now, booking.id, {"request": booking.request,
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
        self.dispatcher.reset(float(epoch["origin"]))
        self.epoch = epoch
        self.seen_seq = 0
        self.clock_high = 0.0
        self.dirty = False
        for entry in self.store.log_since(epoch["id"], 0, tx):
            self._apply(entry, rebuilding=True)

    # ------------------------------------------------------------------ replay
    def at(self, unix: float) -> float:
        """Pin the dispatcher's clock to ``unix`` (and remember the latest instant seen)."""
        self.clock_high = max(self.clock_high, unix)
        self.dispatcher.pin_clock(unix)
        return unix

    def now(self) -> float:
        """Pin the instant of a new decision: never before anything this dispatcher has seen."""
        return self.at(max(self.clock(), self.clock_high))

    def _apply(self, entry: LogEntry, *, rebuilding: bool = False) -> None:
        """Apply one log entry of another worker (or of a replay) at its instant."""
        if entry.at < self.clock_high - 1e-6 and not rebuilding:
            # This dispatcher already moved past the entry's instant: replaying it
            # now could differ from the original, so rebuild from the whole log.
            logger.warning("log entry %d is older than this dispatcher's clock; rebuilding",
                           entry.seq)  # fmt: skip
            self.dirty = True
            return
        self.at(entry.at)
        try:
            handler = self.REPLAY.get(entry.kind)
            if handler is None:
                logger.error("unknown dispatch log entry kind %r (seq %d)", entry.kind, entry.seq)
            else:
                handler(self.dispatcher, entry)
        except Exception as exc:
            self.replay_failures += 1
            logger.error("replaying dispatch log entry %d (%s %s) failed: %s", entry.seq,
                         entry.kind, entry.booking_id, exc)  # fmt: skip
            if not rebuilding:
                self.dirty = True
        self.seen_seq = entry.seq
        self.replayed += 1

    def _catch_up(self, tx: Tx | None) -> None:
        """Apply what other workers logged since the last entry seen (all of it if needed)."""
        assert self.epoch is not None
        if tx is not None:
            raw = self.store.meta("dispatch_epoch", tx)
            current = json.loads(raw) if raw else None
            if current is not None and current["id"] != self.epoch["id"]:
                logger.info("another worker started epoch %s; joining it", current["id"][:8])
                self._join(current, tx)
                return
        if self.dirty:
            self._join(self.epoch, tx)
            return
        for entry in self.store.log_since(self.epoch["id"], self.seen_seq, tx):
            self._apply(entry)
            if self.dirty:
                self._join(self.epoch, tx)
                return

    def append(
        self,
        tx: Tx,
        kind: LogKind,
        at: float,
        booking_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append this worker's change to the log inside ``tx``.

        Parameters
        ----------
        tx : Tx
            The transaction of :meth:`synced`.
        kind : LogKind
        at : float
            The instant the change was applied at (UNIX seconds).
        booking_id : str, optional
        data : dict, optional
            What a replay needs.
        """
        assert self.epoch is not None
        self.seen_seq = self.store.append_log(
            tx, self.epoch["id"], kind, at, booking_id=booking_id, data=data
        )

    # ------------------------------------------------------------------ locking
    @contextmanager
    def synced(self) -> Iterator[Tx]:
        """Process lock + database write lock, with the log caught up.

        Set :attr:`mutating` before changing the plans: should the transaction
        then roll back, the plans are rebuilt from the log next time.
        """
        with self.lock:
            self.mutating = False
            self._catch_up(None)  # most of it outside the database lock
            tx_cm = self.store.exclusive()
            tx = tx_cm.__enter__()
            try:
                self._catch_up(tx)
            except BaseException:
                tx_cm.__exit__(*sys.exc_info())
                raise
            try:
                yield tx
            except BaseException:
                if self.mutating:
                    # The transaction rolls back: whatever the dispatcher did for it
                    # must be undone too, so rebuild from the log next time.
                    self.dirty = True
                self._exit(tx_cm, sys.exc_info())
                raise
            self._exit(tx_cm, (None, None, None))

    def _exit(self, tx_cm: Any, exc: Any) -> None:
        try:
            tx_cm.__exit__(*exc)
        except BaseException:
            # The COMMIT failed (a lost connection): the same, whether or not it
            # was stored, the log says what the plans are.
            if self.mutating:
                self.dirty = True
            raise

    def with_retries(self, what: str, attempt: Callable[[], _T]) -> _T:
        """``attempt()``, redone while the database is unreachable (up to ``db_retry_s``).

        Only for attempts that change nothing when they fail: a rolled-back
        transaction (:class:`DatabaseUnavailableError`). Blocks the caller
        (and its event loop) meanwhile: requests wait rather than fail.

        Parameters
        ----------
        what : str
            Named in the log line of each redo.
        attempt : callable
            The work.

        Returns
        -------
        What ``attempt`` returns.
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
