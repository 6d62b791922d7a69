"""Bookings, their state changes and dispatcher state in SQL (SQLite WAL or PostgreSQL).

Crash safety comes from the database: every change is one transaction that
is committed before the API answers, SQLite runs in WAL mode with
``synchronous=NORMAL`` (see :func:`_set_sqlite_pragmas` for why that is
durable against a killed server), and a booking row and its first event are
written in the same transaction. Idempotency keys are a UNIQUE column, so two racing
requests with the same key (even in two worker processes) end with one row.

Passenger tokens are not stored: a token is ``HMAC(secret, booking id)``,
with the secret kept in the database (or given by ``ELSTER_TOKEN_SECRET``),
so a replayed creation can hand the same token back and a stolen database
row does not reveal it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

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
    sa.Column("status", sa.String(20), nullable=False, index=True),
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
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)

dispatcher_table = sa.Table(
    "dispatcher_state",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value_json", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

OPEN_STATUSES = ("confirmed", "assigned", "picked_up")
FINAL_STATUSES = ("cancelled", "completed", "no_show")


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
        ``confirmed``, ``assigned``, ``picked_up``, ``completed``, ``cancelled`` or ``no_show``.
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

    @property
    def is_open(self) -> bool:
        """Whether the booking still needs a vehicle."""
        return self.status in OPEN_STATUSES


def request_digest(request: dict[str, Any]) -> str:
    """Stable SHA-256 of a request dict, to detect an idempotency key reused for another trip."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def _set_sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + synchronous=NORMAL: a commit is written to the WAL file (the write()
    # returns before the API answers) but not fsync'ed; the WAL is fsync'ed at
    # checkpoints. A killed or crashed *server process* loses nothing (the
    # written pages live in the OS page cache and are replayed from the WAL on
    # the next open) -- tests/test_api_booking_crash.py kills -9 mid-stream. Only
    # an OS crash or power loss can roll back the last commits before a
    # checkpoint, never corrupt the database. FULL would fsync on every commit,
    # which serialises bookings behind the disk (p95 ~0.3-0.6 s under 20
    # concurrent clients here). Deployments that must survive power loss set
    # ELSTER_DATABASE_URL to PostgreSQL (or run SQLite on a battery-backed disk).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, synchronous=NORMAL and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _create_tables(engine: Engine, attempts: int = 5) -> None:
    """Create missing tables; tolerate another worker process creating them at the same time.

    ``create_all`` checks then creates, so two uvicorn workers starting on a
    fresh database can both try to create a table; the loser retries and then
    finds it there.
    """
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except sa.exc.OperationalError as exc:  # "table ... already exists"
            if "already exists" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


class BookingStore:
    """Booking persistence with idempotent creation and an event history.

    Parameters
    ----------
    url : str
        SQLAlchemy database URL (``sqlite:///path.db`` or ``postgresql://...``).
    token_secret : str, optional
        Secret for passenger tokens; default: generated once and stored in the database.
    """

    def __init__(self, url: str, *, token_secret: str = "") -> None:
        self.url = url
        self.engine = make_engine(url)
        _create_tables(self.engine)
        self._secret = (token_secret or self._stored_secret()).encode()
        logger.info(
            "booking store ready at %s", self.engine.url.render_as_string(hide_password=True)
        )

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # -- tokens ---------------------------------------------------------------------------
    def _stored_secret(self) -> str:
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(meta_table.c.value).where(meta_table.c.key == "token_secret")
            ).first()
            if row:
                return str(row[0])
        candidate = secrets.token_hex(32)
        try:
            with self.engine.begin() as conn:
                conn.execute(meta_table.insert().values(key="token_secret", value=candidate))
        except IntegrityError:
            pass  # another worker stored one first; use that one
        with self.engine.begin() as conn:
            return str(
                conn.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "token_secret")
                ).scalar_one()
            )

    def token_for(self, booking_id: str) -> str:
        """Return the passenger token of a booking."""
        return hmac.new(self._secret, booking_id.encode(), hashlib.sha256).hexdigest()[:40]

    def check_token(self, booking_id: str, token: str | None) -> bool:
        """Return whether ``token`` is the booking's token (constant-time comparison)."""
        if not token:
            return False
        return hmac.compare_digest(self.token_for(booking_id).encode(), token.encode())

    # -- bookings -------------------------------------------------------------------------
    @staticmethod
    def _row_to_booking(row: Any) -> Booking:
        try:
            request = json.loads(row.request_json)
            quote = json.loads(row.quote_json)
        except json.JSONDecodeError as exc:
            raise DataError(f"booking {row.id}: stored JSON is damaged ({exc})") from None
        return Booking(
            id=row.id,
            status=row.status,
            request=request,
            quote=quote,
            created_at=float(row.created_at),
            updated_at=float(row.updated_at),
            idempotency_key=row.idempotency_key,
        )

    def find_by_idempotency_key(self, key: str) -> tuple[Booking, str] | None:
        """Return ``(booking, request_digest)`` stored under an idempotency key, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(bookings_table).where(bookings_table.c.idempotency_key == key)
            ).first()
        return (self._row_to_booking(row), row.request_digest) if row else None

    def create(
        self,
        *,
        request: dict[str, Any],
        quote: dict[str, Any],
        idempotency_key: str | None = None,
        status: str = "confirmed",
        fingerprint: dict[str, Any] | None = None,
    ) -> tuple[Booking, bool]:
        """Store a new booking and its first event in one transaction.

        Returns
        -------
        (Booking, bool)
            The booking and whether it was created now (False: the idempotency key
            already named a booking, which is returned instead).

        ``fingerprint`` is what identifies a retry of the same request (default:
        ``request`` itself); pass the client's body as sent when the stored
        request has server-side defaults such as "now".

        Raises
        ------
        DataError
            The idempotency key names a booking made from a different request.
        """
        now = time.time()
        booking_id = str(uuid.uuid4())
        digest = request_digest(fingerprint if fingerprint is not None else request)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    bookings_table.insert().values(
                        id=booking_id,
                        idempotency_key=idempotency_key,
                        request_digest=digest,
                        status=status,
                        request_json=json.dumps(request, sort_keys=True),
                        quote_json=json.dumps(quote, sort_keys=True),
                        created_at=now,
                        updated_at=now,
                    )
                )
                conn.execute(
                    events_table.insert().values(
                        booking_id=booking_id, at=now, status=status, detail="created"
                    )
                )
        except IntegrityError:
            if idempotency_key is None:
                raise
            found = self.find_by_idempotency_key(idempotency_key)
            if found is None:
                raise
            existing, existing_digest = found
            if existing_digest != digest:
                raise DataError(
                    f"Idempotency-Key {idempotency_key!r} was already used for a different "
                    "booking request; use a new key for a new trip"
                ) from None
            return existing, False
        booking = Booking(booking_id, status, request, quote, now, now, idempotency_key)
        return booking, True

    def get(self, booking_id: str) -> Booking | None:
        """Return a booking by id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(bookings_table).where(bookings_table.c.id == booking_id)
            ).first()
        return self._row_to_booking(row) if row else None

    def set_status(self, booking_id: str, status: str, detail: str = "") -> Booking:
        """Change a booking's status and append the event, atomically."""
        now = time.time()
        with self.engine.begin() as conn:
            result = conn.execute(
                bookings_table.update()
                .where(bookings_table.c.id == booking_id)
                .values(status=status, updated_at=now)
            )
            if result.rowcount != 1:
                raise LookupError(booking_id)
            conn.execute(
                events_table.insert().values(
                    booking_id=booking_id, at=now, status=status, detail=detail
                )
            )
        booking = self.get(booking_id)
        assert booking is not None
        return booking

    def events(self, booking_id: str) -> list[BookingEvent]:
        """Return a booking's state changes, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(events_table)
                .where(events_table.c.booking_id == booking_id)
                .order_by(events_table.c.seq)
            ).all()
        return [BookingEvent(float(r.at), r.status, r.detail) for r in rows]

    def list(self, *, statuses: tuple[str, ...] | None = None, limit: int = 500) -> list[Booking]:
        """Return bookings, newest first, optionally only those with given statuses."""
        query = sa.select(bookings_table).order_by(bookings_table.c.created_at.desc()).limit(limit)
        if statuses:
            query = query.where(bookings_table.c.status.in_(statuses))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [self._row_to_booking(r) for r in rows]

    def open_bookings(self) -> list[Booking]:
        """Return every booking that still needs a vehicle, oldest first (for a restart)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(bookings_table)
                .where(bookings_table.c.status.in_(OPEN_STATUSES))
                .order_by(bookings_table.c.created_at)
            ).all()
        return [self._row_to_booking(r) for r in rows]

    def count(self) -> int:
        """Return the number of stored bookings."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(bookings_table)).scalar_one()
            )

    # -- dispatcher state -----------------------------------------------------------------
    def save_state(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable dispatcher value under ``key`` (upsert)."""
        now = time.time()
        text = json.dumps(value, sort_keys=True)
        with self.engine.begin() as conn:
            updated = conn.execute(
                dispatcher_table.update()
                .where(dispatcher_table.c.key == key)
                .values(value_json=text, updated_at=now)
            )
            if updated.rowcount == 0:
                conn.execute(
                    dispatcher_table.insert().values(key=key, value_json=text, updated_at=now)
                )

    def load_state(self, key: str) -> Any | None:
        """Return the dispatcher value stored under ``key``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(dispatcher_table.c.value_json).where(dispatcher_table.c.key == key)
            ).first()
        return json.loads(row[0]) if row else None
