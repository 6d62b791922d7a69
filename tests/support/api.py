"""Helpers for the API tests: one loaded Heidelberg state per test session, apps around it."""

from __future__ import annotations

import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.state import RegionState, load_state
from benchmarks.support.server import ServerStartError, free_port, start_api

__all__ = ["OPERATOR_KEY", "free_port", "hd_settings", "shared_state", "start_server"]

OPERATOR_KEY = "test-operator-key-123"


def hd_settings(data_dir: Path, cache_dir: Path, database_url: str, **extra: Any) -> Settings:
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


def start_server(
    port: int,
    env: dict[str, str],
    log: Path,
    factory: str = "benchmarks.support.shuttle_doubles:crash_app",
    *,
    workers: int = 1,
    command: list[str] | None = None,
) -> subprocess.Popen:
    """Serve an app factory on 127.0.0.1:port (``api.workers``); wait until /health answers.

    :func:`benchmarks.support.server.start_api` with the tests' default factory;
    a server that does not come up fails the test with the end of its log.
    With several ``workers``, wait until each worker process has answered.
    ``command`` replaces the command line (e.g. ``elster serve``); it must
    listen on ``port``.
    """
    try:
        return start_api(
            port, env, log, factory=factory, workers=workers, command=command, timeout_s=240
        )
    except ServerStartError as exc:
        pytest.fail(str(exc))
