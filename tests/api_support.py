"""Helpers for the API tests: one loaded Heidelberg state per test session, apps around it."""

from __future__ import annotations

import socket
import tempfile
from functools import lru_cache
from pathlib import Path

from api.settings import Settings
from api.state import RegionState, load_state

OPERATOR_KEY = "test-operator-key-123"


def hd_settings(data_dir: Path, cache_dir: Path, database_url: str, **extra: object) -> Settings:
    """Settings for the Heidelberg region with a test operator key."""
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
