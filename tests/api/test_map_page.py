"""The map page in real headless Chromium: click origin and destination, see an itinerary drawn.

Chromium is the Debian package, installed by ``scripts/ensure_test_deps.sh``
(which ``make test`` runs; the test itself installs nothing). Playwright drives
it through its executable path, never downloading a browser. A screenshot is
saved to ``$ELSTER_TEST_DATA/out/map_page.png`` (outside the source tree).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from routing.regions import PROJECT_ROOT
from tests.support.api import OPERATOR_KEY, free_port, start_server
from tests.support.browser import CHROMIUM_ARGS
from tests.support.paths import TEST_DATA

OUT = TEST_DATA / "out"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory, hd_data_dir: Path, cache_dir: Path):
    tmp = tmp_path_factory.mktemp("map")
    port = free_port()
    env = dict(os.environ)
    env.update(
        ELSTER_REGION="heidelberg",
        ELSTER_DATA_DIR=str(hd_data_dir),
        ELSTER_CACHE_DIR=str(cache_dir),
        ELSTER_DATABASE_URL=f"sqlite:///{tmp / 'bookings.db'}",
        ELSTER_API_KEYS=OPERATOR_KEY,
        PYTHONPATH=str(PROJECT_ROOT),
    )
    server = start_server(port, env, tmp / "server.log", factory="api.app:create_app")
    yield f"http://127.0.0.1:{port}"
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


def test_plan_trip_by_clicking_the_map(chromium_bin, server_url):
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_bin, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server_url + "/", wait_until="load")
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            # The street layer arrived and was drawn (network and transit layers from the API).
            page.wait_for_function(
                "() => window.elsterState.layers.network && window.elsterState.layers.transit",
                timeout=60_000,
            )
            page.fill("#time", "2022-09-14T08:00")
            box = page.locator("#map").bounding_box()
            assert box is not None
            for lat, lon in ((49.4094, 8.6937), (49.3925, 8.6890)):  # Bismarckplatz -> Rohrbach
                x, y = page.evaluate(
                    "([lat, lon]) => {"
                    " const p = window.elsterMap.latLngToContainerPoint([lat, lon]);"
                    " return [p.x, p.y]; }",
                    [lat, lon],
                )
                page.mouse.click(box["x"] + x, box["y"] + y)
            try:
                page.wait_for_selector("#itineraries li", timeout=60_000)
            except Exception:
                page.screenshot(path=str(OUT / "map_page_failed.png"))
                pytest.fail(
                    f"no itinerary listed; status: {page.inner_text('#status')!r}, "
                    f"from={page.input_value('#from')!r} to={page.input_value('#to')!r}, "
                    f"page errors: {errors}"
                )
            entries = page.locator("#itineraries li.itinerary").count()
            assert entries >= 1
            drawn = page.evaluate(
                "() => { const g = window.elsterState.drawn; if (!g) return [];"
                " return g.getLayers()"
                ".filter(l => l instanceof L.Polyline && !(l instanceof L.Polygon))"
                ".map(l => l.getLatLngs().length); }"
            )
            assert drawn, drawn
            assert all(n >= 2 for n in drawn), drawn
            legs = page.locator("#itineraries li.selected .leg").all_inner_texts()
            assert legs, "the selected itinerary lists its legs"
            origin = page.input_value("#from")
            assert origin.startswith("49.409"), origin
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / "map_page.png"))
            status = page.inner_text("#status")
            assert "gefunden" in status, status  # the page speaks German by default
        finally:
            browser.close()
    assert not errors, errors


EVIL = '<img src=x onerror="window.__xss = (window.__xss || 0) + 1">'


def test_feed_names_are_text_not_html_and_the_pages_obey_their_csp(chromium_bin, server_url):
    """Issue 17, finding 11: names from a feed reached innerHTML unescaped (stored XSS)."""
    from playwright.sync_api import sync_playwright

    violations: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_bin, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy"
                    in m.text else None)  # fmt: skip
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server_url + "/", wait_until="load")
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            # An itinerary whose stop, route and headsign names carry markup, as a feed could.
            page.evaluate(
                """(evil) => {
                  const leg = (mode, extra) => ({mode, startTime: "2022-09-14T08:00:00+02:00",
                    endTime: "2022-09-14T08:10:00+02:00", duration: 600,
                    from: {name: evil, lat: 49.41, lon: 8.69}, to: {name: evil, lat: 49.40,
                    lon: 8.69}, ...extra});
                  window.elsterState.itineraries = [{startTime: "2022-09-14T08:00:00+02:00",
                    endTime: "2022-09-14T08:20:00+02:00", duration: 1200, legs: [
                      leg("WALK", {}), leg("TRAM", {routeShortName: evil, headsign: evil})]}];
                  renderItineraries();
                  drawItinerary(0);
                  const probe = L.circleMarker([49.41, 8.69]).addTo(window.elsterMap)
                    .bindPopup(popupHtml({name: evil, [evil]: 1})).openPopup();
                }""",
                EVIL,
            )
            page.hover("#itineraries li.itinerary")
            page.wait_for_timeout(500)  # an injected onerror would have fired by now
            assert page.evaluate("() => window.__xss") is None
            assert page.locator("#itineraries img, .leaflet-popup img").count() == 0
            assert EVIL in page.inner_text("#itineraries")  # shown as the text it is
            # The API docs render from this server's files under the same CSP.
            page.goto(server_url + "/docs", wait_until="load")
            page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
            assert "Elster" in page.inner_text(".swagger-ui .info .title")
        finally:
            browser.close()
    assert not violations, violations
    assert not errors, errors
