"""``elster compare``: every concept on the same demand, across demand levels and seeds.

A comparison file is a sweep scenario plus the tables of
:mod:`fleet.concepts.settings`. It expands into runs: every demand level and
seed of the scenario, times every concept and variant (manned/autonomous);
the on-demand concepts once per fleet size (``[fleet] n_vehicles``), the line
concepts once per headway (``[compare] headway_min``, vehicles from the cycle
time). Runs go through the sweep runner (local processes or Dask), the
results journal makes a second invocation compute only what is missing, and
:mod:`fleet.concepts.report` writes the table, plots and recommendation.
"""

from __future__ import annotations

import logging
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.concepts import ON_DEMAND
from fleet.concepts.kpis import KPI_NAMES
from fleet.concepts.settings import TABLES, ComparisonSettings, parse_settings
from fleet.scenarios.results import ResultStore, ResultTable, build_table
from fleet.scenarios.runner import WorkerOptions, run_dask, run_local
from fleet.scenarios.spec import RunSpec, Scenario, parse_scenario, run_id_of
from routing.errors import DataError

log = logging.getLogger(__name__)

#: Parameters of a comparison run shown in tables (besides the scenario's).
AXES = ("concept", "autonomous", "requests", "n_vehicles", "headway_min", "seed")


@dataclass(frozen=True)
class Comparison:
    """A validated comparison file."""

    scenario: Scenario
    settings: ComparisonSettings

    def runs(self) -> list[RunSpec]:
        """Every run (see module docstring), with stable ids."""
        s = self.settings
        text = s.to_json()
        out: list[RunSpec] = []
        seen: set[str] = set()
        n_first = self.scenario.values["n_vehicles"][0]
        for base in self.scenario.runs():
            for concept in s.compare.concepts:
                for av in s.compare.autonomous:
                    if concept in ON_DEMAND:
                        variants = [{"headway_min": 0.0}]
                    elif base.params["n_vehicles"] != n_first:
                        continue  # lines derive their fleet from the headway
                    else:
                        variants = [{"headway_min": float(h)} for h in s.compare.headway_min]
                    for extra in variants:
                        params = {
                            **base.params,
                            "concept": concept,
                            "autonomous": bool(av),
                            **extra,
                            "settings": text,
                        }
                        if concept not in ON_DEMAND:
                            params["n_vehicles"] = 0  # from the cycle time (a KPI)
                        rid = run_id_of(params)
                        if rid not in seen:
                            seen.add(rid)
                            out.append(RunSpec(rid, params))
        return out


def load_comparison(path: Path | str) -> Comparison:
    """Read and validate a comparison file.

    Raises
    ------
    DataError
        Naming the file, table and key, and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"comparison file {path} does not exist; see scenarios/*-compare.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    return parse_comparison(raw, source=str(path), base_dir=path.parent, path=path)


def parse_comparison(
    raw: dict[str, Any], *, source: str, base_dir: Path, path: Path | None = None
) -> Comparison:
    """Validate a parsed comparison file (its sweep part and its comparison tables)."""
    settings = parse_settings(raw, source=source, base_dir=base_dir)
    targets = raw.get("targets", {})
    for kpi in targets:
        if kpi not in KPI_NAMES:
            raise DataError(
                f"{source}: [targets] {kpi}: not a comparison KPI; use one of "
                f"{', '.join(KPI_NAMES)}"
            )
    scenario = parse_scenario(
        {k: v for k, v in raw.items() if k not in TABLES},
        source=source,
        base_dir=base_dir,
        path=path,
    )
    if any(c not in ON_DEMAND for c in settings.compare.concepts) and settings.hub.location is None:
        raise DataError(
            f"{source}: [hub] location is missing; the line concepts start at the hub: "
            "give location = [lon, lat] of the tram stop"
        )
    return Comparison(scenario, settings)


@dataclass(frozen=True)
class CompareOutcome:
    """What :func:`run_compare` did and wrote."""

    comparison: Comparison
    out_dir: Path
    table: ResultTable
    computed: int
    skipped: int
    failed: dict[str, str]
    files: list[Path]
    seconds: float


def run_compare(
    comparison: Comparison | Path | str,
    *,
    out_dir: Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    client: Any = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    fresh: bool = False,
    progress: bool = True,
    report: bool = True,
) -> CompareOutcome:
    """Run every unfinished comparison run, then write the table, plots and summary."""
    from fleet.concepts.backend import concept_backend

    started = time.perf_counter()
    if not isinstance(comparison, Comparison):
        comparison = load_comparison(comparison)
    scenario = comparison.scenario
    out = Path(out_dir) if out_dir else Path("out") / "compare" / scenario.name
    store = ResultStore(out)
    if fresh:
        store.clear()
    runs = comparison.runs()
    finished = store.load()
    todo = [r for r in runs if r.run_id not in finished]
    backend = concept_backend()
    options = WorkerOptions(data_dir=data_dir, cache_dir=cache_dir)

    def keep(result) -> None:
        store.append(result)
        finished[result.run_id] = result

    failed: dict[str, str] = {}
    computed = 0
    if todo:
        kwargs: dict[str, Any] = {
            "backend": backend,
            "scenario": scenario,
            "on_result": keep,
            "options": options,
        }
        if scheduler or client is not None:
            rep = run_dask(todo, scheduler=scheduler, client=client, progress=progress, **kwargs)
        else:
            rep = run_local(todo, workers=workers, progress=progress, **kwargs)
        failed = rep.failed or {}
        computed = rep.computed
    table = build_table(runs, finished, kpi_order=KPI_NAMES)
    frame = table.frame.drop(columns=["settings"])
    table = ResultTable(
        frame, tuple(c for c in table.param_columns if c != "settings"), table.kpi_columns
    )
    store.write_tables(table)
    files: list[Path] = []
    if report:
        from fleet.concepts.report import write_report

        files = write_report(comparison, table, out, failed=failed)
    return CompareOutcome(
        comparison, out, table, computed, len(runs) - len(todo), failed, files,
        time.perf_counter() - started,
    )  # fmt: skip
