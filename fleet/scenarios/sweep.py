"""Run a whole sweep: expand, skip what is finished, run the rest, write table and report."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.scenarios.report import ReportFiles, write_report
from fleet.scenarios.results import ResultStore, ResultTable, RunResult, build_table
from fleet.scenarios.runner import Backend, WorkerOptions, run_dask, run_local
from fleet.scenarios.spec import Scenario, check_targets, load_scenario

log = logging.getLogger(__name__)


@dataclass
class SweepOutcome:
    """What a sweep did and where its files are.

    Attributes
    ----------
    scenario : Scenario
    out_dir : Path
    table : ResultTable
        Every finished run of the scenario (this and earlier invocations).
    computed, skipped : int
        Runs computed now / found finished in the journal.
    failed : dict of run id to reason
        Runs that could not be computed (retried by the next invocation).
    csv, parquet : Path
    report : ReportFiles or None
    seconds : float
    """

    scenario: Scenario
    out_dir: Path
    table: ResultTable
    computed: int
    skipped: int
    failed: dict[str, str] = field(default_factory=dict)
    csv: Path | None = None
    parquet: Path | None = None
    report: ReportFiles | None = None
    seconds: float = 0.0


def default_out_dir(scenario: Scenario) -> Path:
    """``out/sweeps/<scenario name>`` under the working directory."""
    return Path("out") / "sweeps" / scenario.name


def run_sweep(
    scenario: Scenario | Path | str,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    client: Any = None,
    out_dir: Path | str | None = None,
    backend: Backend | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    fresh: bool = False,
    max_attempts: int = 3,
    progress: bool = True,
    report: bool = True,
) -> SweepOutcome:
    """Run every unfinished run of a scenario and write the table and report.

    Parameters
    ----------
    scenario : Scenario or path
        The scenario or its file.
    workers : int
        Local worker processes (ignored with ``scheduler``/``client``).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://HOST:PORT``): run there instead.
    client : distributed.Client, optional
        An existing Dask client (tests, notebooks).
    out_dir : Path, optional
        Output directory (default :func:`default_out_dir`); holds the journal
        ``runs.jsonl``, ``results.csv``/``.parquet``, ``summary.md`` and plots.
    backend : Backend, optional
        What a run computes (default: the fleet simulator,
        :func:`fleet.scenarios.simulate.simulation_backend`).
    data_dir, cache_dir : Path, optional
        Region data and build cache, as seen by the workers.
    fresh : bool
        Forget earlier results and recompute everything.
    max_attempts : int
        Tries per run when its worker dies or (on Dask) it raises.
    progress : bool
        Show a progress bar.
    report : bool
        Write plots and ``summary.md``.

    Raises
    ------
    DataError
        A malformed scenario, a target naming an unknown KPI, bad region data.
    """
    started = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if backend is None:
        from fleet.scenarios.simulate import simulation_backend

        backend = simulation_backend()
    check_targets(scenario, backend.kpis)
    out = Path(out_dir) if out_dir is not None else default_out_dir(scenario)
    store = ResultStore(out)
    if fresh:
        store.clear()
    runs = scenario.runs()
    finished = store.load()
    todo = [r for r in runs if r.run_id not in finished]
    skipped = len(runs) - len(todo)
    _write_scenario(scenario, out)
    log.info(
        "sweep %s: %d runs, %d finished earlier, %d to compute %s",
        scenario.name,
        len(runs),
        skipped,
        len(todo),
        f"on Dask {scheduler or 'client'}"
        if scheduler or client
        else f"with {workers} worker process(es)",
    )

    def keep(result: RunResult) -> None:
        store.append(result)
        finished[result.run_id] = result

    options = WorkerOptions(data_dir=data_dir, cache_dir=cache_dir)
    failed: dict[str, str] = {}
    computed = 0
    if todo:
        if scheduler or client is not None:
            outcome = run_dask(
                todo,
                backend=backend,
                scenario=scenario,
                on_result=keep,
                scheduler=scheduler,
                client=client,
                options=options,
                max_attempts=max_attempts,
                progress=progress,
            )
        else:
            outcome = run_local(
                todo,
                backend=backend,
                scenario=scenario,
                workers=workers,
                on_result=keep,
                options=options,
                max_attempts=max_attempts,
                progress=progress,
            )
        failed = outcome.failed or {}
        computed = outcome.computed
    table = build_table(runs, finished, kpi_order=backend.kpis)
    csv_path, parquet_path = store.write_tables(table)
    files = None
    if report:
        files = write_report(
            scenario, table, out, failed=failed, skipped=skipped, computed=computed
        )
    seconds = time.perf_counter() - started
    log.info(
        "sweep %s: %d computed, %d skipped, %d failed in %.1f s",
        scenario.name,
        computed,
        skipped,
        len(failed),
        seconds,
    )
    return SweepOutcome(
        scenario, out, table, computed, skipped, failed, csv_path, parquet_path, files, seconds
    )


def _write_scenario(scenario: Scenario, out: Path) -> None:
    """The resolved scenario and its runs, for provenance (``scenario.json``)."""
    payload = {
        "name": scenario.name,
        "source": str(scenario.path) if scenario.path else None,
        "swept": scenario.swept(),
        "seeds": list(scenario.seeds),
        "targets": [str(t) for t in scenario.targets],
        "runs": [{"run_id": r.run_id, **r.params} for r in scenario.runs()],
    }
    path = out / "scenario.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
