"""Shared fixtures: the Heidelberg stand-in region, fetched once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from routing.fetch import fetch_region
from routing.regions import PROJECT_ROOT, Region, load_region

# Tests send many requests from one address: no rate limits unless a test sets them
# (tests/test_api_ratelimit.py does). Subprocess servers inherit this environment.
os.environ.setdefault("ELSTER_RATE_LIMIT_BOOKINGS", "0")
os.environ.setdefault("ELSTER_RATE_LIMIT_EXPENSIVE", "0")

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
    """The project's data directory with every Heidelberg source fetched from the mirror."""
    data_dir = PROJECT_ROOT / "data"
    fetch_region(hd_region, data_dir=data_dir, mirror=mirror_dir, progress=False)
    return data_dir


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Persistent build cache shared by test sessions (content-keyed, so always safe)."""
    path = PROJECT_ROOT / "data" / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


pytest_plugins = ["tests.support.road_fixtures", "tests.support.pg"]


@pytest.fixture(scope="session")
def hd_networks(hd_region: Region, hd_data_dir: Path, cache_dir: Path) -> dict:
    """Heidelberg road networks (graph, snapper, CH) per profile, from the build cache."""
    from routing.road import load_road_networks

    return load_road_networks(hd_region, data_dir=hd_data_dir, cache_dir=cache_dir)
