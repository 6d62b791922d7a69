"""Two ways to talk SQL for the booking store: plain sqlite3 (fast path) or SQLAlchemy (PostgreSQL).

Both speak the same SQL text with ``:name`` parameters and hand rows back as
dicts, so :mod:`api.storage.bookings` is written once.

Writes happen in :meth:`Database.exclusive`: one transaction that no other
writer -- in this process or in another uvicorn worker -- can interleave with.

* SQLite: a process lock, then an ``flock`` on ``DB.lock`` beside the database
  (the kernel wakes the next waiter at once; SQLite's own busy handler polls
  with sleeps of up to 100 ms, which is what made bookings slow under
  contention), then ``BEGIN IMMEDIATE`` (SQLite's write lock). A killed
  process releases its ``flock`` with its file descriptors.
* PostgreSQL: a process lock, then ``pg_advisory_xact_lock`` inside the
  transaction (released at commit or rollback, also when the connection dies).

Checkpoints (SQLite): copying the WAL back into the database fsyncs, which
takes milliseconds to tens of milliseconds on a busy disk. SQLite does it by
default inside the commit that crosses 1,000 WAL pages, so one booking in a
hundred waited for the disk (and every booking queued behind it). Here a
background thread runs a ``PASSIVE`` checkpoint every couple of seconds on its
own connection (writers go on meanwhile), and the automatic one inside a commit
only starts past 20,000 pages, as a safety net.

Durability (SQLite): WAL with ``synchronous=NORMAL``. A commit is written to
the WAL file before the API answers but not fsync'ed (the WAL is fsync'ed at
checkpoints). A killed or crashed *server process* loses nothing: the written
pages live in the OS page cache and are replayed from the WAL on the next open
(``tests/test_api_booking_crash.py`` kills -9 mid-stream). Only an OS crash or
power loss can roll back the last commits before a checkpoint, never corrupt
the database. ``FULL`` would fsync on every commit and serialise bookings
behind the disk. Deployments that must survive power loss use PostgreSQL (or
SQLite on a battery-backed disk).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from api.errors import UnavailableError

logger = logging.getLogger(__name__)

#: Key of the PostgreSQL advisory lock that serialises dispatcher writes ("ELSTERBK").
PG_LOCK_KEY = 0x454C53544552424B & 0x7FFFFFFFFFFFFFFF


class Tx(Protocol):
    """A transaction: run statements, read rows."""

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run a statement; return the number of rows changed."""
        ...

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query; return its rows as dicts."""
        ...


class Database(Protocol):
    """What the booking store needs from a database."""

    url: str

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Read rows outside a write transaction (a consistent snapshot per statement)."""
        ...

    def exclusive(self) -> contextlib.AbstractContextManager[Tx]:
        """A write transaction serialised against every other writer (all processes)."""
        ...

    def close(self) -> None:
        """Release connections and locks."""
        ...


# ------------------------------------------------------------------------------- sqlite3


def sqlite_path(url: str) -> str:
    """The file of an ``sqlite:///`` URL (``:memory:`` for an in-memory database)."""
    path = url.split("///", 1)[-1] if "///" in url else ":memory:"
    return path or ":memory:"


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        return self.conn.execute(sql, params or {}).rowcount

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql, params or {}).fetchall()]


#: WAL pages after which a commit checkpoints by itself (the background thread is first).
AUTOCHECKPOINT_PAGES = 20_000


class SqliteDatabase:
    """SQLite through the standard library: WAL, per-thread readers, one writer.

    Statements are cached by sqlite3 per connection (prepared once), and no
    connection pool or ORM sits between a booking and its ``INSERT``.

    Parameters
    ----------
    url : str
        ``sqlite:///path`` (``sqlite://`` or ``:memory:``: in memory, one process).
    checkpoint_every_s : float
        Seconds between background WAL checkpoints (0: leave them to SQLite).
    """

    def __init__(self, url: str, *, checkpoint_every_s: float = 2.0) -> None:
        self.url = url
        path = sqlite_path(url)
        if path == ":memory:":
            # Connections of one process share a named in-memory database.
            self._target = f"file:elster-{uuid.uuid4().hex}?mode=memory&cache=shared"
            self._uri = True
            self._lock_path: Path | None = None
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._target, self._uri = path, False
            self._lock_path = Path(path + ".lock")
        self._local = threading.local()
        self._process_lock = threading.RLock()
        self._lock_fd: int | None = None
        self._depth = 0
        self._all: list[sqlite3.Connection] = []
        self._writer = self._connect()  # also keeps an in-memory database alive
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if self._lock_path is not None and checkpoint_every_s > 0:
            self._writer.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop,
                args=(checkpoint_every_s,),
                name="sqlite-checkpoint",
                daemon=True,
            )
            self._checkpointer.start()

    def _checkpoint_loop(self, every_s: float) -> None:
        conn = sqlite3.connect(self._target, uri=self._uri, timeout=5, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            while not self._stop.wait(every_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # busy: another process is checkpointing
                    logger.debug("background checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._target,
            uri=self._uri,
            timeout=30,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,
            cached_statements=256,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        self._all.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Read rows on this thread's connection (never blocked by a writer: WAL)."""
        return [dict(r) for r in self._reader().execute(sql, params or {}).fetchall()]

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[Tx]:
        """``flock`` + ``BEGIN IMMEDIATE``; commit on success, roll back on an exception.

        Re-entrant within a thread: an inner ``exclusive`` joins the outer transaction.
        """
        with self._process_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield _SqliteTx(self._writer)
                finally:
                    self._depth -= 1
                return
            fd = self._acquire_file_lock()
            try:
                self._writer.execute("BEGIN IMMEDIATE")
                self._depth = 1
                try:
                    yield _SqliteTx(self._writer)
                except BaseException:
                    self._writer.execute("ROLLBACK")
                    raise
                else:
                    self._writer.execute("COMMIT")
                finally:
                    self._depth = 0
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _acquire_file_lock(self) -> int | None:
        if self._lock_path is None:
            return None
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        return self._lock_fd

    def close(self) -> None:
        """Stop the checkpoint thread and close every connection this object opened."""
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=10)
            self._checkpointer = None
        for conn in self._all:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._all.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


# ---------------------------------------------------------------------------- SQLAlchemy


class DatabaseUnavailableError(UnavailableError):
    """The bookings database cannot be reached (restarting, failed over, network down).

    Raised after the write transaction was rolled back (nothing of it is stored)
    or a read failed; the API answers 503 with a ``Retry-After``.
    """

    code = "database_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"the bookings database is not reachable ({detail})",
            fix="retry in a few seconds; with an Idempotency-Key a retry never books twice",
        )


class CommitOutcomeUnknownError(DatabaseUnavailableError):
    """The connection broke while ``COMMIT`` was on its way: stored or not, the server knows.

    The caller must look (by a key the transaction wrote) before it answers or retries.
    """


def _is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` means "the server went away" rather than "this statement is wrong"."""
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.exc.OperationalError):
        return True  # connection refused, server shutting down / starting up, admin shutdown
    return isinstance(exc, sa.exc.InterfaceError)  # "connection already closed"


#: How long reads and transactions wait for an unreachable database before answering 503.
RETRY_FOR_S = 20.0


def postgres_url(url: str) -> str:
    """``url`` with psycopg 3 as the driver when it names none (``postgresql://``, ``postgres://``).

    SQLAlchemy's default PostgreSQL driver is psycopg2; the ``postgres`` extra installs psycopg 3.
    """
    import sqlalchemy as sa

    parsed = sa.engine.make_url(
        "postgresql://" + url.split("://", 1)[1] if url.startswith("postgres://") else url
    )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def retry_unavailable(what: str, attempt: Any, *, retry_for_s: float = RETRY_FOR_S) -> Any:
    """``attempt()``, redone while it raises :class:`DatabaseUnavailableError` (or a lost server).

    For steps that change nothing when they fail (a rolled-back transaction,
    table creation): a server starting while the database restarts waits for it
    rather than dying.
    """
    import sqlalchemy as sa

    deadline = time.monotonic() + retry_for_s
    delay = 0.05
    while True:
        try:
            return attempt()
        except (DatabaseUnavailableError, sa.exc.OperationalError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("%s: %s; redoing it in %.2f s", what, _first_line(exc), delay)
            time.sleep(delay)
            delay = min(2 * delay, 1.0)


class _SaTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        import sqlalchemy as sa

        return int(self.conn.execute(sa.text(sql), params or {}).rowcount)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        import sqlalchemy as sa

        return [dict(r._mapping) for r in self.conn.execute(sa.text(sql), params or {})]


class SqlAlchemyDatabase:
    """Any SQLAlchemy URL (PostgreSQL in production); writes under an advisory lock.

    PostgreSQL specifics:

    * Writers are serialised across processes *and hosts* by
      ``pg_advisory_xact_lock(PG_LOCK_KEY)``, taken as the transaction's first
      statement and released by the server at commit, rollback or when the
      connection dies (a killed worker cannot leave it held).
    * Transactions run at ``READ COMMITTED`` whatever the server's default:
      every statement after the lock sees every commit made before it was
      granted (under ``REPEATABLE READ`` the snapshot would be older than the
      lock, and a writer would miss the log entries of the one before).
    * Reads outside a write transaction run in autocommit (one round trip).
    * A broken connection (server restarted, failed over) is not an answer:
      reads are retried on a new connection for up to ``retry_for_s``; a write
      transaction is rolled back and :class:`DatabaseUnavailableError` raised
      (the caller redoes it), or :class:`CommitOutcomeUnknownError` when the
      break came during ``COMMIT``.

    Parameters
    ----------
    url : str
        The database URL (for display).
    engine : sqlalchemy.engine.Engine
        The engine to use.
    retry_for_s : float
        How long reads retry an unreachable database.
    """

    def __init__(self, url: str, engine: Any, *, retry_for_s: float = RETRY_FOR_S) -> None:
        self.url = url
        self.engine = engine
        self.retry_for_s = retry_for_s
        self._process_lock = threading.RLock()
        self._current: _SaTx | None = None
        self._postgres = engine.dialect.name == "postgresql"
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Read rows on a pooled connection (autocommit), retrying a lost server."""
        import sqlalchemy as sa

        deadline = time.monotonic() + self.retry_for_s
        delay = 0.05
        while True:
            try:
                with self._reader.connect() as conn:
                    return [dict(r._mapping) for r in conn.execute(sa.text(sql), params or {})]
            except sa.exc.DBAPIError as exc:
                if not _is_disconnect(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise DatabaseUnavailableError(_first_line(exc)) from exc
                logger.warning("database read failed (%s); retrying", _first_line(exc))
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[Tx]:
        """One transaction holding the advisory lock (PostgreSQL) and the process lock.

        Raises
        ------
        DatabaseUnavailableError
            The connection broke before ``COMMIT``: the transaction is rolled back.
        CommitOutcomeUnknownError
            The connection broke during ``COMMIT``.
        """
        import sqlalchemy as sa

        with self._process_lock:
            if self._current is not None:  # re-entrant: join the outer transaction
                yield self._current
                return
            committing = False
            try:
                with self.engine.connect() as conn, conn.begin():
                    if self._postgres:
                        conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY}
                        )
                    elif self.engine.dialect.name == "sqlite":
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    self._current = _SaTx(conn)
                    try:
                        yield self._current
                    finally:
                        self._current = None
                    committing = True  # leaving the `begin` block commits
            except sa.exc.DBAPIError as exc:
                if not _is_disconnect(exc):
                    raise
                if committing:
                    raise CommitOutcomeUnknownError(_first_line(exc)) from exc
                raise DatabaseUnavailableError(_first_line(exc)) from exc

    def close(self) -> None:
        """Dispose of the engine's pool."""
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
