"""The clock the shuttle runs on: the system clock, or a file for simulated days.

A vehicle simulator (``benchmarks/fleet_live.py``) drives a whole service day
through the HTTP API in minutes. It cannot wait for real time to pass, so the
server's shuttle stack (dispatch, booking windows, vehicle reports) reads the
time from a file the simulator writes (``ELSTER_CLOCK_FILE``), in every worker
alike. Everything else (rate limits, timeouts, logs) keeps the system clock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from routing.errors import DataError


class FileClock:
    """UNIX seconds read from a file holding one number (never going back).

    The writer replaces the file atomically (write a temporary file, then
    ``os.replace``); a read that still fails keeps the last value.

    Parameters
    ----------
    path : Path
        The clock file.

    Raises
    ------
    DataError
        The file is missing or does not hold a number when the clock is made.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._last = float(self.path.read_text().strip())
        except (OSError, ValueError) as exc:
            raise DataError(
                f"ELSTER_CLOCK_FILE {self.path}: cannot read a UNIX time from it ({exc}); "
                "write one number (seconds) into it, or unset ELSTER_CLOCK_FILE for the "
                "system clock"
            ) from None

    def __call__(self) -> float:
        """The current time of the file (UNIX seconds)."""
        try:
            value = float(self.path.read_text().strip())
        except (OSError, ValueError):
            value = self._last
        with self._lock:
            self._last = max(self._last, value)
            return self._last


def make_clock(path: Path | None) -> Callable[[], float]:
    """The shuttle's clock: the system clock, or :class:`FileClock` on ``path``.

    Parameters
    ----------
    path : Path or None
        ``ELSTER_CLOCK_FILE``.

    Returns
    -------
    callable
        ``() -> UNIX seconds``.
    """
    return time.time if path is None else FileClock(path)


def write_clock(path: Path, unix: float) -> None:
    """Set a clock file to ``unix`` atomically (what a simulator calls).

    Parameters
    ----------
    path : Path
    unix : float
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{unix:.3f}\n")
    os.replace(tmp, path)
