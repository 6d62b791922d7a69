"""Paths of the test fixtures and of the tests' own data, wherever a test module sits."""

from __future__ import annotations

import os
from pathlib import Path

#: Small fixtures written for the tests (``tests/fixtures``).
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"

#: Persistent data of the test sessions, outside the source tree: fetched sources, build
#: caches (content-keyed, so safe to share between runs), screenshots. ``$ELSTER_TEST_DATA``,
#: default ``~/.cache/elster/test-data``.
TEST_DATA = Path(
    os.environ.get("ELSTER_TEST_DATA") or Path.home() / ".cache" / "elster" / "test-data"
).resolve()
