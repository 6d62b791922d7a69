"""The booking tests' databases: SQLite files and a real PostgreSQL server.

``database`` is parametrised over ``sqlite`` and ``postgres``; a test that takes
it runs twice. The PostgreSQL server is started once per test session, the
first time a test needs it (:class:`scripts.pg_test_server.ThrowawayPostgres`:
``initdb`` + ``pg_ctl`` in a temporary directory), and stopped at the end; every
test gets a fresh database on it. The tests never install PostgreSQL:
``scripts/ensure_test_deps.sh`` (run by ``make test``) does.

Environment:

* ``ELSTER_TEST_POSTGRES_URL``: use this server instead (a URL whose user may
  ``CREATE DATABASE``, e.g. ``postgresql://postgres@db.example:5432/postgres``).
* ``ELSTER_TEST_POSTGRES=0``: skip the PostgreSQL variants (a developer machine
  without PostgreSQL). Nothing else skips them: when no server can be had they
  *fail*, with the reason, so CI cannot pass without PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BACKENDS = ("sqlite", "postgres")
OPT_OUT = "ELSTER_TEST_POSTGRES"


class _External:
    """A PostgreSQL server given by ``ELSTER_TEST_POSTGRES_URL``."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.base = sa.engine.make_url(url).set(drivername="postgresql+psycopg")

    def _admin(self, statement: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.base, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.base.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL server for this session (started on first use, stopped at the end)."""
    if os.environ.get(OPT_OUT, "").strip().lower() in ("0", "false", "no", "off"):
        pytest.skip(f"PostgreSQL tests turned off by {OPT_OUT}=0")
    given = os.environ.get("ELSTER_TEST_POSTGRES_URL", "").strip()
    if given:
        yield _External(given)
        return
    from scripts.pg_test_server import PostgresUnavailableError, ThrowawayPostgres

    server = ThrowawayPostgres(install=False)  # installing is make test's job
    try:
        server.start()
    except PostgresUnavailableError as exc:
        server.stop()
        pytest.fail(
            f"no PostgreSQL server for the PostgreSQL tests: {exc}\n"
            "install it with `sh scripts/ensure_test_deps.sh` (which `make test` runs), "
            f"or, on a machine without PostgreSQL, set {OPT_OUT}=0 to skip them",
            pytrace=False,
        )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A factory of empty databases of one backend: ``database("name") -> URL``.

    SQLite: a file ``tmp_path/name.db``. PostgreSQL: a new database on the
    session's server, dropped after the test.
    """
    made: list[str] = []
    if request.param == "sqlite":

        def new(name: str = "bookings") -> str:
            return f"sqlite:///{tmp_path / name}.db"

        yield new
        return
    server = request.getfixturevalue("pg_server")

    def new_pg(name: str = "bookings") -> str:
        url = server.create_database()
        made.append(url)
        return url

    yield new_pg
    for url in made:
        server.drop_database(url)


@pytest.fixture
def db_url(database: Callable[[str], str]) -> str:
    """One empty database of each backend (the test runs once per backend)."""
    return database("bookings")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the PostgreSQL variants ``postgres`` (``-m "not postgres"`` leaves them out)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database") == "postgres":
            item.add_marker(pytest.mark.postgres)
