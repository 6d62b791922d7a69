"""Helpers for the API tests: one loaded Heidelberg state per test session, apps around it."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from api.state import RegionState, load_state
from routing.regions import PROJECT_ROOT

OPERATOR_KEY = "test-operator-key-123"


def hd_settings(data_dir: Path, cache_dir: Path, database_url: str, **extra: object) -> Settings:
    """Settings for the Heidelberg region with a test operator key and a private live state."""
    extra.setdefault("live_path", Path(tempfile.mkdtemp(prefix="elster-live-")) / "heidelberg.json")
    return Settings(
        region="heidelberg",
        data_dir=data_dir,
        cache_dir=cache_dir,
        database_url=database_url,
        api_keys=OPERATOR_KEY,
        **extra,
    )


@lru_cache(maxsize=1)
def shared_state(data_dir: Path, cache_dir: Path) -> RegionState:
    """Load Heidelberg once per process (graphs, hierarchies, timetable, stations)."""
    db = Path(tempfile.mkdtemp(prefix="elster-api-test-")) / "bookings.db"
    return load_state(hd_settings(data_dir, cache_dir, f"sqlite:///{db}"))


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    port: int,
    env: dict[str, str],
    log: Path,
    factory: str = "tests.support.shuttle_doubles:crash_app",
    *,
    workers: int = 1,
    command: list[str] | None = None,
) -> subprocess.Popen:
    """Serve an app factory on 127.0.0.1:port (``api.workers``); wait until /health answers.

    With several ``workers``, wait until each worker process has answered
    (told apart by the ``X-Elster-Worker`` header). ``command`` replaces the
    command line (e.g. ``elster serve``); it must listen on ``port``.
    """
    cmd = command or [
        sys.executable,
        "-m",
        "api.workers",  # what `elster serve` runs: one listening socket per worker
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # os.killpg(proc.pid, ...) reaches every worker
    )
    deadline = time.monotonic() + 240
    seen: set[str] = set()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            # A new connection each time: the kernel spreads them over the workers.
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            if r.status_code == 200:
                seen.add(r.headers.get("x-elster-worker", ""))
                if len(seen) >= workers:
                    return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1 if seen else 0.2)
    proc.kill()
    pytest.fail(f"server did not come up in 180 s:\n{log.read_text()[-3000:]}")
