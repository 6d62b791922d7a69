"""Bookings, their state changes and dispatcher state in SQL (SQLite WAL or PostgreSQL).

Crash safety comes from the database: every change is one transaction that
is committed before the API answers, SQLite runs in WAL mode with
``synchronous=NORMAL`` (see :mod:`api.storage.db` for why that is durable
against a killed server), and a booking row, its first event and its entry in
the dispatch log are written in the same transaction. Idempotency keys are a
UNIQUE column, so two racing requests with the same key (even in two worker
processes) end with one row.

The **dispatch log** (table ``dispatch_log``) is the sequence of everything
that changed the dispatcher's plans -- bookings, cancellations,
re-optimisations, repositioning moves -- each with the instant it was applied
at, numbered by a monotonically increasing ``seq``. Every uvicorn worker keeps
its own dispatcher in memory and replays the entries other workers appended
before it decides anything (see :mod:`api.services.dispatch_log`); an *epoch*
(stored in ``elster_meta``) names the log a dispatcher was started from.

SQLite is spoken through the standard library's ``sqlite3`` (prepared
statements, no pool or ORM on the booking path); any other URL (PostgreSQL)
through SQLAlchemy. The SQL text is the same.

Passenger tokens are not stored: a token is ``HMAC(secret, booking id)``,
with the secret kept in the database (or given by ``ELSTER_TOKEN_SECRET``),
so a replayed creation can hand the same token back and a stolen database
row does not reveal it.
"""

from __future__ import annotations

import builtins
import enum
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from api.storage.db import (
    Database,
    SqlAlchemyDatabase,
    SqliteDatabase,
    Tx,
    postgres_url,
    retry_unavailable,
    sqlite_path,
)
from routing.errors import DataError

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

meta_table = sa.Table(
    "elster_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

bookings_table = sa.Table(
    "bookings",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("idempotency_key", sa.String(200), unique=True, nullable=True),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("request_json", sa.Text, nullable=False),
    sa.Column("quote_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

events_table = sa.Table(
    "booking_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "booking_id", sa.String(36), sa.ForeignKey("bookings.id"), nullable=False, index=True
    ),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)

dispatcher_table = sa.Table(
    "dispatcher_state",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

dispatch_log_table = sa.Table(
    "dispatch_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("epoch", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("booking_id", sa.String(36), nullable=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("data_json", sa.Text, nullable=False, default="{}"),
)

vehicle_reports_table = sa.Table(
    "vehicle_reports",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("vehicle_id", sa.String(36), nullable=False),
    sa.Column("report_id", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("answer_json", sa.Text, nullable=False),
    sa.UniqueConstraint("vehicle_id", "report_id", name="uq_vehicle_report"),
)

#: Advisory lock key that serialises table creation on PostgreSQL ("ELSTERDD").
PG_SCHEMA_LOCK_KEY = 0x454C535445524444

OPEN_STATUSES = ("confirmed", "assigned", "arriving", "delayed", "picked_up")
FINAL_STATUSES = ("cancelled", "completed", "no_show", "cancelled_by_operator")


@dataclass(frozen=True)
class BookingEvent:
    """One state change of a booking."""

    at: float
    status: str
    detail: str


@dataclass(frozen=True)
class Booking:
    """A stored shuttle booking.

    Attributes
    ----------
    id : str
        Public booking id (UUID4).
    status : str
        ``confirmed`` (booked), ``assigned`` (the vehicle set off for the pickup),
        ``arriving``, ``delayed`` (a new ETA), ``picked_up``, ``completed``,
        ``cancelled``, ``no_show`` or ``cancelled_by_operator``.
    request : dict
        The passenger's request as validated by the API.
    quote : dict
        The dispatcher's accepted offer (pickup window, price, vehicle).
    created_at, updated_at : float
        UNIX seconds.
    idempotency_key : str or None
        The client's key, when it sent one.
    """

    id: str
    status: str
    request: dict[str, Any]
    quote: dict[str, Any]
    created_at: float
    updated_at: float
    idempotency_key: str | None


def request_digest(request: dict[str, Any]) -> str:
    """Stable SHA-256 of a request dict, to detect an idempotency key reused for another trip."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine (used to create the tables, and for non-SQLite databases)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    if url.startswith(("postgresql", "postgres:")):
        return sa.create_engine(
            postgres_url(url),
            # A statement after the advisory lock must see every commit before it.
            isolation_level="READ COMMITTED",
            # Broken connections (a restarted server) are detected on use and retried
            # (SqlAlchemyDatabase), so no ping round trip on every checkout.
            pool_size=8,
            max_overflow=8,
            pool_timeout=30,
            connect_args={
                "connect_timeout": 5,
                "application_name": "elster",
                # A frozen or cut-off host must not hold the dispatch lock for ever: the
                # server ends a transaction idle for 60 s (a booking batch takes ms, a
                # re-optimisation seconds), and a lock wait gives up after 30 s (redone).
                "options": "-c idle_in_transaction_session_timeout=60000 -c lock_timeout=30000",
            },
        )
    return sa.create_engine(url, pool_pre_ping=True)


def _create_tables(engine: Engine, attempts: int = 5) -> None:
    """Create missing tables; tolerate another worker process creating them at the same time.

    ``create_all`` checks then creates, so two uvicorn workers starting on a
    fresh database can both try to create a table; the loser retries and then
    finds it there.
    """
    if engine.dialect.name == "postgresql":
        # Serialised across hosts: two servers starting on an empty database would
        # otherwise both try to create each table.
        def create() -> None:
            with engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_SCHEMA_LOCK_KEY})
                metadata.create_all(conn)
                # Databases made before the live statuses ("cancelled_by_operator") had
                # 20 characters; widening a VARCHAR rewrites nothing.
                for table in ("bookings", "booking_events"):
                    widen = f"ALTER TABLE {table} ALTER COLUMN status TYPE VARCHAR(32)"
                    conn.execute(sa.text(widen))

        retry_unavailable("creating the booking tables", create)
        return
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except sa.exc.OperationalError:  # "table ... already exists", "database is locked"
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def open_database(url: str, *, force_sqlalchemy: bool = False) -> Database:
    """The database behind ``url`` with its tables created (sqlite3 for SQLite files)."""
    engine = make_engine(url)
    if url.startswith("sqlite") and sqlite_path(url) != ":memory:":
        # WAL must be on before two workers race to create tables.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    if url.startswith("sqlite") and not force_sqlalchemy:
        db = SqliteDatabase(url)
        if sqlite_path(url) == ":memory:":
            # The engine's in-memory database is another one: create the tables here.
            for table in metadata.sorted_tables:
                ddl = str(sa.schema.CreateTable(table).compile(dialect=engine.dialect))
                with db.exclusive() as tx:
                    tx.execute(ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
                for index in table.indexes:
                    ddl = str(sa.schema.CreateIndex(index).compile(dialect=engine.dialect))
                    with db.exclusive() as tx:
                        tx.execute(ddl.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
        else:
            _create_tables(engine)
        engine.dispose()
        return db
    _create_tables(engine)
    return SqlAlchemyDatabase(url, engine)


class LogKind(enum.StrEnum):
    """What a dispatch log entry records (the ``kind`` column).

    Attributes
    ----------
    BOOK
        A booking committed to a quoted promise (``data``: request, quote).
    BOOK_NOW
        A booking decided and committed in one step (``data``: request, quote).
    CANCEL
        A booking taken out of the plans.
    REOPTIMISE
        The open plans were improved.
    REPOSITION
        An idle vehicle was sent somewhere (``data``: vehicle, target).
    VEHICLE_REPORT
        A real vehicle's report: a shift, a GPS fix or a stop event
        (``data``: the :class:`fleet.online.protocol.VehicleReport`).
    """

    BOOK = "book"
    BOOK_NOW = "book_now"
    CANCEL = "cancel"
    REOPTIMISE = "reoptimise"
    REPOSITION = "reposition"
    VEHICLE_REPORT = "vehicle_report"


@dataclass(frozen=True)
class LogEntry:
    """One change of the dispatcher's plans, in the order all workers apply them.

    Attributes
    ----------
    seq : int
        Position in the log (increasing).
    epoch : str
        The log this entry belongs to.
    kind : str
        A :class:`LogKind` value (kept as read: a newer server may write kinds
        this one does not know).
    booking_id : str or None
    at : float
        UNIX seconds the change was applied at (the dispatcher's clock).
    data : dict
        What a replay needs (the request and quote of a booking, a vehicle move).
    """

    seq: int
    epoch: str
    kind: str
    booking_id: str | None
    at: float
    data: dict[str, Any]


_BOOKING_COLUMNS = (
    "id, idempotency_key, request_digest, status, request_json, quote_json, created_at, updated_at"
)
SQL_BY_KEY = f"SELECT {_BOOKING_COLUMNS} FROM bookings WHERE idempotency_key = :key"
SQL_BY_ID = f"SELECT {_BOOKING_COLUMNS} FROM bookings WHERE id = :id"
SQL_INSERT_BOOKING = (
    "INSERT INTO bookings (id, idempotency_key, request_digest, status, request_json, "
    "quote_json, created_at, updated_at) VALUES (:id, :key, :digest, :status, :request, "
    ":quote, :now, :now)"
)
SQL_INSERT_EVENT = (
    "INSERT INTO booking_events (booking_id, at, status, detail) "
    "VALUES (:id, :at, :status, :detail)"
)
SQL_SET_STATUS = "UPDATE bookings SET status = :status, updated_at = :now WHERE id = :id"
SQL_LOG_SINCE = (
    "SELECT seq, epoch, kind, booking_id, at, data_json FROM dispatch_log "
    "WHERE epoch = :epoch AND seq > :seq ORDER BY seq"
)
SQL_APPEND_LOG = (
    "INSERT INTO dispatch_log (epoch, kind, booking_id, at, data_json) "
    "VALUES (:epoch, :kind, :booking_id, :at, :data) RETURNING seq"
)
#: Instants only grow along the log (each is at least the one before), across epochs too.
SQL_LAST_LOG = "SELECT seq, at FROM dispatch_log ORDER BY seq DESC LIMIT 1"
SQL_META_GET = "SELECT value FROM elster_meta WHERE key = :key"
SQL_META_INSERT = "INSERT INTO elster_meta (key, value) VALUES (:key, :value)"
SQL_META_UPDATE = "UPDATE elster_meta SET value = :value WHERE key = :key"


def _is_integrity_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError | IntegrityError)


class BookingStore:
    """Booking persistence with idempotent creation, an event history and the dispatch log.

    Parameters
    ----------
    url : str
        Database URL (``sqlite:///path.db`` or ``postgresql://...``).
    token_secret : str, optional
        Secret for passenger tokens; default: generated once and stored in the database.
    force_sqlalchemy : bool
        Speak SQLite through SQLAlchemy too (tests of the PostgreSQL code path).
    """

    def __init__(self, url: str, *, token_secret: str = "", force_sqlalchemy: bool = False) -> None:
        self.url = url
        self.db = open_database(url, force_sqlalchemy=force_sqlalchemy)
        self._secret = (token_secret or self._stored_secret()).encode()
        logger.info(
            "booking store ready at %s (%s)",
            sa.engine.make_url(url).render_as_string(hide_password=True),
            type(self.db).__name__,
        )

    def close(self) -> None:
        """Release the database connections."""
        self.db.close()

    def exclusive(self) -> Any:
        """A write transaction no other writer (any worker process) interleaves with."""
        return self.db.exclusive()

    # -- meta ----------------------------------------------------------------------------
    def meta(self, key: str, tx: Tx | None = None) -> str | None:
        """A value of the ``elster_meta`` table, or None."""
        rows = (tx or self.db).rows(SQL_META_GET, {"key": key})
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, tx: Tx, key: str, value: str) -> None:
        """Insert or replace a value of the ``elster_meta`` table (inside ``tx``)."""
        if not tx.execute(SQL_META_UPDATE, {"key": key, "value": value}):
            tx.execute(SQL_META_INSERT, {"key": key, "value": value})

    # -- tokens ---------------------------------------------------------------------------
    def _stored_secret(self) -> str:
        found = self.meta("token_secret")
        if found:
            return found

        def attempt() -> str:
            with self.db.exclusive() as tx:  # serialised: two workers agree on one secret
                found = self.meta("token_secret", tx)
                if found:
                    return found
                candidate = secrets.token_hex(32)
                tx.execute(SQL_META_INSERT, {"key": "token_secret", "value": candidate})
                return candidate

        # A COMMIT without an answer is redone too: the redo reads what was stored.
        return str(retry_unavailable("storing the token secret", attempt))

    def token_for(self, booking_id: str) -> str:
        """Return the passenger token of a booking."""
        return hmac.new(self._secret, booking_id.encode(), hashlib.sha256).hexdigest()[:40]

    def check_token(self, booking_id: str, token: str | None) -> bool:
        """Return whether ``token`` is the booking's token (constant-time comparison)."""
        if not token:
            return False
        return hmac.compare_digest(self.token_for(booking_id).encode(), token.encode())

    def pickup_code(self, booking_id: str) -> str:
        """The four-digit code a passenger shows the driver (the same on both sides)."""
        digest = hmac.new(self._secret, f"pickup:{booking_id}".encode(), hashlib.sha256)
        return f"{int(digest.hexdigest()[:8], 16) % 10000:04d}"

    # -- vehicle credentials --------------------------------------------------------------
    def issue_vehicle_token(self, vehicle_id: str) -> str:
        """A new credential for a vehicle; every earlier one of it stops working.

        The token is ``HMAC(secret, vehicle id, generation)``; only the
        generation is stored, so a stolen database row does not reveal it.
        """
        key = f"vehicle_credential:{vehicle_id}"

        def attempt() -> int:
            with self.db.exclusive() as tx:
                generation = int(self.meta(key, tx) or 0) + 1
                self.set_meta(tx, key, str(generation))
                return generation

        generation = int(retry_unavailable("issuing a vehicle credential", attempt))
        return self._vehicle_token(vehicle_id, generation)

    def _vehicle_token(self, vehicle_id: str, generation: int) -> str:
        message = f"vehicle:{vehicle_id}:{generation}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]

    def check_vehicle_token(self, vehicle_id: str, token: str | None) -> bool | None:
        """Whether ``token`` is the vehicle's current credential (constant-time comparison).

        None when no credential was ever issued for ``vehicle_id`` (an unknown vehicle).
        """
        generation = self.meta(f"vehicle_credential:{vehicle_id}")
        if not generation:
            return None
        if not token:
            return False
        expected = self._vehicle_token(vehicle_id, int(generation))
        return hmac.compare_digest(expected.encode(), token.encode())

    # -- bookings -------------------------------------------------------------------------
    @staticmethod
    def _row_to_booking(row: dict[str, Any]) -> Booking:
        try:
            request = json.loads(row["request_json"])
            quote = json.loads(row["quote_json"])
        except json.JSONDecodeError as exc:
            raise DataError(f"booking {row['id']}: stored JSON is damaged ({exc})") from None
        return Booking(
            id=row["id"],
            status=row["status"],
            request=request,
            quote=quote,
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
            idempotency_key=row["idempotency_key"],
        )

    def find_by_idempotency_key(self, key: str, tx: Tx | None = None) -> tuple[Booking, str] | None:
        """Return ``(booking, request_digest)`` stored under an idempotency key, or None."""
        rows = (tx or self.db).rows(SQL_BY_KEY, {"key": key})
        return (self._row_to_booking(rows[0]), rows[0]["request_digest"]) if rows else None

    def insert(
        self,
        tx: Tx,
        *,
        request: dict[str, Any],
        quote: dict[str, Any],
        idempotency_key: str | None,
        digest: str,
        now: float,
        booking_id: str,
    ) -> Booking:
        """Insert a confirmed booking and its first event inside ``tx`` (the key must be new)."""
        status = "confirmed"
        tx.execute(
            SQL_INSERT_BOOKING,
            {
                "id": booking_id,
                "key": idempotency_key,
                "digest": digest,
                "status": status,
                "request": json.dumps(request, sort_keys=True),
                "quote": json.dumps(quote, sort_keys=True),
                "now": now,
            },
        )
        tx.execute(
            SQL_INSERT_EVENT, {"id": booking_id, "at": now, "status": status, "detail": "created"}
        )
        return Booking(booking_id, status, request, quote, now, now, idempotency_key)

    def get(self, booking_id: str, tx: Tx | None = None) -> Booking | None:
        """Return a booking by id, or None."""
        rows = (tx or self.db).rows(SQL_BY_ID, {"id": booking_id})
        return self._row_to_booking(rows[0]) if rows else None

    def update_status(
        self, tx: Tx, booking_id: str, status: str, detail: str = "", now: float | None = None
    ) -> None:
        """Change a booking's status and append the event, inside ``tx``."""
        now = time.time() if now is None else now
        if tx.execute(SQL_SET_STATUS, {"id": booking_id, "status": status, "now": now}) != 1:
            raise LookupError(booking_id)
        tx.execute(
            SQL_INSERT_EVENT, {"id": booking_id, "at": now, "status": status, "detail": detail}
        )

    def set_status(self, booking_id: str, status: str, detail: str = "") -> Booking:
        """Change a booking's status and append the event, atomically."""
        with self.db.exclusive() as tx:
            self.update_status(tx, booking_id, status, detail)
            booking = self.get(booking_id, tx)
        assert booking is not None
        return booking

    def events_of(
        self, booking_ids: builtins.list[str], tx: Tx | None = None
    ) -> dict[str, builtins.list[BookingEvent]]:
        """The state changes of several bookings, oldest first (a query per 500 bookings)."""
        out: dict[str, builtins.list[BookingEvent]] = {b: [] for b in booking_ids}
        for start in range(0, len(booking_ids), 500):  # within every SQL variable limit
            chunk = booking_ids[start : start + 500]
            names = ", ".join(f":b{i}" for i in range(len(chunk)))
            rows = (tx or self.db).rows(
                f"SELECT booking_id, at, status, detail FROM booking_events WHERE booking_id IN "
                f"({names}) ORDER BY seq",
                {f"b{i}": b for i, b in enumerate(chunk)},
            )
            for r in rows:
                out[r["booking_id"]].append(BookingEvent(float(r["at"]), r["status"], r["detail"]))
        return out

    def events(self, booking_id: str) -> list[BookingEvent]:
        """Return a booking's state changes, oldest first."""
        rows = self.db.rows(
            "SELECT at, status, detail FROM booking_events WHERE booking_id = :id ORDER BY seq",
            {"id": booking_id},
        )
        return [BookingEvent(float(r["at"]), r["status"], r["detail"]) for r in rows]

    def list(
        self, *, statuses: tuple[str, ...] | None = None, limit: int = 500
    ) -> builtins.list[Booking]:
        """Return bookings, newest first, optionally only those with given statuses."""
        params: dict[str, Any] = {"limit": int(limit)}
        where = ""
        if statuses:
            names = [f":s{i}" for i in range(len(statuses))]
            params.update({f"s{i}": s for i, s in enumerate(statuses)})
            where = f"WHERE status IN ({', '.join(names)}) "
        rows = self.db.rows(
            f"SELECT {_BOOKING_COLUMNS} FROM bookings {where}ORDER BY created_at DESC LIMIT :limit",
            params,
        )
        return [self._row_to_booking(r) for r in rows]

    def open_bookings(self, tx: Tx | None = None) -> builtins.list[Booking]:
        """Return every booking that still needs a vehicle, oldest first (for a restart)."""
        names = ", ".join(f":s{i}" for i in range(len(OPEN_STATUSES)))
        rows = (tx or self.db).rows(
            f"SELECT {_BOOKING_COLUMNS} FROM bookings WHERE status IN ({names}) "
            "ORDER BY created_at",
            {f"s{i}": s for i, s in enumerate(OPEN_STATUSES)},
        )
        return [self._row_to_booking(r) for r in rows]

    # -- dispatch log ---------------------------------------------------------------------
    def log_since(self, epoch: str, seq: int, tx: Tx | None = None) -> builtins.list[LogEntry]:
        """Entries of ``epoch`` after ``seq``, in order."""
        rows = (tx or self.db).rows(SQL_LOG_SINCE, {"epoch": epoch, "seq": int(seq)})
        return [
            LogEntry(
                int(r["seq"]),
                r["epoch"],
                r["kind"],
                r["booking_id"],
                float(r["at"]),
                json.loads(r["data_json"]),
            )
            for r in rows
        ]

    def append_log(
        self,
        tx: Tx,
        epoch: str,
        kind: LogKind,
        at: float,
        *,
        booking_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Append an entry inside ``tx``; return its ``seq``."""
        rows = tx.rows(
            SQL_APPEND_LOG,
            {
                "epoch": epoch,
                "kind": str(kind),
                "booking_id": booking_id,
                "at": float(at),
                "data": json.dumps(data or {}, sort_keys=True),
            },
        )
        return int(rows[0]["seq"])

    def last_log(self, tx: Tx | None = None) -> tuple[int, float]:
        """``(seq, at)`` of the newest entry of any epoch ((0, 0.0) when empty)."""
        rows = (tx or self.db).rows(SQL_LAST_LOG)
        return (int(rows[0]["seq"]), float(rows[0]["at"])) if rows else (0, 0.0)

    def log_length(self, epoch: str, tx: Tx | None = None) -> int:
        """Number of entries of ``epoch``."""
        rows = (tx or self.db).rows(
            "SELECT COUNT(*) AS n FROM dispatch_log WHERE epoch = :epoch", {"epoch": epoch}
        )
        return int(rows[0]["n"])

    # -- vehicle reports ------------------------------------------------------------------
    def find_report(self, vehicle_id: str, report_id: str, tx: Tx | None = None) -> Any | None:
        """The stored answer to a vehicle's report (a replay), or None."""
        rows = (tx or self.db).rows(
            "SELECT answer_json FROM vehicle_reports WHERE vehicle_id = :v AND report_id = :r",
            {"v": vehicle_id, "r": report_id},
        )
        return json.loads(rows[0]["answer_json"]) if rows else None

    def insert_report(
        self, tx: Tx, vehicle_id: str, report_id: str, kind: str, at: float, answer: Any
    ) -> None:
        """Store a vehicle's applied report and its answer inside ``tx`` (the id must be new)."""
        tx.execute(
            "INSERT INTO vehicle_reports (vehicle_id, report_id, kind, at, answer_json) "
            "VALUES (:v, :r, :k, :at, :answer)",
            {"v": vehicle_id, "r": report_id, "k": kind, "at": float(at),
             "answer": json.dumps(answer, sort_keys=True)},
        )  # fmt: skip

    def bump_counter(self, tx: Tx, name: str, by: int = 1) -> None:
        """Add to a named day counter inside ``tx`` (refused bookings, say)."""
        current = self.load_state(f"counter:{name}", tx) or 0
        self.save_state(f"counter:{name}", int(current) + by, tx)

    def counter(self, name: str) -> int:
        """A named counter's value (0 when never bumped)."""
        return int(self.load_state(f"counter:{name}") or 0)

    # -- dispatcher state -----------------------------------------------------------------
    def save_state(self, key: str, value: Any, tx: Tx) -> None:
        """Store a JSON-serialisable dispatcher value under ``key`` (upsert, inside ``tx``)."""
        params = {"key": key, "value": json.dumps(value, sort_keys=True), "now": time.time()}
        update = (
            "UPDATE dispatcher_state SET value_json = :value, updated_at = :now WHERE key = :key"
        )
        insert = (
            "INSERT INTO dispatcher_state (key, value_json, updated_at) VALUES (:key, :value, :now)"
        )
        if not tx.execute(update, params):
            tx.execute(insert, params)

    def load_state(self, key: str, tx: Tx | None = None) -> Any | None:
        """Return the dispatcher value stored under ``key``, or None."""
        rows = (tx or self.db).rows(
            "SELECT value_json FROM dispatcher_state WHERE key = :key", {"key": key}
        )
        return json.loads(rows[0]["value_json"]) if rows else None
