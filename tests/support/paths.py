"""Paths of the test fixtures, wherever a test module sits in the tree."""

from __future__ import annotations

from pathlib import Path

#: Small fixtures written for the tests (``tests/fixtures``).
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
