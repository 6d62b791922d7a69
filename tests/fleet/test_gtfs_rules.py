"""The canonical GTFS rules over Elster's exports: a clean export passes, broken ones are named.

The feeds are real exports (``export_line_gtfs`` / ``export_zone_flex``) of a
small hand-made loop line, with a straight-line stand-in for the road model,
then broken on purpose one rule at a time.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Polygon

from fleet.concepts.gtfs_rules import check_feed
from fleet.concepts.line import FeederLine, build_timetable
from fleet.concepts.publish import export_line_gtfs, export_zone_flex, validate_flex, validate_gtfs

DAY = date(2022, 9, 14)
# a loop hub -> three stops -> hub in Heidelberg's Weststadt, about 400 m a side
LAT = np.array([49.4047, 49.4047, 49.4011, 49.4011])
LON = np.array([8.6760, 8.6815, 8.6815, 8.6760])


class StraightRoads:
    """The road model's interface for the export: straight lines between stops."""

    class _Path:
        def __init__(self, a: int, b: int) -> None:
            self.locations = [a, b]
            self.metres = np.array([0.0, _metres(a, b)])

    def path(self, a: int, b: int) -> _Path:
        return self._Path(a, b)

    def coords(self, v: int) -> tuple[float, float]:
        return float(LAT[v]), float(LON[v])


def _metres(a: int, b: int) -> float:
    dy = (LAT[b] - LAT[a]) * 111_195.0
    dx = (LON[b] - LON[a]) * 111_195.0 * np.cos(np.radians(LAT[a]))
    return float(np.hypot(dx, dy))


def _line() -> FeederLine:
    n = LAT.size
    # a two-way line: out from the hub over every stop, and back the same way
    legs = [(i, i + 1) for i in range(n - 1)] + [(i + 1, i) for i in reversed(range(n - 1))]
    run_m = np.array([_metres(a, b) for a, b in legs])
    return FeederLine(
        stop_ids=("hub", "A", "B", "C"),
        stop_names=("Hauptbahnhof", "Czernyring", "Kirchstraße", "Römerstraße"),
        lat=LAT,
        lon=LON,
        loc=np.array([a for a, _ in legs] + [0], dtype=np.int64),  # per position of a round
        run_s=run_m / 7.0,
        run_m=run_m,
        dwell_s=20.0,
        slack_share=0.1,
        layover_s=120.0,
    )


@pytest.fixture
def line_feed(tmp_path: Path) -> Path:
    tt = build_timetable(_line(), headway_s=900, start_s=7 * 3600.0, end_s=9 * 3600.0)
    return export_line_gtfs(tt, StraightRoads(), tmp_path / "line.zip", route_name="F1", start=DAY)


@pytest.fixture
def flex_feed(tmp_path: Path) -> Path:
    zone = Polygon([(8.670, 49.398), (8.692, 49.398), (8.692, 49.412), (8.670, 49.412)])
    return export_zone_flex(
        zone, tmp_path / "zone.zip", name="Weststadt", start=DAY, service=(25200, 36000)
    )


def _edit(path: Path, name: str, edit) -> Path:
    """Rewrite one table of a zip: ``edit(rows)`` changes the list of dict rows in place."""
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n).decode() for n in z.namelist()}
    rows = list(csv.DictReader(io.StringIO(files[name])))
    columns = list(rows[0])
    edit(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    files[name] = buf.getvalue()
    broken = path.with_name(f"broken-{path.name}")
    with zipfile.ZipFile(broken, "w") as z:
        for n, text in files.items():
            z.writestr(n, text)
    return broken


def test_the_exported_line_breaks_no_rule(line_feed):
    report = validate_gtfs(line_feed, today=DAY)
    assert report.errors == [], [f.describe() for f in report.errors]
    assert report.validator.startswith("gtfs-validator 0.1.2")
    # the validator really ran: it read the feed and judged its tables
    assert {f.rule for f in report.findings} <= {
        "missing_feed_contact_email_and_url",
        "route_long_name_contains_short_name",
    }


def test_the_exported_zone_breaks_no_flex_rule(flex_feed):
    report = validate_flex(flex_feed, today=DAY)
    assert report.errors == [], [f.describe() for f in report.errors]
    # route_type 715 (demand and response bus) is an extended type: a canonical warning only
    assert "unexpected_enum_value" in report.rules("WARNING")
    assert "elster_unknown_route_type" not in {f.rule for f in report.findings}


def test_a_stop_time_at_a_missing_stop_is_refused(line_feed):
    def edit(rows):
        rows[1]["stop_id"] = "feeder:nowhere"

    report = check_feed(_edit(line_feed, "stop_times.txt", edit), today=DAY)
    assert not report.ok
    assert "foreign_key_violation" in report.rules()
    (finding,) = [f for f in report.errors if f.rule == "foreign_key_violation"]
    assert "feeder:nowhere" in finding.example
    assert "stops.txt" in finding.hint
    # Elster's importer refuses it too, naming the file
    assert "elster_importer" in report.rules()


def test_times_going_backwards_are_refused(line_feed):
    def edit(rows):
        rows[2]["arrival_time"] = rows[2]["departure_time"] = "06:59:00"

    report = check_feed(_edit(line_feed, "stop_times.txt", edit), today=DAY)
    assert "stop_time_with_arrival_before_previous_departure_time" in report.rules()
    assert not report.ok


def test_an_unknown_route_type_is_refused(line_feed):
    def edit(rows):
        rows[0]["route_type"] = "99"

    report = check_feed(_edit(line_feed, "routes.txt", edit), today=DAY)
    # the canonical rules only warn; Elster refuses it
    assert "unexpected_enum_value" in report.rules("WARNING")
    assert report.rules() == ["elster_unknown_route_type"]
    assert "route_type=99" in report.errors[0].example
    assert "715" in report.errors[0].hint


def test_route_types_accepted_are_the_basic_and_the_extended_ones(line_feed):
    # an independent statement of the reference's basic values and Google's HVT list
    basic = [0, 1, 2, 3, 4, 5, 6, 7, 11, 12]
    extended = [100, 117, 200, 209, 400, 405, 700, 715, 716, 800, 900, 906, 1000, 1100, 1200,
                1300, 1400, 1500, 1507, 1700, 1702]  # fmt: skip
    refused = [8, 10, 13, 99, 118, 210, 406, 717, 801, 907, 1508, 1703, -1]
    for value in basic + extended + refused:

        def edit(rows, value=value):
            rows[0]["route_type"] = str(value)

        report = check_feed(_edit(line_feed, "routes.txt", edit), today=DAY)
        assert ("elster_unknown_route_type" in report.rules()) == (value in refused), value


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("stop_times.txt", "pickup_type", "0", "forbidden_pickup_type"),
        ("stop_times.txt", "location_id", "flex:elsewhere", "foreign_key_violation"),
        ("stop_times.txt", "end_pickup_drop_off_window", "06:00:00",
         "invalid_pickup_drop_off_window"),
        ("stop_times.txt", "pickup_booking_rule_id", "flex:nobook", "foreign_key_violation"),
        ("booking_rules.txt", "booking_type", "1", "missing_prior_notice_duration_min"),
    ],
)  # fmt: skip
def test_broken_flex_rules_are_refused(flex_feed, table, column, value, rule):
    def edit(rows):
        rows[0][column] = value

    report = validate_flex(_edit(flex_feed, table, edit), today=DAY)
    assert rule in report.rules(), [f.describe() for f in report.findings]


def test_a_zone_that_is_not_a_feature_collection_is_refused(flex_feed, tmp_path):
    with zipfile.ZipFile(flex_feed) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["locations.geojson"] = json.dumps({"type": "Feature", "geometry": None}).encode()
    broken = tmp_path / "broken-zone.zip"
    with zipfile.ZipFile(broken, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    assert not validate_flex(broken, today=DAY).ok


def test_a_zip_that_cannot_be_opened_is_one_error(tmp_path):
    bad = tmp_path / "not-a-zip.zip"
    bad.write_text("hello")
    report = check_feed(bad, flex=True, today=DAY)
    assert not report.ok
    assert report.errors[0].describe().startswith(report.errors[0].rule)


def test_a_validator_crash_refuses_the_feed(line_feed, monkeypatch):
    import gtfs_validator.cli

    def crash(argv):
        raise RuntimeError("boom")

    monkeypatch.setattr(gtfs_validator.cli, "main", crash)
    report = check_feed(line_feed, today=DAY)
    assert report.rules() == ["validator_failed"]
    assert "boom" in report.errors[0].example
