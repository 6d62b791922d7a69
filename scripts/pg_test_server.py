"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a temporary directory.

The tests (``tests/support/pg.py``) and ``benchmarks/api_load.py --database
sqlite,postgres`` start one with :class:`ThrowawayPostgres`; by hand::

    python -m scripts.pg_test_server            # start, print the URL, stop on Ctrl-C

What it does, in order:

1. finds PostgreSQL's server programs (``ELSTER_PG_BINDIR``, ``initdb`` on
   ``PATH``, or the newest ``/usr/lib/postgresql/*/bin``); when there are
   none and this runs as root on Debian, installs the ``postgresql`` package
   (``apt-get install -y -qq``, quiet, and a no-op once installed);
2. ``initdb`` a cluster in a new temporary directory, trust authentication,
   listening on 127.0.0.1 on a free port and on a unix socket in that
   directory only;
3. ``pg_ctl start``; :meth:`ThrowawayPostgres.stop` stops it and deletes the
   directory.

PostgreSQL refuses to run as root: as root, the cluster belongs to the
``postgres`` system user (created by the Debian package) and every server
program runs through ``runuser -u postgres``.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

#: The server's settings: small, local, quick to start; ``durable=False`` turns fsync off.
BASE_CONF = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "400",
    "shared_buffers": "'64MB'",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server could be started here; the message says why and what to do."""


def _version_key(path: str) -> tuple[int, ...]:
    digits = Path(path).parent.name.split(".")
    return tuple(int(d) for d in digits if d.isdigit())


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None."""
    given = os.environ.get("ELSTER_PG_BINDIR")
    if given:
        return Path(given)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    return Path(candidates[-1]).parent if candidates else None


def install_postgres() -> None:
    """``apt-get install -y -qq postgresql`` (root on Debian only); quiet and idempotent."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailableError(
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed and this is not "
            "root on Debian; install the 'postgresql' package, set ELSTER_PG_BINDIR, or set "
            "ELSTER_TEST_POSTGRES=0 to skip the PostgreSQL tests on this machine"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"]
    logger.info("installing PostgreSQL: %s", " ".join(cmd))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # stale package lists: update once, then try again
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PostgresUnavailableError(
            f"apt-get install postgresql failed ({done.returncode}): {done.stderr.strip()[-500:]}"
        )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """One PostgreSQL cluster in a temporary directory, for as long as a test session runs.

    Parameters
    ----------
    durable : bool
        Keep PostgreSQL's default ``fsync=on``; False turns it off (tests: a
        killed *server process* loses nothing either way, only an OS crash would).
    install : bool
        Install Debian's ``postgresql`` package when no server programs are found.
    """

    def __init__(self, *, durable: bool = False, install: bool = True) -> None:
        self.durable = durable
        self.install = install
        self.port = 0
        self.root: Path | None = None
        self.bindir: Path | None = None
        self._as_user: list[str] = []

    # -------------------------------------------------------------------- lifecycle
    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        assert self.root is not None, "start() first"
        return self.root / "data"

    def start(self) -> str:
        """initdb and start the server; return the URL of its ``postgres`` database.

        Raises
        ------
        PostgresUnavailableError
            No server programs and none installable, or initdb / start failed.
        """
        self.bindir = find_bindir()
        if self.bindir is None and self.install:
            install_postgres()
            self.bindir = find_bindir()
        if self.bindir is None:
            raise PostgresUnavailableError(
                "PostgreSQL's server programs were not found after installing; set ELSTER_PG_BINDIR"
            )
        self.root = Path(tempfile.mkdtemp(prefix="elster-pg-"))
        if os.geteuid() == 0:  # postgres refuses to run as root
            if shutil.which("runuser") is None:
                raise PostgresUnavailableError("running as root without 'runuser'")
            try:
                import pwd

                user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailableError(
                    "running as root and there is no 'postgres' user to run the server as; "
                    "install Debian's postgresql package (it creates one)"
                ) from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        self.port = free_port()
        conf = {
            **BASE_CONF,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
        }
        with (self.data_dir / "postgresql.conf").open("a") as out:
            out.write("\n# elster throwaway test server\n")
            out.writelines(f"{k} = {v}\n" for k, v in conf.items())
        self._pg_ctl("start")
        logger.info("throwaway PostgreSQL on 127.0.0.1:%d (%s)", self.port, self.root)
        return self.url("postgres")

    def stop(self) -> None:
        """Stop the server (immediately) and delete its directory."""
        if self.root is None:
            return
        with contextlib.suppress(PostgresUnavailableError):
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def restart(self, *, mode: str = "fast") -> None:
        """Stop and start the server (``mode``: ``fast`` or ``immediate``, i.e. a crash)."""
        self._pg_ctl("stop", "-m", mode)
        self._pg_ctl("start")

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------------- databases
    def url(self, database: str) -> str:
        """SQLAlchemy URL of a database on this server (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database; return its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database`, ending its connections."""
        name = url.rsplit("/", 1)[1]
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def sql(self, statement: str) -> None:
        """Run one statement in autocommit on the ``postgres`` database."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement.encode())

    # -------------------------------------------------------------------- programs
    def _pg_ctl(self, *args: str) -> None:
        log = self.root / "server.log" if self.root else Path(os.devnull)
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-w", "-t", "60", *args)

    def _run(self, program: str, *args: str) -> None:
        assert self.bindir is not None
        cmd = [*self._as_user, str(self.bindir / program), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")
        if done.returncode != 0:
            tail = ""
            if self.root is not None and (self.root / "server.log").exists():
                tail = (self.root / "server.log").read_text(errors="replace")[-1500:]
            raise PostgresUnavailableError(
                f"{program} {' '.join(args)} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-1500:]}\n{tail}"
            )


def main() -> None:
    """Start a throwaway server, print its URL, stop it on Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with ThrowawayPostgres(durable=True) as server:
        print(server.url("postgres"), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
