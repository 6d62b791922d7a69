"""The sweep's results: an append-only journal of finished runs and the tidy table.

Each finished run is appended to ``runs.jsonl`` in the output directory as
soon as it ends (one JSON object per line, flushed and fsynced), so a sweep
that is interrupted, or whose machine dies, keeps every finished run; the
next invocation reads the journal and skips them. A torn last line (a crash
mid-write) is ignored with a warning.

The tidy table (one row per run: run id, every parameter, every KPI, then
bookkeeping columns) is derived from the journal and written as
``results.csv`` and ``results.parquet`` (atomically: temporary file, then
rename).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleet.scenarios.spec import RunSpec

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

JOURNAL = "runs.jsonl"
CSV = "results.csv"
PARQUET = "results.parquet"
#: Bookkeeping columns after the KPIs (not compared between runs of the same seed).
META_COLUMNS = ("elapsed_s", "worker")


@dataclass(frozen=True)
class RunResult:
    """What one finished run produced.

    Attributes
    ----------
    run_id : str
    params : dict
        The run's parameters (as in :class:`RunSpec`).
    kpis : dict of str to float
    elapsed_s : float
        Wall-clock seconds of the run itself (region loading excluded).
    worker : str
        Which process ran it (``host:pid``), for diagnostics.
    """

    run_id: str
    params: dict[str, Any]
    kpis: dict[str, float]
    elapsed_s: float = 0.0
    worker: str = ""

    def to_json(self) -> str:
        """One journal line (no newline)."""
        kpis = {k: (None if not math.isfinite(v) else v) for k, v in self.kpis.items()}
        return json.dumps(
            {
                "run_id": self.run_id,
                "params": self.params,
                "kpis": kpis,
                "elapsed_s": self.elapsed_s,
                "worker": self.worker,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> RunResult:
        """Parse a journal line; raises ValueError/KeyError/TypeError on a bad line."""
        obj = json.loads(text)
        kpis = {str(k): (math.nan if v is None else float(v)) for k, v in obj["kpis"].items()}
        return cls(
            str(obj["run_id"]),
            dict(obj["params"]),
            kpis,
            float(obj["elapsed_s"]),
            str(obj.get("worker", "")),
        )


@dataclass(frozen=True)
class ResultTable:
    """The tidy table of a sweep and which of its columns are parameters and KPIs."""

    frame: pd.DataFrame
    param_columns: tuple[str, ...]
    kpi_columns: tuple[str, ...]


class ResultStore:
    """The journal and tables of one sweep's output directory.

    Parameters
    ----------
    out_dir : Path
        Created when missing.
    """

    def __init__(self, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.journal = self.out_dir / JOURNAL

    def load(self) -> dict[str, RunResult]:
        """Finished runs in the journal by run id (a later line for the same id wins)."""
        done: dict[str, RunResult] = {}
        if not self.journal.is_file():
            return done
        bad = 0
        with self.journal.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    result = RunResult.from_json(line)
                except (ValueError, KeyError, TypeError):
                    bad += 1
                    log.warning(
                        "%s line %d is damaged (interrupted write?); that run will be recomputed",
                        self.journal,
                        number,
                    )
                    continue
                done[result.run_id] = result
        self._end_with_newline()
        log.info(
            "journal %s: %d finished runs%s",
            self.journal,
            len(done),
            f", {bad} damaged lines skipped" if bad else "",
        )
        return done

    def _end_with_newline(self) -> None:
        """After a torn last line, start the next record on a line of its own."""
        with self.journal.open("rb+") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")

    def append(self, result: RunResult) -> None:
        """Add one finished run to the journal, durably."""
        with self.journal.open("a", encoding="utf-8") as fh:
            fh.write(result.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def clear(self) -> None:
        """Forget every finished run (``--fresh``): the journal is renamed to ``.old``."""
        if self.journal.is_file():
            self.journal.replace(self.journal.with_suffix(".jsonl.old"))

    def write_tables(self, table: ResultTable) -> tuple[Path, Path]:
        """Write ``results.csv`` and ``results.parquet`` atomically; return their paths."""
        csv_path = self.out_dir / CSV
        parquet_path = self.out_dir / PARQUET
        tmp_csv = csv_path.with_suffix(".csv.tmp")
        table.frame.to_csv(tmp_csv, index=False)
        tmp_csv.replace(csv_path)
        tmp_parquet = parquet_path.with_suffix(".parquet.tmp")
        table.frame.to_parquet(tmp_parquet, index=False)
        tmp_parquet.replace(parquet_path)
        return csv_path, parquet_path


def build_table(
    runs: Sequence[RunSpec], finished: Mapping[str, RunResult], *, kpi_order: Sequence[str] = ()
) -> ResultTable:
    """The tidy table of the finished runs among ``runs``, in the order of ``runs``.

    Parameters
    ----------
    runs : sequence of RunSpec
        The scenario's runs (rows of other scenarios in the journal are left out).
    finished : mapping of run id to RunResult
    kpi_order : sequence of str
        Preferred KPI column order; KPIs not named come after, sorted.
    """
    param_columns: list[str] = []
    for run in runs:
        param_columns.extend(k for k in run.params if k not in param_columns)
    kpis: list[str] = [_kpi_column(k, param_columns) for k in kpi_order]
    rows = []
    for run in runs:
        result = finished.get(run.run_id)
        if result is None:
            continue
        for k in sorted(result.kpis):
            column = _kpi_column(k, param_columns)
            if column not in kpis:
                kpis.append(column)
        rows.append(
            {
                "run_id": run.run_id,
                **run.params,
                **{_kpi_column(k, param_columns): v for k, v in result.kpis.items()},
                "elapsed_s": result.elapsed_s,
                "worker": result.worker,
            }
        )
    import pandas as pd  # here, not at import: worker processes never build tables

    present = [k for k in kpis if any(k in r for r in rows)]
    columns = ["run_id", *param_columns, *present, *META_COLUMNS]
    frame = pd.DataFrame(rows, columns=columns)
    for k in present:
        frame[k] = frame[k].astype(float)
    return ResultTable(frame, tuple(param_columns), tuple(present))


def _kpi_column(kpi: str, param_columns: Sequence[str]) -> str:
    """A KPI's column name: ``kpi_<name>`` if a parameter already has its name."""
    return f"kpi_{kpi}" if kpi in param_columns or kpi in ("run_id", *META_COLUMNS) else kpi
