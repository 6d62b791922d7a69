"""CLI verb ``elster sweep``: run a scenario sweep locally or on a Dask cluster."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from api.commands import runs as runs_cli


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to the ``elster`` app."""
    app.command("sweep")(sweep)


def sweep(
    scenario: Path = typer.Argument(..., help="Scenario file (.toml, or .yaml)."),
    workers: int | None = runs_cli.WORKERS,
    scheduler: str | None = runs_cli.SCHEDULER,
    out: Path | None = runs_cli.out_option("sweeps"),
    fresh: bool = runs_cli.FRESH,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate the scenario and list its runs; run nothing."
    ),
    progress: bool = runs_cli.PROGRESS,
    data_dir: Path | None = runs_cli.DATA_DIR,
    cache_dir: Path | None = runs_cli.CACHE_DIR,
    backend: str | None = typer.Option(
        None,
        "--backend",
        hidden=True,
        help="module:function returning a fleet.scenarios.runner.Backend (default: simulator).",
    ),
) -> None:
    """Run every combination of a scenario and report KPIs against the fleet size.

    Finished runs are kept in OUT/runs.jsonl and never recomputed (unless
    --fresh); the tidy table goes to OUT/results.csv and .parquet, the plots
    and the Markdown summary (naming the smallest fleet that meets the
    scenario's targets) to OUT/summary.md and OUT/overview.png.
    """
    from fleet.scenarios.spec import load_scenario
    from fleet.scenarios.sweep import default_out_dir, run_sweep

    spec = load_scenario(scenario)
    runs = spec.runs()
    if dry_run:
        swept = ", ".join(spec.swept()) or "nothing"
        typer.echo(
            f"{spec.name}: {len(runs)} runs (swept: {swept}; seeds "
            f"{', '.join(map(str, spec.seeds))})"
        )
        for run in runs:
            shown = {k: run.params[k] for k in [*spec.swept(), "seed"]}
            typer.echo(f"  {run.run_id}  " + "  ".join(f"{k}={v}" for k, v in shown.items()))
        return
    chosen = _load_backend(backend) if backend else None
    outcome = run_sweep(
        spec,
        workers=runs_cli.worker_count(workers),
        scheduler=scheduler,
        out_dir=out or default_out_dir(spec),
        backend=chosen,
        data_dir=data_dir,
        cache_dir=cache_dir,
        fresh=fresh,
        progress=progress,
    )
    runs_cli.echo_counts(spec.name, len(runs), outcome)
    if outcome.report is not None:
        from fleet.scenarios.report import smallest_fleets

        for answer in smallest_fleets(spec, outcome.table):
            where = ", ".join(f"{k} {v}" for k, v in answer.series.items()) or "all runs"
            verdict = (
                f"{answer.n_vehicles} vehicles"
                + ("" if answer.all_seeds else " (not in every seed)")
                if answer.n_vehicles is not None
                else "no tested fleet size"
            )
            typer.echo(f"  smallest fleet meeting the targets ({where}): {verdict}")
    typer.echo(f"wrote {outcome.csv}, {outcome.parquet}")
    if outcome.report is not None:
        typer.echo(
            f"wrote {outcome.report.summary}"
            + (f", {outcome.report.overview}" if outcome.report.overview else "")
        )
    runs_cli.exit_if_failed(outcome, retry_hint=True)


def _load_backend(spec: str):  # returns a fleet.scenarios.runner.Backend
    from fleet.scenarios.runner import Backend
    from routing.errors import DataError

    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr or "backend")
    except (ImportError, AttributeError) as exc:
        raise DataError(
            f"--backend {spec!r}: cannot import it ({exc}); use module:function"
        ) from None
    made = factory() if callable(factory) and not isinstance(factory, Backend) else factory
    if not isinstance(made, Backend):
        raise DataError(f"--backend {spec!r} did not give a fleet.scenarios.runner.Backend")
    return made
