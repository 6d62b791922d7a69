"""What the run-many verbs ``elster sweep`` and ``elster compare`` share: options and the summary.

Both run a journal of simulations locally or on a Dask cluster, skip runs
finished earlier, and end with one line of counts and the failed runs (exit
code 1, so a script notices). The options are declared once here.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import typer

WORKERS = typer.Option(
    None, "--workers", "-w", min=1, help="Local worker processes (default: CPU count)."
)
SCHEDULER = typer.Option(
    None, "--scheduler", help="Run on a Dask cluster instead: tcp://HOST:PORT."
)
FRESH = typer.Option(False, "--fresh", help="Recompute runs finished earlier.")
PROGRESS = typer.Option(True, "--progress/--no-progress", help="Progress bar.")
DATA_DIR = typer.Option(None, "--data-dir", help="Data directory.")
CACHE_DIR = typer.Option(None, "--cache-dir", help="Build cache directory.")


def out_option(default_under: str) -> Any:
    """The ``--out`` option of a verb whose default output is ``out/<default_under>/<name>``.

    Parameters
    ----------
    default_under : str
        The folder under ``out/`` named in the help text (``sweeps``, ``compare``).

    Returns
    -------
    typer.models.OptionInfo
        The option, to stand as the parameter's default.
    """
    default = f"out/{default_under}/<scenario name>"
    return typer.Option(None, "--out", "-o", help=f"Output directory (default: {default}).")


class RunOutcome(Protocol):
    """What a sweep or a comparison reports when it ends."""

    @property
    def computed(self) -> int:
        """Runs computed now."""
        ...

    @property
    def skipped(self) -> int:
        """Runs finished earlier (kept from the journal)."""
        ...

    @property
    def seconds(self) -> float:
        """Wall-clock time."""
        ...

    @property
    def failed(self) -> dict[str, str]:
        """Run id -> why it failed."""
        ...


def worker_count(workers: int | None) -> int:
    """The ``--workers`` value, defaulting to the CPU count.

    Parameters
    ----------
    workers : int or None
        What the user gave.

    Returns
    -------
    int
        At least 1.
    """
    return workers or os.cpu_count() or 1


def echo_counts(name: str, n_runs: int, outcome: RunOutcome) -> None:
    """Print the one-line summary: runs, computed, already done, failed, seconds.

    Parameters
    ----------
    name : str
        The scenario's name.
    n_runs : int
        Runs in the scenario.
    outcome : RunOutcome
        What the runner reported.
    """
    typer.echo(
        f"{name}: {n_runs} runs, {outcome.computed} computed, "
        f"{outcome.skipped} already done, {len(outcome.failed)} failed "
        f"in {outcome.seconds:.1f} s"
    )


def exit_if_failed(outcome: RunOutcome, *, retry_hint: bool = False) -> None:
    """Name every failed run on stderr and exit with code 1; return when none failed.

    Parameters
    ----------
    outcome : RunOutcome
        What the runner reported.
    retry_hint : bool
        Also say that running the same command again retries the failed runs.

    Raises
    ------
    typer.Exit
        With code 1 when a run failed.
    """
    if not outcome.failed:
        return
    for run_id, why in outcome.failed.items():
        typer.secho(f"failed {run_id}: {why}", err=True, fg=typer.colors.RED)
    if retry_hint:
        typer.secho("re-run the same command to retry the failed runs", err=True)
    raise typer.Exit(1)
