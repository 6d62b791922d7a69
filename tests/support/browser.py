"""Headless Chromium helpers for the page tests: the browser, a served app, axe-core, Tab walks.

Chromium is the Debian package at ``/usr/bin/chromium`` (``scripts/ensure_test_deps.sh``
installs it); axe-core is the pinned npm release that ``python -m scripts.ensure_axe``
caches outside the source tree. ``make test`` runs both setup scripts first; when either
is missing, the tests fail with a message naming the script.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from routing.regions import PROJECT_ROOT
from scripts.ensure_axe import AXE_VERSION, axe_path
from tests.support.api import OPERATOR_KEY, free_port, start_server

CHROMIUM = os.environ.get("ELSTER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Same-origin URL the tests answer with axe.min.js (the pages' CSP allows only 'self').
AXE_URL_PATH = "/static/__test__/axe.min.js"
#: axe-core impacts that fail the audit.
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_path() -> str:
    """The Debian chromium binary, or fail naming the setup script that installs it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `sh scripts/ensure_test_deps.sh` (make test does) "
            "or install the Debian package 'chromium'"
        )
    return CHROMIUM


def axe_source() -> str:
    """The cached axe-core script, or fail naming the setup script that fetches it."""
    path = axe_path()
    if not path.exists():
        pytest.fail(
            f"axe-core {AXE_VERSION} is missing at {path}: run `python -m scripts.ensure_axe` "
            "(make test does) to fetch it from the npm registry"
        )
    return path.read_text(encoding="utf-8")


@contextmanager
def serve(tmp: Path, hd_data_dir: Path, cache_dir: Path, **extra: str) -> Iterator[str]:
    """Serve the Heidelberg app in a subprocess with the test operator key; yield its URL."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        ELSTER_REGION="heidelberg",
        ELSTER_DATA_DIR=str(hd_data_dir),
        ELSTER_CACHE_DIR=str(cache_dir),
        ELSTER_DATABASE_URL=f"sqlite:///{tmp / 'bookings.db'}",
        ELSTER_API_KEYS=OPERATOR_KEY,
        ELSTER_LIVE_PATH=str(tmp / "live.json"),
        PYTHONPATH=str(PROJECT_ROOT),
        **extra,
    )
    server = start_server(port, env, tmp / "server.log", factory="api.app:create_app")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def route_axe(page: Any, source: str) -> None:
    """Answer :data:`AXE_URL_PATH` on the page's own origin with ``source``."""
    page.route(
        f"**{AXE_URL_PATH}",
        lambda route: route.fulfill(
            status=200, content_type="application/javascript; charset=utf-8", body=source
        ),
    )


def run_axe(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the page (routed with :func:`route_axe`); the blocking violations.

    Returns
    -------
    list of dict
        ``{"id", "impact", "help", "targets"}`` for each serious or critical violation.
    """
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(url=AXE_URL_PATH)
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, { resultTypes: ["violations"] });
          return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
        }"""
    )
    return [v for v in result if v["impact"] in BLOCKING_IMPACTS]


#: Marks every control a keyboard user must reach: visible, enabled, focusable by Tab.
MARK_CONTROLS = """() => {
  const selector = 'a[href], button, input, select, textarea, [tabindex]';
  const visible = (el) =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const out = [];
  document.querySelectorAll(selector).forEach((el, i) => {
    if (el.disabled || el.tabIndex < 0 || !visible(el) || el.closest('[hidden], [inert]')) return;
    el.dataset.probe = String(i);
    out.push(String(i));
  });
  return out;
}"""


def tab_walk(page: Any, *, limit: int = 400) -> list[dict[str, Any]]:
    """Press Tab from the top of the page until focus comes round; what got focus, in order.

    Each entry is ``{"probe", "tag", "name", "outline", "focused"}``: the mark set by
    :data:`MARK_CONTROLS`, the element, its id or text, its outline style, and whether it
    matches ``:focus`` (a date field's inner segments can hold focus without it).
    """
    # Focus the body itself: the next Tab starts at the top of the page, wherever focus was.
    page.evaluate(
        "() => { const b = document.body; b.tabIndex = -1; b.focus();"
        " b.removeAttribute('tabindex'); }"
    )
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => { const el = document.activeElement;
              if (!el || el === document.body) return null;
              const style = getComputedStyle(el);
              return { probe: el.dataset.probe || null, tag: el.tagName.toLowerCase(),
                name: el.id || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40),
                outline: style.outlineStyle + ' ' + style.outlineWidth,
                focused: el.matches(':focus') }; }"""
        )
        if info is None or (seen and info == seen[0]):
            break
        seen.append(info)
    return seen


def book(
    url: str,
    origin: tuple[float, float],
    destination: tuple[float, float],
    *,
    minutes_ahead: float,
    key: str,
) -> dict[str, Any]:
    """Book a shuttle ride through the API as a passenger; the created booking (with token)."""
    when = datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(minutes=minutes_ahead)
    body = {
        "from": {"lat": origin[0], "lon": origin[1]},
        "to": {"lat": destination[0], "lon": destination[1]},
        "pickupAfter": when.replace(microsecond=0).isoformat(),
        "passengers": 1,
    }
    r = httpx.post(
        f"{url}/api/v1/shuttle/bookings", json=body, headers={"Idempotency-Key": key}, timeout=60
    )
    assert r.status_code in (200, 201), r.text
    booking: dict[str, Any] = r.json()
    return booking


def operator_get(url: str, path: str) -> Any:
    """GET an operator endpoint (``/api/v1`` + ``path``) with the test operator key."""
    r = httpx.get(f"{url}/api/v1{path}", headers={"X-API-Key": OPERATOR_KEY}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()
