"""Start the API as ``elster serve`` does, for benchmark programs and tests.

One place for what several load benchmarks and server tests each wrote again:
a free port, the ``ELSTER_*`` environment of a Heidelberg server, and starting
``api.workers`` then waiting until every worker process has answered
``/api/v1/health`` (told apart by the ``X-Elster-Worker`` header).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

#: The checkout this module belongs to (servers run with it as working directory).
ROOT = Path(__file__).resolve().parents[2]


class ServerStartError(RuntimeError):
    """The server exited or did not answer in time; the message holds the end of its log."""


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now.

    Returns
    -------
    int
        The port number (another process may take it before it is used).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(
    *,
    data_dir: Path,
    cache_dir: Path,
    database_url: str,
    profiles: str,
    api_keys: str | None = None,
    live_path: Path | None = None,
    transit: bool = False,
    wheelchair: bool = False,
    shuttle_vehicles: int | None = None,
    shuttle_seats: int | None = None,
    reoptimise_s: float | None = None,
    **extra: str,
) -> dict[str, str]:
    """Return this process's environment plus the settings of a Heidelberg server.

    Parameters
    ----------
    data_dir, cache_dir : Path
        ``ELSTER_DATA_DIR`` and ``ELSTER_CACHE_DIR``.
    database_url : str
        ``ELSTER_DATABASE_URL`` (bookings and the dispatch log).
    profiles : str
        ``ELSTER_PROFILES``, comma-separated road profiles to load.
    api_keys : str, optional
        ``ELSTER_API_KEYS`` (operator endpoints).
    live_path : Path, optional
        ``ELSTER_LIVE_PATH``, the live-state file (one per server, so servers share nothing).
    transit, wheelchair : bool
        ``ELSTER_TRANSIT`` and ``ELSTER_WHEELCHAIR`` (both off: faster start).
    shuttle_vehicles, shuttle_seats : int, optional
        ``ELSTER_SHUTTLE_VEHICLES`` and ``ELSTER_SHUTTLE_SEATS``.
    reoptimise_s : float, optional
        ``ELSTER_SHUTTLE_REOPTIMISE_S``, the period of the background re-optimisation.
    **extra : str
        Further variables, by their full name (``ELSTER_TOKEN_SECRET="..."``).

    Returns
    -------
    dict of str to str
        The environment for :func:`start_api` (``PYTHONPATH`` is the checkout).
    """
    env = dict(os.environ)
    env.update(
        ELSTER_REGION="heidelberg",
        ELSTER_DATA_DIR=str(data_dir),
        ELSTER_CACHE_DIR=str(cache_dir),
        ELSTER_DATABASE_URL=database_url,
        ELSTER_PROFILES=profiles,
        ELSTER_TRANSIT=str(transit).lower(),
        ELSTER_WHEELCHAIR=str(wheelchair).lower(),
        PYTHONPATH=str(ROOT),
    )
    optional = {
        "ELSTER_API_KEYS": api_keys,
        "ELSTER_LIVE_PATH": live_path,
        "ELSTER_SHUTTLE_VEHICLES": shuttle_vehicles,
        "ELSTER_SHUTTLE_SEATS": shuttle_seats,
        "ELSTER_SHUTTLE_REOPTIMISE_S": reoptimise_s,
    }
    env.update({k: str(v) for k, v in optional.items() if v is not None})
    env.update(extra)
    return env


def start_api(
    port: int,
    env: dict[str, str],
    log: Path,
    *,
    factory: str = "api.app:create_app",
    workers: int = 1,
    command: list[str] | None = None,
    timeout_s: float = 300.0,
) -> subprocess.Popen[bytes]:
    """Serve an app factory on 127.0.0.1:``port`` with ``api.workers``; wait until it answers.

    Parameters
    ----------
    port : int
        The port to listen on.
    env : dict of str to str
        The server's environment (see :func:`server_env`).
    log : Path
        File that receives the server's stdout and stderr (appended).
    factory : str
        ``module:function`` returning the ASGI app.
    workers : int
        Worker processes; the call returns once each of them has answered ``/health``.
    command : list of str, optional
        Replaces the command line (e.g. ``elster serve``); it must listen on ``port``.
    timeout_s : float
        How long to wait for every worker.

    Returns
    -------
    subprocess.Popen
        The server, in a new session (``os.killpg(proc.pid, ...)`` reaches every worker).

    Raises
    ------
    ServerStartError
        The server exited, or not every worker answered within ``timeout_s``.
    """
    cmd = command or [
        sys.executable, "-m", "api.workers", factory,  # what `elster serve` runs
        "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--workers", str(workers),
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(f"server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            # A new connection each time: the kernel spreads them over the workers.
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
            if r.status_code == 200:
                seen.add(r.headers.get("x-elster-worker", ""))
                if len(seen) >= workers:
                    return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1 if seen else 0.2)
    proc.kill()
    raise ServerStartError(f"server did not come up in {timeout_s:.0f} s:\n{_tail(log)}")


def children(pid: int) -> list[int]:
    """Return the child processes of ``pid`` (the workers of ``api.workers``), from /proc.

    Parameters
    ----------
    pid : int
        The parent process.

    Returns
    -------
    list of int
        Their process ids; empty when the process is gone.
    """
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def _tail(log: Path, chars: int = 3000) -> str:
    """Return the end of a server log (empty when it was never written)."""
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
