"""CLI verbs ``elster compare`` (service concepts on the same demand) and ``elster publish``."""

from __future__ import annotations

from pathlib import Path

import typer

from api.commands import runs as runs_cli


def register(app: typer.Typer) -> None:
    """Add ``compare`` and ``publish`` to the ``elster`` app."""
    app.command("compare")(compare)
    app.command("publish")(publish)


def compare(
    scenario: Path = typer.Argument(..., help="Comparison file (.toml; see scenarios/)."),
    workers: int | None = runs_cli.WORKERS,
    scheduler: str | None = runs_cli.SCHEDULER,
    out: Path | None = runs_cli.out_option("compare"),
    fresh: bool = runs_cli.FRESH,
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count the runs only."),
    progress: bool = runs_cli.PROGRESS,
    data_dir: Path | None = runs_cli.DATA_DIR,
    cache_dir: Path | None = runs_cli.CACHE_DIR,
) -> None:
    """Run every service concept on the same seeded demand and recommend one per demand level.

    Concepts: on-demand door-to-door, on-demand with virtual stops, a fixed
    feeder line, a flex route; each manned and autonomous. Writes OUT/results.csv
    and .parquet (one row per run), one plot per KPI, OUT/overview.png and
    OUT/summary.md (recommendation, break-even demand, seed spread).
    """
    from fleet.concepts.compare import load_comparison, run_compare

    comparison = load_comparison(scenario)
    runs = comparison.runs()
    if dry_run:
        typer.echo(f"{comparison.scenario.name}: {len(runs)} runs")
        return
    outcome = run_compare(
        comparison,
        out_dir=out,
        workers=runs_cli.worker_count(workers),
        scheduler=scheduler,
        data_dir=data_dir,
        cache_dir=cache_dir,
        fresh=fresh,
        progress=progress,
    )
    runs_cli.echo_counts(comparison.scenario.name, len(runs), outcome)
    for path in outcome.files:
        if path.suffix == ".md" or path.name == "overview.png":
            typer.echo(f"wrote {path}")
    runs_cli.exit_if_failed(outcome)


def publish(
    scenario: Path = typer.Argument(..., help="Comparison file whose line and zone to publish."),
    out: Path = typer.Option(Path("out/publish"), "--out", "-o", help="Output directory."),
    headway: float = typer.Option(15.0, "--headway", min=1, help="Headway of the line, minutes."),
    autonomous: bool = typer.Option(False, "--autonomous", help="The autonomous variant's line."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Build cache directory."),
) -> None:
    """Export the line (both directions) as GTFS, the zone as GTFS-Flex v2; validate both."""
    from fleet.concepts.compare import load_comparison
    from fleet.concepts.line import build_timetable
    from fleet.concepts.publish import (
        export_line_gtfs,
        export_zone_flex,
        validate_flex,
        validate_gtfs,
    )
    from fleet.scenarios.simulate import _seconds
    from routing.errors import DataError

    comparison = load_comparison(scenario)
    sc, s = comparison.scenario, comparison.settings
    if sc.window is None:
        raise DataError("[demand] window is needed: it sets the published service hours")
    from fleet.concepts.backend import load_concept_context

    ctx = load_concept_context(sc, data_dir=data_dir, cache_dir=cache_dir)
    line = ctx.line(s, autonomous, flex=False)
    start = _seconds(sc.window[0])
    end = _seconds(sc.window[1]) + s.line.service_after_min * 60
    tt = build_timetable(
        line, headway_s=headway * 60, start_s=start, end_s=end, n_vehicles=s.line.vehicles
    )
    travel = ctx.travel(s, autonomous)
    gtfs = export_line_gtfs(tt, travel, out / f"{sc.name}-line.zip", route_name="F1", start=sc.day)
    flex = export_zone_flex(
        ctx.zone,
        out / f"{sc.name}-zone-flex.zip",
        name=sc.area.name,
        start=sc.day,
        service=(start, end),
        mean_duration_factor=float(sc.values["alpha"][0]),
        mean_duration_offset_min=float(sc.values["beta_min"][0]),
    )
    bad = False
    for path, check in ((gtfs, validate_gtfs), (flex, validate_flex)):
        # judged as of the first service day; the validator's HTML report is kept beside
        report_dir = out / f"{path.stem}-report"
        report = check(path, today=sc.day, report_dir=report_dir)
        bad = bad or not report.ok
        if report.ok:
            typer.echo(
                f"wrote {path} (valid: 0 errors, {len(report.warnings)} warnings; "
                f"{report.validator})"
            )
        else:
            typer.secho(
                f"{path}: refused, {len(report.errors)} rule(s) broken "
                f"({', '.join(report.rules())}; {report.validator}); fix the export, "
                f"the full report is {report_dir / 'report.html'}",
                fg=typer.colors.RED,
                err=True,
            )
        for e in report.errors:
            typer.echo(f"  error {e.describe()}", err=True)
        for w in report.warnings:
            typer.secho(f"  warning {w.describe()}", fg=typer.colors.YELLOW, err=not report.ok)
    typer.echo(
        f"line: {line.n_stops} stops out and back, {line.length_m / 1000:.1f} km a round, "
        f"{line.out_s / 60:.1f} min out, {line.in_s / 60:.1f} min back, cycle "
        f"{line.cycle_s / 60:.1f} min, {tt.n_vehicles} vehicles at {headway:g} min, "
        f"{tt.n_trips} trips each way"
    )
    if bad:
        raise typer.Exit(1)
