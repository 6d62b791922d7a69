"""The dispatcher's dashboard on a live day, in headless Chromium.

A served app runs the live dispatcher on a clock file (``ELSTER_CLOCK_FILE``) the test
moves by hand. One vehicle starts its shift, serves a booking reported stop by stop, gets
a second booking and falls 20 minutes behind it, then its GPS goes quiet. The page must
show what the operator endpoints say: the KPIs of ``/fleet/kpis`` formatted in the page's
language, every alert of ``/fleet/alerts`` in words with a way to the vehicle or booking,
the vehicles' state and next stops, and the bookings' new statuses; in German and English,
by keyboard, and with no serious or critical axe-core violation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.clock import write_clock
from routing.regions import PROJECT_ROOT
from tests.support.api import OPERATOR_KEY
from tests.support.browser import MARK_CONTROLS, run_axe, serve, tab_walk
from tests.support.live_day import NEAR_A, TZ, A, B, LiveDay

#: The KPIs the page shows: (data-kpi, field of /fleet/kpis, kind of number).
KPIS = [
    ("served", "served", "int"),
    ("refused", "refused", "int"),
    ("onTime", "onTimePickupShare", "percent"),
    ("waitMean", "waitMeanS", "minutes"),
    ("waitP95", "waitP95S", "minutes"),
    ("occupancy", "occupancy", "ratio"),
    ("vehicleKm", "vehicleKm", "km"),
    ("emptyKm", "emptyKm", "km"),
    ("open", "open", "int"),
    ("delayed", "delayed", "int"),
    ("noShows", "noShows", "int"),
    ("cancelledByOperator", "cancelledByOperator", "int"),
    ("replans", "replans", "int"),
    ("rescues", "rescues", "int"),
]
WORDS = {
    "de": {
        "stale_gps": "GPS veraltet",
        "off_plan": "Fahrzeug hinter dem Plan",
        "delayed_booking": "verspätete Buchung",
        "delayed": "verspätet",
        "completed": "abgeschlossen",
        "pickup": "Abholung",
        "offShift": "nicht im Dienst",
        "lateBy": "im Dienst, {min} min Verspätung",
        "occupancy": "{onboard} von {capacity}",
        "served": "Befördert",
    },
    "en": {
        "stale_gps": "stale GPS",
        "off_plan": "vehicle off its plan",
        "delayed_booking": "delayed booking",
        "delayed": "delayed",
        "completed": "completed",
        "pickup": "pickup",
        "offShift": "off shift",
        "lateBy": "on shift, delayed by {min} min",
        "occupancy": "{onboard} of {capacity}",
        "served": "Served",
    },
}


class Scenario:
    """The served live day: its URL, the two bookings, and the driver's client."""

    def __init__(self, url: str, day: LiveDay, served: dict, late: dict) -> None:
        self.url = url
        self.day = day
        self.served = served
        self.late = late


@pytest.fixture(scope="module")
def live(tmp_path_factory, hd_data_dir: Path, cache_dir: Path) -> Iterator[Scenario]:
    """A live-operation server and a day on it: one served booking, one late, stale GPS."""
    tmp = tmp_path_factory.mktemp("live-dashboard")
    t0 = float(int(time.time()))
    clock_file = tmp / "clock"
    write_clock(clock_file, t0)
    env = {
        "ELSTER_PROFILES": "shuttle",
        "ELSTER_TRANSIT": "false",
        "ELSTER_SHUTTLE_VEHICLES": "3",
        "ELSTER_SHUTTLE_OPERATION": "live",
        "ELSTER_SHUTTLE_REOPTIMISE_S": "0",
        "ELSTER_CLOCK_FILE": str(clock_file),
    }
    with (
        serve(tmp, hd_data_dir, cache_dir, **env) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        day = LiveDay(client, clock_file, t0)
        v1 = day.credential("V001")

        def report(path: str, **body: Any) -> None:
            got = day.report("V001", path, v1, **body)
            assert got.status_code == 200, (path, body, got.text)

        report("shift/start", lat=NEAR_A[0], lon=NEAR_A[1], seats=4, wheelchairs=1)
        served = day.book(A, B)
        day.at(t0 + 20)
        report("positions", lat=NEAR_A[0], lon=NEAR_A[1])
        day.at(t0 + 120)
        report("positions", lat=A[0], lon=A[1])
        report("events", kind="arrived", booking=served["id"], stop="pickup")
        report("events", kind="picked_up", booking=served["id"], passengers=1)
        day.at(t0 + 400)
        report("positions", lat=49.4000, lon=8.6910)
        day.at(t0 + 600)
        report("positions", lat=B[0], lon=B[1])
        report("events", kind="arrived", booking=served["id"], stop="dropoff")
        report("events", kind="dropped_off", booking=served["id"])
        # A second booking from A; the vehicle stays at B for 20 minutes and falls behind.
        late = day.book(A, B)
        day.at(t0 + 1800)
        report("positions", lat=B[0], lon=B[1])
        # Then no GPS fix for 200 s (the stale-GPS alert comes after 120 s).
        day.at(t0 + 2000)
        yield Scenario(url, day, served, late)


def sign_in(page, url: str, lang: str = "de") -> None:
    page.goto(url + "/dashboard", wait_until="load")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    if lang != "de":
        page.select_option("#lang", lang)
        page.wait_for_function("(lang) => document.documentElement.lang === lang", arg=lang)
    page.fill("#operator-key", OPERATOR_KEY)
    page.press("#operator-key", "Enter")
    page.wait_for_selector("body[data-loaded=true]", timeout=60_000)


def local_number(x: float, digits: int, lang: str) -> str:
    """``x`` as ``Intl.NumberFormat`` writes it (at most ``digits`` decimals, half away from 0)."""
    exact = Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{exact:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if lang == "de":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def expected_text(value: float, kind: str, lang: str) -> str:
    """What the page must show for a KPI value of the API (spaces normalised)."""
    if kind == "int":
        return local_number(value, 0, lang)
    if kind == "percent":
        return local_number(100 * value, 0, lang) + (" %" if lang == "de" else "%")
    if kind == "minutes":
        return f"{local_number(value / 60, 1, lang)} min"
    if kind == "km":
        return f"{local_number(value, 1, lang)} km"
    return local_number(value, 2, lang)


def shown(page, selector: str) -> str:
    """Visible text with the narrow and no-break spaces of ``Intl`` as plain spaces."""
    return page.inner_text(selector).replace("\u00a0", " ").replace("\u202f", " ")


def clock(iso_or_unix: str | float) -> str:
    """HH:MM in the region's zone (the page's time format in both languages)."""
    if isinstance(iso_or_unix, str):
        when = datetime.fromisoformat(iso_or_unix)
    else:
        when = datetime.fromtimestamp(iso_or_unix, TZ)
    return when.astimezone(TZ).strftime("%H:%M")


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_kpis_show_the_numbers_the_api_returns(page, live: Scenario, lang: str) -> None:
    kpis = live.day.operator("/fleet/kpis")
    assert kpis["served"] == 1 and kpis["delayed"] == 1 and kpis["vehicleKm"] > 0
    sign_in(page, live.url, lang)
    assert page.inner_text('.kpi[data-kpi="served"] dt') == WORDS[lang]["served"]
    for kpi_id, field, kind in KPIS:
        value = kpis[field]
        assert value is not None, (field, kpis)  # every figure is measured on this day
        group = f'.kpi[data-kpi="{kpi_id}"]'
        assert float(page.get_attribute(group, "data-value")) == pytest.approx(value)
        assert shown(page, f"{group} .value") == expected_text(value, kind, lang), kpi_id


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_alerts_panel_lists_every_alert_in_words(page, live: Scenario, lang: str) -> None:
    alerts = live.day.operator("/fleet/alerts")
    assert {a["kind"] for a in alerts} >= {"stale_gps", "off_plan", "delayed_booking"}, alerts
    sign_in(page, live.url, lang)
    assert page.get_attribute("#alerts", "aria-live") == "polite"
    on_page = page.eval_on_selector_all(
        "#alerts li[data-kind]",
        "(items) => items.map((li) => [li.dataset.kind, li.dataset.vehicle || null,"
        " li.dataset.booking || null])",
    )
    assert sorted(map(tuple, on_page)) == sorted(
        (a["kind"], a["vehicle"], a["booking"]) for a in alerts
    )
    words = WORDS[lang]
    for a in alerts:
        key = (
            f'[data-vehicle="{a["vehicle"]}"]'
            if a["vehicle"]
            else f'[data-booking="{a["booking"]}"]'
        )
        text = shown(page, f'#alerts li[data-kind="{a["kind"]}"]{key}')
        assert words[a["kind"]] in text, text
        if a["kind"] in ("stale_gps", "delayed_booking"):
            assert clock(a["since"]) in text, (a, text)  # since when
    off_plan = shown(page, '#alerts li[data-kind="off_plan"]')
    delay = live.day.operator("/fleet/vehicles")[0]["delay_s"]
    assert f"{int(delay / 60 + 0.5)} min" in off_plan, off_plan
    late = shown(page, f'#alerts li[data-booking="{live.late["id"]}"]')
    assert live.late["id"][:8] in late


@pytest.mark.parametrize("lang", ["de", "en"])
def test_vehicles_show_state_occupancy_and_next_stops(page, live: Scenario, lang: str) -> None:
    vehicles = {v["id"]: v for v in live.day.operator("/fleet/vehicles")}
    sign_in(page, live.url, lang)
    words = WORDS[lang]
    v1 = vehicles["V001"]
    assert v1["stops"][0]["request"] == live.late["id"] and v1["stops"][0]["kind"] == "pickup"
    row = '#vehicles-table tr[data-vehicle-id="V001"]'
    next_stops = shown(page, f"{row} td.next-stops")
    pickup_at = clock(v1["stops"][0]["eta"])
    assert next_stops.startswith(f"{words['pickup']} {live.late['id'][:8]} {pickup_at}"), next_stops
    late_min = int(v1["delay_s"] / 60 + 0.5)
    assert late_min >= 5
    assert shown(page, f"{row} td.vehicle-state") == words["lateBy"].format(min=late_min)
    assert page.get_attribute(row, "data-state") == "delayed"
    occupancy = words["occupancy"].format(onboard=v1["onboard"], capacity=v1["capacity"])
    assert occupancy in shown(page, row)
    assert shown(page, f"{row} td.last-fix") == clock(v1["last_fix_at"])
    for other in ("V002", "V003"):
        state = shown(page, f'#vehicles-table tr[data-vehicle-id="{other}"] td.vehicle-state')
        assert state == words["offShift"]
    # On the map: a line from the vehicle to its next (up to three) stops.
    line = page.evaluate("() => window.elsterDashboard.nextStops.V001")
    expected = [[v1["lat"], v1["lon"]], *([s["lat"], s["lon"]] for s in v1["stops"][:3])]
    assert line == expected
    # The bookings list with the new statuses, in the page's language.
    page.select_option("#bookings-filter", "all")
    late_row = f'#bookings-table tr[data-booking-id="{live.late["id"]}"]'
    assert page.get_attribute(late_row, "data-status") == "delayed"
    assert shown(page, f"{late_row} td.status") == words["delayed"]
    served_row = f'#bookings-table tr[data-booking-id="{live.served["id"]}"]'
    assert shown(page, f"{served_row} td.status") == words["completed"]


#: Every alert kind ``/fleet/alerts`` documents, and its words on the page.
ALERT_KINDS = {
    "delayed_booking": ("verspätete Buchung", "delayed booking"),
    "off_plan": ("Fahrzeug hinter dem Plan", "vehicle off its plan"),
    "stale_gps": ("GPS veraltet", "stale GPS"),
    "no_driver_events": ("keine Fahrermeldungen", "no driver events"),
    "stranded": ("Fahrgast gestrandet", "passenger stranded"),
}


@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_alert_kind_of_the_api_has_words(page, live: Scenario, lang: str) -> None:
    """Kinds this day does not produce (silent driver, stranded rider) are worded too."""
    sign_in(page, live.url, lang)
    since = "2026-12-03T10:05:00+01:00"
    rows = [
        {"kind": kind, "vehicle": None if "booking" in kind or kind == "stranded" else "V002",
         "booking": live.late["id"] if "booking" in kind or kind == "stranded" else None,
         "since": since, "message": "server text"}
        for kind in ALERT_KINDS
    ] + [{"kind": "new_kind", "vehicle": "V003", "booking": None, "since": None,
          "message": "a kind this page does not know"}]  # fmt: skip
    page.evaluate(
        "(rows) => { window.elsterDashboard.snapshot.alerts = rows; renderAlerts(); }", rows
    )
    for kind, words in ALERT_KINDS.items():
        text = shown(page, f'#alerts li[data-kind="{kind}"]')
        assert words[lang == "en"] in text, text
        assert "server text" not in text  # worded by the page, in its language
        if kind in ("stale_gps", "no_driver_events", "stranded", "delayed_booking"):
            assert "10:05" in text, text
    unknown = shown(page, '#alerts li[data-kind="new_kind"]')
    assert "a kind this page does not know" in unknown
    assert page.locator('#alerts li[data-kind="new_kind"] button.alert-link').count() == 1


def test_alert_links_lead_to_the_vehicle_and_the_booking_by_keyboard(page, live: Scenario) -> None:
    sign_in(page, live.url)
    page.focus('#alerts li[data-kind="stale_gps"] button.alert-link')
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.dataset.vehicleId") == "V001"
    # The list shows finished bookings; the link switches it so the late one can be shown.
    page.select_option("#bookings-filter", "final")
    page.focus(f'#alerts li[data-booking="{live.late["id"]}"] button.alert-link')
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.dataset.bookingId") == live.late["id"]
    assert page.input_value("#bookings-filter") == "all"
    # The next poll redraws the rows; the focus stays on the same booking.
    polls = int(page.get_attribute("body", "data-polls"))
    page.evaluate("() => document.getElementById('refresh-button').click()")
    page.wait_for_function("(n) => Number(document.body.dataset.polls) > n", arg=polls)
    assert page.evaluate("() => document.activeElement.dataset.bookingId") == live.late["id"]


def test_the_tab_key_reaches_every_control_of_the_live_dashboard(page, live: Scenario) -> None:
    sign_in(page, live.url)
    controls = page.evaluate(MARK_CONTROLS)
    links = page.locator("#alerts button.alert-link").count()
    assert links >= 3
    walk = tab_walk(page)
    reached = {step["probe"] for step in walk}
    missed = [c for c in controls if c not in reached]
    assert not missed, missed
    names = [step["name"] for step in walk]
    assert "refresh-button" in names
    assert sum(name.startswith("Fahrzeug V001 zeigen") for name in names) >= 2, names
    hidden_focus = [s for s in walk if s["focused"] and s["outline"].startswith("none")]
    assert not hidden_focus, hidden_focus
    # Refreshing by keyboard fetches again.
    polls = int(page.get_attribute("body", "data-polls"))
    page.focus("#refresh-button")
    page.keyboard.press("Enter")
    page.wait_for_function("(n) => Number(document.body.dataset.polls) > n", arg=polls)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_live_dashboard_passes_the_axe_audit(page, live: Scenario, lang: str) -> None:
    sign_in(page, live.url, lang)
    page.select_option("#bookings-filter", "all")
    assert page.locator("#alerts li[data-kind]").count() >= 3
    assert page.locator('#vehicles-table tr[data-state="delayed"]').count() == 1
    violations = run_axe(page)
    assert violations == [], violations
    (PROJECT_ROOT / "out").mkdir(exist_ok=True)
    page.screenshot(path=str(PROJECT_ROOT / "out" / f"dashboard-live-{lang}.png"), full_page=True)
