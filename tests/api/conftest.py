"""Fixtures of the page tests (map page, dashboard): one served app and the browser tools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.browser import CHROMIUM_ARGS, axe_source, book, chromium_path, route_axe, serve

BISMARCKPLATZ, ROHRBACH, HAUPTBAHNHOF = (49.4094, 8.6937), (49.3925, 8.6890), (49.4037, 8.6756)


@pytest.fixture(scope="session")
def chromium_bin() -> str:
    """The Debian chromium binary (``scripts/ensure_test_deps.sh`` installs it)."""
    return chromium_path()


@pytest.fixture(scope="session")
def axe_js() -> str:
    """The pinned axe-core script (``python -m scripts.ensure_axe`` fetches it)."""
    return axe_source()


@pytest.fixture(scope="session")
def pages_url(tmp_path_factory, hd_data_dir: Path, cache_dir: Path) -> Iterator[str]:
    """The Heidelberg app with its shuttle fleet, served once for the page tests."""
    with serve(tmp_path_factory.mktemp("pages"), hd_data_dir, cache_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_bin: str) -> Iterator[Browser]:
    """One headless Chromium per test module; each test opens its own context.

    Per module, not per session: Playwright's sync API allows one running instance per
    thread, and other modules (test_map_page.py) start their own.
    """
    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=chromium_bin, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Browser, axe_js: str) -> Iterator[Page]:
    """A fresh page (own storage) that fails the test on any script error or CSP violation.

    axe-core is answered on the page's own origin (see ``tests.support.browser.route_axe``).
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    route_axe(page, axe_js)
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture(scope="session")
def bookings(pages_url: str) -> list[dict]:
    """Three shuttle bookings made through the API; the last one cancelled by its passenger."""
    made = [
        book(pages_url, BISMARCKPLATZ, ROHRBACH, minutes_ahead=30, key="dashboard-1"),
        book(pages_url, HAUPTBAHNHOF, BISMARCKPLATZ, minutes_ahead=40, key="dashboard-2"),
        book(pages_url, ROHRBACH, HAUPTBAHNHOF, minutes_ahead=50, key="dashboard-3"),
    ]
    cancelled = httpx.post(
        f"{pages_url}/api/v1/shuttle/bookings/{made[2]['id']}/cancel",
        headers={"X-Booking-Token": made[2]["token"]},
        timeout=60,
    )
    assert cancelled.json()["status"] == "cancelled", cancelled.text
    return made
