"""The canonical GTFS rules, run over an exported feed before it is published.

The rule set is MobilityData's canonical GTFS validator (the one the GTFS
reference points to), as reimplemented in pure Python by the PyPI package
``gtfs-validator`` (pinned; parity with the Java validator v8.0.1: same notice
codes, severities and ``report.json``, diffed against the jar in its own CI).
It covers GTFS Schedule and GTFS-Flex v2 (``locations.geojson``, booking rules,
pickup/drop-off windows). The Java validator itself cannot be installed here:
it ships as a jar outside the package registries.

Elster adds a few rules of its own on top, named ``elster_*``:

- ``elster_unknown_route_type``: the canonical rules only warn about a
  ``route_type`` outside the basic GTFS values; Elster refuses one that is
  neither basic nor a Google extended (HVT) type, because trip planners cannot
  tell which vehicle serves such a route.
- ``elster_gtfs_kit_read``: gtfs-kit (the reader Elster's analyses use) must
  read the feed and time every trip.
- ``elster_importer``: Elster's own strict importer must read the feed.

A rule of severity ``ERROR`` refuses the publication; warnings are shown.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ERROR, WARNING, INFO = "ERROR", "WARNING", "INFO"

#: ``route_type`` values of the GTFS reference.
BASIC_ROUTE_TYPES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 11, 12})
#: Google's extended route types (the HVT list that OpenTripPlanner and MOTIS read).
EXTENDED_ROUTE_TYPES = frozenset(
    [*range(100, 118), *range(200, 210), *range(400, 406), *range(700, 717), 800,
     *range(900, 907), 1000, 1100, 1200, 1300, 1400, *range(1500, 1508), *range(1700, 1703)]
)  # fmt: skip

#: How to fix what an Elster export can get wrong, by rule; other rules fall
#: back to the validator's own one-line summary of the rule.
FIX_HINTS = {
    "foreign_key_violation": "every id a row names must be defined in its table "
    "(a stop_times stop_id in stops.txt, a trip's route_id in routes.txt, a location_id "
    "in locations.geojson, a booking rule in booking_rules.txt)",
    "stop_time_with_arrival_before_previous_departure_time": "times along a trip must not "
    "go backwards: check the line's run times, dwell and the trip's start time",
    "stop_time_with_only_arrival_or_departure_time": "give both arrival_time and "
    "departure_time, or neither",
    "decreasing_or_equal_stop_time_distance": "two consecutive stops sit at the same point "
    "of the route (equal shape_dist_traveled): merge them into one stop, or move one along "
    "the street so that the vehicle drives between them",
    "decreasing_or_equal_shape_distance": "shape_dist_traveled must grow along the shape; "
    "drop repeated shape points",
    "elster_unknown_route_type": "use a GTFS route_type (3 = bus) or an extended type "
    "such as 715 (demand and response bus service)",
    "missing_required_file": "write the file; the GTFS reference lists the required ones",
    "missing_required_field": "fill the field in every row",
    "missing_required_column": "add the column to the file's header",
    "invalid_timezone": "use an IANA zone name such as Europe/Berlin",
    "forbidden_pickup_type": "a stop_times row with a pickup/drop-off window needs "
    "pickup_type 1, 2 or 3 (never 0, regular pickup)",
    "forbidden_drop_off_type": "a stop_times row with a pickup/drop-off window needs "
    "drop_off_type 1, 2 or 3 (never 0, regular drop-off)",
    "invalid_pickup_drop_off_window": "end_pickup_drop_off_window must be after "
    "start_pickup_drop_off_window",
    "missing_prior_notice_duration_min": "a same-day booking rule (booking_type 1) needs "
    "prior_notice_duration_min",
    "elster_gtfs_kit_read": "every trip needs at least two timed stop_times rows",
    "elster_importer": "see the importer's message: it names the file, line and field",
}


@dataclass(frozen=True)
class Finding:
    """One rule broken by a feed: the rule, how often, an example and the fix."""

    rule: str
    severity: str
    count: int
    example: str
    hint: str

    def describe(self) -> str:
        """One line: ``rule (SEVERITY, n x): example; fix: hint``."""
        where = f": {self.example}" if self.example else ""
        return f"{self.rule} ({self.severity}, {self.count}x){where}; fix: {self.hint}"


@dataclass(frozen=True)
class FeedReport:
    """What the rules found in one feed, and which validator ran them."""

    path: Path
    validator: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        """Findings that refuse the publication."""
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Findings that are shown but do not refuse the publication."""
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when no rule of severity ``ERROR`` is broken."""
        return not self.errors

    def rules(self, severity: str = ERROR) -> list[str]:
        """The ids of the rules broken with this severity."""
        return [f.rule for f in self.findings if f.severity == severity]


def validator_version() -> str:
    """Name and version of the canonical rule validator, as the README states it."""
    from gtfs_validator import __version__

    return f"gtfs-validator {__version__} (MobilityData rules v8.0.1)"


def check_feed(
    path: Path,
    *,
    flex: bool = False,
    today: date | None = None,
    country_code: str = "de",
    report_dir: Path | None = None,
) -> FeedReport:
    """Run the canonical rules and Elster's own over a GTFS or GTFS-Flex zip.

    Parameters
    ----------
    path : Path
        The feed zip.
    flex : bool
        A GTFS-Flex zone feed: it has no fixed stops or timetable, so the
        gtfs-kit and importer read checks (fixed-route only) are skipped.
    today : date, optional
        The date the feed is judged on (expired calendars, feed dates); the
        first service day of an export. Default: the validator's today.
    country_code : str
        ISO country of the feed (phone number rules).
    report_dir : Path, optional
        Keep the validator's ``report.json`` / ``report.html`` there.

    Returns
    -------
    FeedReport
    """
    path = Path(path)
    findings = _canonical(path, today=today, country_code=country_code, report_dir=report_dir)
    findings += _route_types(path)
    if not flex:
        findings += _gtfs_kit(path) + _importer(path)
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    findings.sort(key=lambda f: (order.get(f.severity, 3), f.rule))
    return FeedReport(path=path, validator=validator_version(), findings=tuple(findings))


def _canonical(
    path: Path, *, today: date | None, country_code: str, report_dir: Path | None
) -> list[Finding]:
    from gtfs_validator.cli import main as run_validator

    with contextlib.ExitStack() as stack:
        out = report_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        argv = ["-i", str(path), "-o", str(out), "-c", country_code, "-t", "1"]
        if today is not None:
            argv += ["-d", today.isoformat()]
        # the validator writes its reports to files, and prints only on misuse
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                code = run_validator(argv)
        except Exception as exc:  # a validator bug must not look like a valid feed
            return [
                Finding(
                    "validator_failed",
                    ERROR,
                    1,
                    f"{path.name}: {exc!r}",
                    "the validator crashed on this feed; report it with the zip",
                )
            ]
        report_file, errors_file = out / "report.json", out / "system_errors.json"
        report = json.loads(report_file.read_text()) if report_file.exists() else {}
        system = json.loads(errors_file.read_text()) if errors_file.exists() else {}
    if code != 0 or not report:
        return [
            Finding(
                "validator_failed",
                ERROR,
                1,
                f"{path.name}: exit code {code}",
                "the zip could not be opened as GTFS; export it again",
            )
        ]
    summaries = _summaries()
    found = []
    for notice in [*system.get("notices", []), *report.get("notices", [])]:
        rule = str(notice["code"])
        samples = notice.get("sampleNotices") or [{}]
        hint = FIX_HINTS.get(rule) or summaries.get(rule) or "see the GTFS reference"
        found.append(
            Finding(
                rule,
                str(notice["severity"]),
                int(notice.get("totalNotices", 1)),
                _example(samples[0]),
                hint,
            )
        )
    return found


def _summaries() -> dict[str, str]:
    """The validator's one-line summary of every rule, by rule id."""
    import gtfs_validator

    schema_file = Path(gtfs_validator.__file__).parent / "data" / "notice_schema.json"
    schema = json.loads(schema_file.read_text())
    return {code: str(entry.get("shortSummary", "")) for code, entry in schema.items()}


def _example(context: dict[str, Any], limit: int = 6) -> str:
    """``key=value`` pairs of a notice's first sample (row numbers first)."""
    keys = sorted(context, key=lambda k: (not k.endswith("RowNumber"), k))[:limit]
    return ", ".join(f"{k}={_short(context[k])}" for k in keys)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.7g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def _route_types(path: Path) -> list[Finding]:
    try:
        with zipfile.ZipFile(path) as z:
            if "routes.txt" not in z.namelist():
                return []  # the canonical rules report the missing file
            rows = list(csv.DictReader(io.TextIOWrapper(z.open("routes.txt"), "utf-8-sig")))
    except (zipfile.BadZipFile, UnicodeDecodeError, csv.Error):
        return []  # an unreadable zip or table: the canonical rules report it
    bad = []
    for line, row in enumerate(rows, start=2):
        text = (row.get("route_type") or "").strip()
        value = int(text) if text.lstrip("-").isdigit() else None
        if value is None:
            continue  # not an integer: the canonical rules report it (invalid_integer)
        if value not in BASIC_ROUTE_TYPES and value not in EXTENDED_ROUTE_TYPES:
            bad.append(f"routes.txt line {line}: route_id={row.get('route_id')}, route_type={text}")
    if not bad:
        return []
    return [
        Finding(
            "elster_unknown_route_type",
            ERROR,
            len(bad),
            bad[0],
            FIX_HINTS["elster_unknown_route_type"],
        )
    ]


def _gtfs_kit(path: Path) -> list[Finding]:
    import gtfs_kit as gk

    try:
        feed = gk.read_feed(str(path), dist_units="m")
        stats = feed.compute_trip_stats()
    except Exception as exc:  # any failure to read is the finding itself
        return [
            Finding(
                "elster_gtfs_kit_read",
                ERROR,
                1,
                f"gtfs-kit: {exc}",
                FIX_HINTS["elster_gtfs_kit_read"],
            )
        ]
    untimed = set(feed.trips["trip_id"]) - set(stats.loc[stats["duration"] > 0, "trip_id"])
    if not untimed:
        return []
    return [
        Finding(
            "elster_gtfs_kit_read",
            ERROR,
            len(untimed),
            f"gtfs-kit times no positive duration for trip_id={min(untimed)}",
            FIX_HINTS["elster_gtfs_kit_read"],
        )
    ]


def _importer(path: Path) -> list[Finding]:
    from routing.transit.gtfs import read_gtfs

    try:
        read_gtfs(path, strict=True)
    except Exception as exc:  # the importer's DataError names file, line and field
        return [Finding("elster_importer", ERROR, 1, str(exc), FIX_HINTS["elster_importer"])]
    return []


__all__ = [
    "BASIC_ROUTE_TYPES",
    "EXTENDED_ROUTE_TYPES",
    "FIX_HINTS",
    "FeedReport",
    "Finding",
    "check_feed",
    "validator_version",
]
