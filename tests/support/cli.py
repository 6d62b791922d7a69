"""Run the ``elster`` command line as a user does: a subprocess of ``python -m api``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from routing.regions import PROJECT_ROOT


def run_elster(*args: str, data_dir: Path, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``elster -q ARGS --data-dir DATA_DIR --cache-dir CACHE_DIR``; return what it did.

    Parameters
    ----------
    *args : str
        The verb and its arguments (``"route", "heidelberg", "--from", ...``).
    data_dir, cache_dir : Path
        The test session's data directory and build cache.

    Returns
    -------
    subprocess.CompletedProcess
        Exit code, stdout and stderr as text (ten minutes at most).
    """
    return subprocess.run(
        [sys.executable, "-m", "api", "-q", *args,
         "--data-dir", str(data_dir), "--cache-dir", str(cache_dir)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=600,
    )  # fmt: skip
