"""The dispatcher's dashboard (/dashboard) in headless Chromium, against a served app.

Bookings are made through the HTTP API as a passenger would; the page, signed in with
the operator key, must show them with their state, the vehicles carrying them, and the
KPIs computed from what the operator endpoints return.
"""

from __future__ import annotations

import json
import re

from routing.regions import PROJECT_ROOT
from tests.support.api import OPERATOR_KEY
from tests.support.browser import operator_get

STATIC = PROJECT_ROOT / "api" / "static"


def sign_in(page, url: str, key: str = OPERATOR_KEY) -> None:
    page.goto(url + "/dashboard", wait_until="load")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.fill("#operator-key", key)
    page.press("#operator-key", "Enter")  # the form submits by keyboard


def test_a_wrong_key_is_rejected_with_a_clear_message(page, pages_url: str) -> None:
    sign_in(page, pages_url, key="not-the-operator-key")
    page.wait_for_selector("#auth-message:not(:empty)", timeout=30_000)
    message = page.inner_text("#auth-message")
    # German by default; names what happened, what the server said and what to do.
    assert "abgelehnt" in message and "X-API-Key" in message and "prüfen" in message, message
    assert page.get_attribute("#operator-key", "aria-invalid") == "true"
    assert page.evaluate("() => document.activeElement.id") == "operator-key"
    assert page.is_hidden("#dashboard-content")
    assert page.evaluate("() => sessionStorage.getItem('elster.operatorKey')") is None
    assert page.locator("#bookings-table tbody tr").count() == 0


def test_vehicles_bookings_and_kpis_after_bookings_made_through_the_api(
    page, pages_url: str, bookings: list[dict]
) -> None:
    sign_in(page, pages_url)
    page.wait_for_selector("body[data-loaded=true]", timeout=60_000)
    assert page.inner_text("#auth-message") == ""

    # Every booking is listed with its state ("all" shows finished ones too).
    page.select_option("#bookings-filter", "all")
    for made in bookings:
        row = page.locator(f'#bookings-table tr[data-booking-id="{made["id"]}"]')
        assert row.count() == 1, made["id"]
    rows = {r["id"]: r for r in operator_get(pages_url, "/fleet/requests?status=all&limit=2000")}
    for made in bookings:
        status = page.get_attribute(f'tr[data-booking-id="{made["id"]}"]', "data-status")
        assert status == rows[made["id"]]["status"]
    cancelled = page.locator(f'tr[data-booking-id="{bookings[2]["id"]}"] td.status')
    assert cancelled.inner_text() == "storniert"
    # The open filter (the default) leaves the cancelled one out.
    page.select_option("#bookings-filter", "open")
    assert page.locator(f'tr[data-booking-id="{bookings[2]["id"]}"]').count() == 0
    assert page.locator(f'tr[data-booking-id="{bookings[0]["id"]}"]').count() == 1

    # Every vehicle is in the table and on the map; the booked ones carry the pickups.
    vehicles = operator_get(pages_url, "/fleet/vehicles")
    assert page.locator("#vehicles-table tbody tr[data-vehicle-id]").count() == len(vehicles)
    on_map = page.evaluate("() => Object.keys(window.elsterDashboard.markers).sort()")
    assert on_map == sorted(v["id"] for v in vehicles if v["lat"] is not None)
    for made in bookings[:2]:
        carrier = [v["id"] for v in vehicles if any(s["request"] == made["id"] for s in v["stops"])]
        assert len(carrier) == 1, (made["id"], vehicles)
        stops = page.inner_text(f'#vehicles-table tr[data-vehicle-id="{carrier[0]}"]')
        assert f"Abholung {made['id'][:8]}" in stops, stops
        planned = page.inner_text(f'tr[data-booking-id="{made["id"]}"] td:nth-of-type(3)')
        assert planned != "–"  # the planned pickup time, read from the vehicle's plan

    # KPIs: the server's (/fleet/kpis). This server simulates its vehicles, so only the
    # refused count is known; the rest say why they show "–".
    kpis = operator_get(pages_url, "/fleet/kpis")
    assert kpis["served"] is None and kpis["vehicleKm"] is None
    kpi = lambda name: page.inner_text(f'.kpi[data-kpi="{name}"] .value')  # noqa: E731
    assert kpi("refused") == str(kpis["refused"])
    for simulated in ("served", "onTime", "waitMean", "occupancy", "vehicleKm", "emptyKm"):
        value = page.locator(f'.kpi[data-kpi="{simulated}"] .value')
        assert value.inner_text() == "–"
        assert "simuliert" in (value.get_attribute("title") or "")
    # Simulated vehicles have no shifts: their state says so.
    states = page.locator("#vehicles-table td.vehicle-state").all_inner_texts()
    assert states and set(states) == {"simuliert"}

    # The key stays for this tab: a reload signs in again without asking.
    page.reload(wait_until="load")
    page.wait_for_selector("body[data-loaded=true]", timeout=60_000)
    assert page.is_visible("#logout-button") and page.is_hidden("#login-button")
    # Signing out forgets it.
    (PROJECT_ROOT / "out").mkdir(exist_ok=True)
    page.screenshot(path=str(PROJECT_ROOT / "out" / "dashboard.png"), full_page=True)
    page.click("#logout-button")
    assert page.evaluate("() => sessionStorage.getItem('elster.operatorKey')") is None
    assert page.is_hidden("#dashboard-content")


def test_both_languages_have_every_text_the_dashboard_uses() -> None:
    """de.json and en.json hold the same keys, and every key the dashboard names literally."""
    de = json.loads((STATIC / "i18n" / "de.json").read_text(encoding="utf-8"))
    en = json.loads((STATIC / "i18n" / "en.json").read_text(encoding="utf-8"))
    assert sorted(de) == sorted(en)
    html = (STATIC / "dashboard.html").read_text(encoding="utf-8")
    script = (STATIC / "dashboard.js").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n="([\w.]+)"', html))
    used |= {key for pair in re.findall(r'data-i18n-attr="([^"]+)"', html)
             for key in re.findall(r":([\w.]+)", pair)}  # fmt: skip
    used |= set(re.findall(r'\bt\("([\w.]+)"', script))
    # the keys built from a prefix and the API's own names
    for prefix, names in {
        "dash.bookingStatus.": ["confirmed", "assigned", "arriving", "delayed", "picked_up",
                                "completed", "cancelled", "no_show", "cancelled_by_operator"],
        "dash.alert.": ["delayed_booking", "off_plan", "stale_gps", "no_driver_events",
                        "stranded"],
        "dash.alertKind.": ["delayed_booking", "off_plan", "stale_gps", "no_driver_events",
                            "stranded"],
        "dash.vehicleState.": ["onShift", "offShift", "outOfService", "delayed", "simulated"],
        "dash.kpi.": re.findall(r'\{ id: "(\w+)", field:', script),
    }.items():  # fmt: skip
        used |= {prefix + name for name in names}
    assert len(used) > 80
    missing = sorted(key for key in used if key not in de)
    assert not missing, missing
