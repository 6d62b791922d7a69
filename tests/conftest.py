"""Shared fixtures: the Heidelberg stand-in region, fetched once per session.

Tests never write into the checkout. Fetched sources, build caches, numba's
compiled kernels and the default bookings database go to one persistent
directory outside the source tree, ``$ELSTER_TEST_DATA`` (default
``~/.cache/elster/test-data``), so repeated runs stay fast. The environment is
set here, before :mod:`routing` is imported (it reads ``ELSTER_CACHE_DIR`` to
place numba's cache), and subprocess servers inherit it.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.paths import TEST_DATA

# Forced, not defaulted: a developer's own ELSTER_DATA_DIR must not receive test bookings.
os.environ["ELSTER_DATA_DIR"] = str(TEST_DATA)
os.environ["ELSTER_CACHE_DIR"] = str(TEST_DATA / "cache")
# Tests send many requests from one address: no rate limits unless a test sets them
# (tests/api/test_api_ratelimit.py does). Subprocess servers inherit this environment.
os.environ.setdefault("ELSTER_RATE_LIMIT_BOOKINGS", "0")
os.environ.setdefault("ELSTER_RATE_LIMIT_EXPENSIVE", "0")

import pytest

from routing.fetch import fetch_region
from routing.regions import PROJECT_ROOT, Region, load_region

MIRROR = Path(os.environ.get("ELSTER_MIRROR") or PROJECT_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The local mirror of the real data sources (``../shared/data``)."""
    if not (MIRROR / "heidelberg").is_dir():
        pytest.fail(f"data mirror not found at {MIRROR}; set ELSTER_MIRROR to ../shared/data")
    return MIRROR


@pytest.fixture(scope="session")
def hd_region() -> Region:
    """The Heidelberg region definition."""
    return load_region("heidelberg")


@pytest.fixture(scope="session")
def hd_data_dir(mirror_dir: Path, hd_region: Region) -> Path:
    """The test data directory with every Heidelberg source fetched from the mirror."""
    TEST_DATA.mkdir(parents=True, exist_ok=True)
    fetch_region(hd_region, data_dir=TEST_DATA, mirror=mirror_dir, progress=False)
    return TEST_DATA


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Persistent build cache shared by test sessions (content-keyed, so always safe)."""
    path = TEST_DATA / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


pytest_plugins = ["tests.support.road_fixtures", "tests.support.pg"]


@pytest.fixture(scope="session")
def hd_networks(hd_region: Region, hd_data_dir: Path, cache_dir: Path) -> dict:
    """Heidelberg road networks (graph, snapper, CH) per profile, from the build cache."""
    from routing.road import load_road_networks

    return load_road_networks(hd_region, data_dir=hd_data_dir, cache_dir=cache_dir)
