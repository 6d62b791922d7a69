"""Barrier-free pages (issue 14): the map page and the dashboard in headless Chromium.

Both pages pass the axe-core audit (no serious or critical violation) in German and in
English, every control is reached with the Tab key and shows its focus, and the language
switch changes the visible texts and ``lang`` and is remembered.
"""

from __future__ import annotations

import pytest

from tests.support.api import OPERATOR_KEY
from tests.support.browser import MARK_CONTROLS, run_axe, tab_walk

#: Two itineraries whose legs carry every chip colour of the page (for contrast checks).
FAKE_ITINERARIES = """() => {
  const leg = (mode, extra) => ({mode, startTime: "2022-09-14T08:00:00+02:00",
    endTime: "2022-09-14T08:10:00+02:00", duration: 600,
    from: {name: "Bismarckplatz", lat: 49.4094, lon: 8.6937},
    to: {name: "Rohrbach Markt", lat: 49.3925, lon: 8.6890}, ...extra});
  const modes = ["WALK", "BIKE", "TRAM", "BUS", "RAIL", "SHUTTLE", "CAR", "SCOOTER"];
  const one = {startTime: "2022-09-14T08:00:00+02:00", endTime: "2022-09-14T08:40:00+02:00",
    duration: 2400, legs: modes.map((m) => leg(m, m === "TRAM" ? {routeShortName: "5",
      headsign: "Bismarckplatz", transitLeg: true, realtime: true, departureDelay: 120} : {}))};
  window.elsterState.itineraries = [one, {...one, duration: 2700}];
  window.elsterState.selected = 0;
  renderItineraries();
  drawItinerary(0);
  setPoint("from", [49.4094, 8.6937]);
  setPoint("to", [49.3925, 8.6890]);
}"""


def open_map_page(page, url: str) -> None:
    page.goto(url + "/", wait_until="load")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)


def open_dashboard(page, url: str, *, sign_in: bool = True) -> None:
    page.goto(url + "/dashboard", wait_until="load")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    if sign_in:
        page.fill("#operator-key", OPERATOR_KEY)
        page.press("#operator-key", "Enter")
        page.wait_for_selector("body[data-loaded=true]", timeout=60_000)


def choose_language(page, lang: str) -> None:
    page.select_option("#lang", lang)
    page.wait_for_function("(lang) => document.documentElement.lang === lang", arg=lang)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_map_page_passes_the_axe_audit(page, pages_url: str, lang: str) -> None:
    open_map_page(page, pages_url)
    choose_language(page, lang)
    page.evaluate(FAKE_ITINERARIES)  # results, markers and leg chips are audited too
    assert page.locator("#itineraries li.itinerary").count() == 2
    violations = run_axe(page)
    assert violations == [], violations


@pytest.mark.parametrize("lang", ["de", "en"])
def test_dashboard_passes_the_axe_audit(page, pages_url: str, bookings, lang: str) -> None:
    # Signed out, with the message of a rejected key ...
    open_dashboard(page, pages_url, sign_in=False)
    choose_language(page, lang)
    page.fill("#operator-key", "wrong-key")
    page.press("#operator-key", "Enter")
    page.wait_for_selector("#auth-message:not(:empty)")
    assert run_axe(page) == []
    # ... and signed in, with vehicles, bookings, KPIs and alerts shown.
    page.fill("#operator-key", OPERATOR_KEY)
    page.press("#operator-key", "Enter")
    page.wait_for_selector("body[data-loaded=true]", timeout=60_000)
    page.select_option("#bookings-filter", "all")
    assert page.locator("#bookings-table tr[data-booking-id]").count() >= len(bookings)
    violations = run_axe(page)
    assert violations == [], violations


@pytest.mark.parametrize("which", ["map", "dashboard"])
def test_the_tab_key_reaches_every_control_with_a_visible_focus(
    page, pages_url: str, bookings, which: str
) -> None:
    if which == "map":
        open_map_page(page, pages_url)
        page.evaluate(FAKE_ITINERARIES)
    else:
        open_dashboard(page, pages_url)
    controls = page.evaluate(MARK_CONTROLS)
    assert len(controls) > 10, controls
    walk = tab_walk(page)
    reached = {step["probe"] for step in walk}
    missed = page.evaluate(
        "(ids) => ids.map((i) => document.querySelector(`[data-probe='${i}']`))"
        ".map((el) => el.outerHTML.slice(0, 120))",
        [c for c in controls if c not in reached],
    )
    assert not missed, missed
    # Every control that the browser shows as focused draws the page's focus ring.
    hidden_focus = [s for s in walk if s["focused"] and s["outline"].startswith("none")]
    assert not hidden_focus, (hidden_focus, walk)
    assert sum(s["focused"] for s in walk) >= len(controls) - 2, walk


def test_the_map_page_plans_by_keyboard(page, pages_url: str) -> None:
    open_map_page(page, pages_url)
    # Enter on the focused map sets the trip ends at the map's centre; arrows pan between.
    page.focus("#map")
    page.keyboard.press("Enter")
    assert page.input_value("#from") != ""
    assert "Start gesetzt" in page.inner_text("#status")
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    page.wait_for_timeout(400)  # the pan animation
    page.keyboard.press("Enter")
    assert page.input_value("#to") not in ("", page.input_value("#from"))
    page.wait_for_function(  # the plan the second Enter asked for has come back
        "() => !document.getElementById('status').textContent.includes('…')", timeout=60_000
    )
    # An itinerary is picked with the keyboard as with the mouse.
    page.evaluate(FAKE_ITINERARIES)
    page.focus("#itineraries li.itinerary:nth-of-type(2) button.itin-select")
    page.keyboard.press("Enter")
    assert page.get_attribute("#itineraries li.itinerary:nth-of-type(2)", "class").endswith(
        "selected"
    )
    assert page.get_attribute("#itineraries li:nth-of-type(2) .itin-select", "aria-pressed") == (
        "true"
    )


def test_the_map_page_speaks_german_and_english(page, pages_url: str) -> None:
    open_map_page(page, pages_url)
    assert page.evaluate("() => document.documentElement.lang") == "de"
    assert page.inner_text("#plan-button") == "Route planen"
    assert page.get_attribute(".leaflet-control-zoom-in", "aria-label") == "Vergrößern"
    assert page.title() == "Elster Reiseplaner"
    choose_language(page, "en")
    assert page.inner_text("#plan-button") == "Plan trip"
    assert page.inner_text("#modes legend") == "Modes"
    assert page.get_attribute("#swap-button", "aria-label") == "Swap origin and destination"
    assert page.get_attribute(".leaflet-control-zoom-in", "aria-label") == "Zoom in"
    assert page.title() == "Elster trip planner"
    # Texts built by the script follow too, and the choice is remembered.
    page.evaluate(FAKE_ITINERARIES)
    assert "TRAM 5" in page.inner_text("#itineraries")
    page.reload(wait_until="load")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.inner_text("#plan-button") == "Plan trip"
    choose_language(page, "de")
    page.evaluate(FAKE_ITINERARIES)
    assert "Tram 5" in page.inner_text("#itineraries")
    assert page.inner_text("#plan-button") == "Route planen"


def test_the_dashboard_speaks_german_and_english(page, pages_url: str, bookings) -> None:
    open_dashboard(page, pages_url)
    assert page.evaluate("() => document.documentElement.lang") == "de"
    assert page.inner_text('.kpi[data-kpi="served"] dt') == "Befördert"
    assert page.inner_text("#logout-button") == "Abmelden"
    choose_language(page, "en")
    assert page.inner_text('.kpi[data-kpi="served"] dt') == "Served"
    assert page.inner_text("#logout-button") == "Sign out"
    assert page.inner_text("#vehicles-heading") == "Vehicles"
    assert page.title() == "Elster dispatch dashboard"
    page.select_option("#bookings-filter", "all")
    cancelled = page.locator(f'tr[data-booking-id="{bookings[2]["id"]}"] td.status')
    assert cancelled.inner_text() == "cancelled"
    page.reload(wait_until="load")
    page.wait_for_selector("body[data-loaded=true]", timeout=60_000)
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.inner_text('.kpi[data-kpi="served"] dt') == "Served"
