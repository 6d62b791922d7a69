"""Sweep reports: KPI-vs-fleet-size plots with the seed spread, and a Markdown summary.

Runs are grouped into *series*: every swept parameter except the fleet size
and the seed (for the default scenario: the vehicle capacity). Each plot
shows one KPI against the fleet size, a line per series through the mean over
the seeds, a band from the lowest to the highest seed and the target as a
dashed line. The summary names, per series, the smallest fleet whose mean KPIs
(over the seeds) meet every target, and says whether every seed met them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fleet.scenarios.results import ResultTable
from fleet.scenarios.spec import Scenario

log = logging.getLogger(__name__)

FLEET = "n_vehicles"
#: KPIs plotted when present (targets first, then these, at most ``MAX_PANELS``).
PREFERRED_KPIS = (
    "served_share",
    "wait_mean_min",
    "wait_p90_min",
    "ride_mean_min",
    "detour_rel_mean",
    "occupancy",
    "vehicle_km",
    "empty_km_share",
    "shared_ride_share",
    "rejected",
)
MAX_PANELS = 8


@dataclass(frozen=True)
class FleetAnswer:
    """The smallest fleet meeting the targets in one series.

    Attributes
    ----------
    series : dict
        The series' parameter values (e.g. ``{"capacity": 4}``).
    n_vehicles : int or None
        Smallest fleet size whose seed-mean KPIs meet every target (``None``: none did).
    all_seeds : bool
        Whether every seed of that fleet size met every target on its own.
    means : dict of str to float
        Its seed-mean KPIs (empty when none met the targets).
    """

    series: dict[str, Any]
    n_vehicles: int | None
    all_seeds: bool
    means: dict[str, float]


@dataclass(frozen=True)
class ReportFiles:
    """Where the report went."""

    summary: Path
    overview: Path | None
    plots: tuple[Path, ...]


def series_columns(scenario: Scenario, table: ResultTable) -> list[str]:
    """Swept parameters that make a series (all but the fleet size and the seed)."""
    return [c for c in scenario.swept() if c != FLEET and c in table.frame.columns]


def seed_means(scenario: Scenario, table: ResultTable) -> pd.DataFrame:
    """Mean, min and max of every KPI over the seeds, per series and fleet size."""
    keys = [*series_columns(scenario, table), FLEET]
    frame = table.frame
    if frame.empty:
        return pd.DataFrame()
    grouped = frame.groupby(keys, sort=True, dropna=False)[list(table.kpi_columns)]
    out = grouped.mean()
    out.columns = list(table.kpi_columns)
    counts = frame.groupby(keys, sort=True, dropna=False).size().rename("seeds")
    return out.join(counts).reset_index()


def smallest_fleets(scenario: Scenario, table: ResultTable) -> list[FleetAnswer]:
    """Per series, the smallest fleet size whose seed-mean KPIs meet all targets."""
    if table.frame.empty or not scenario.targets:
        return []
    series = series_columns(scenario, table)
    means = seed_means(scenario, table)
    answers = []
    groups = means.groupby(series, sort=True, dropna=False) if series else [((), means)]
    for key, group in groups:
        key_values = key if isinstance(key, tuple) else (key,)
        label = dict(zip(series, (_plain(v) for v in key_values), strict=True))
        found: FleetAnswer | None = None
        for _, row in group.sort_values(FLEET).iterrows():
            if all(t.met(float(row[t.kpi])) for t in scenario.targets if t.kpi in row):
                runs = table.frame[table.frame[FLEET] == row[FLEET]]
                for col, value in label.items():
                    runs = runs[runs[col] == value]
                every = all(
                    all(t.met(float(r[t.kpi])) for t in scenario.targets)
                    for _, r in runs.iterrows()
                )
                found = FleetAnswer(
                    label, int(row[FLEET]), every, {k: float(row[k]) for k in table.kpi_columns}
                )
                break
        answers.append(found or FleetAnswer(label, None, False, {}))
    return answers


def write_report(
    scenario: Scenario,
    table: ResultTable,
    out_dir: Path | str,
    *,
    failed: dict[str, str] | None = None,
    skipped: int = 0,
    computed: int = 0,
) -> ReportFiles:
    """Write ``plots/*.png``, ``overview.png`` and ``summary.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kpis = plot_kpis(scenario, table)
    plots: list[Path] = []
    overview = None
    if not table.frame.empty and kpis:
        plot_dir = out_dir / "plots"
        plot_dir.mkdir(exist_ok=True)
        # One file per target KPI (the overview has them all).
        for kpi in [t.kpi for t in scenario.targets if t.kpi in kpis] or kpis[:1]:
            plots.append(plot_kpi(scenario, table, kpi, plot_dir / f"{kpi}.png"))
        overview = plot_overview(scenario, table, kpis, out_dir / "overview.png")
    summary = out_dir / "summary.md"
    text = summary_markdown(
        scenario,
        table,
        failed=failed or {},
        skipped=skipped,
        computed=computed,
        overview=overview,
        out_dir=out_dir,
    )
    tmp = summary.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(summary)
    log.info("report of %s: %d plots, summary %s", scenario.name, len(plots), summary)
    return ReportFiles(summary, overview, tuple(plots))


def plot_kpis(scenario: Scenario, table: ResultTable) -> list[str]:
    """The KPIs to plot: the targets' first, then :data:`PREFERRED_KPIS` present."""
    chosen: list[str] = []
    for name in [t.kpi for t in scenario.targets] + list(PREFERRED_KPIS):
        if name in table.kpi_columns and name not in chosen:
            chosen.append(name)
    if not chosen:
        chosen = list(table.kpi_columns)
    return chosen[:MAX_PANELS]


def _pyplot():  # the pyplot module on the file-only Agg backend
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _draw(ax: Any, scenario: Scenario, table: ResultTable, kpi: str) -> None:
    frame = table.frame
    series = series_columns(scenario, table)
    groups = frame.groupby(series, sort=True, dropna=False) if series else [((), frame)]
    for key, group in groups:
        key_values = key if isinstance(key, tuple) else (key,)
        label = (
            ", ".join(f"{_short(c)} {_plain(v)}" for c, v in zip(series, key_values, strict=True))
            or kpi
        )
        stats = group.groupby(FLEET)[kpi].agg(["mean", "min", "max"]).sort_index()
        x = stats.index.to_numpy(dtype=float)
        line = ax.plot(x, stats["mean"], marker="o", label=label)[0]
        if len(scenario.seeds) > 1:
            ax.fill_between(
                x, stats["min"], stats["max"], color=line.get_color(), alpha=0.2, linewidth=0
            )
            ax.scatter(group[FLEET], group[kpi], color=line.get_color(), s=8, alpha=0.6)
    for target in scenario.targets:
        if target.kpi == kpi:
            ax.axhline(
                target.value,
                color="0.3",
                linestyle="--",
                linewidth=1,
                label=f"target {'≤' if target.bound == 'max' else '≥'} {target.value:g}",
            )
    ax.set_xlabel("fleet size (vehicles)")
    ax.set_ylabel(kpi)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def plot_kpi(scenario: Scenario, table: ResultTable, kpi: str, path: Path) -> Path:
    """One KPI against the fleet size: a line per series, the seed spread as a band."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        _draw(ax, scenario, table, kpi)
        ax.set_title(
            f"{scenario.name}: {kpi}\n(mean over {len(scenario.seeds)} seeds, band = min-max)",
            fontsize=9,
        )
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def plot_overview(scenario: Scenario, table: ResultTable, kpis: Sequence[str], path: Path) -> Path:
    """All plotted KPIs in one figure (the picture for a README)."""
    plt = _pyplot()
    cols = 2 if len(kpis) > 1 else 1
    rows = math.ceil(len(kpis) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.6 * rows), squeeze=False)
    try:
        for ax, kpi in zip(axes.ravel(), kpis, strict=False):
            _draw(ax, scenario, table, kpi)
        for ax in axes.ravel()[len(kpis) :]:
            ax.set_visible(False)
        fig.suptitle(
            f"{scenario.name}: KPIs vs fleet size (mean over {len(scenario.seeds)} "
            f"seeds, band = min-max)"
        )
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def summary_markdown(
    scenario: Scenario,
    table: ResultTable,
    *,
    failed: dict[str, str],
    skipped: int = 0,
    computed: int = 0,
    overview: Path | None = None,
    out_dir: Path | None = None,
) -> str:
    """The Markdown summary: setup, the answer per series, and the seed-mean KPI table."""
    lines = [f"# Sweep {scenario.name}", ""]
    if scenario.description:
        lines += [scenario.description, ""]
    n_runs = len(scenario.runs())
    lines += [
        f"- region: {scenario.region}, service area: {scenario.area.name}",
        f"- day: {scenario.day.isoformat()}"
        + (
            f", window {scenario.window[0]:%H:%M}-{scenario.window[1]:%H:%M}"
            if scenario.window
            else ", whole day"
        ),
        f"- runs: {n_runs} ({len(table.frame)} finished: {computed} computed now, "
        f"{skipped} from earlier invocations; {len(failed)} failed)",
        f"- seeds: {', '.join(map(str, scenario.seeds))}",
    ]
    fixed = {
        name: vals[0]
        for name, vals in scenario.values.items()
        if name not in scenario.swept() and vals[0] is not None
    }
    if fixed:
        lines.append("- fixed: " + ", ".join(f"{k} = {_plain(v)}" for k, v in fixed.items()))
    swept = scenario.swept()
    if swept and scenario.mode == "cross":
        lines.append("- swept: " + ", ".join(f"{k} in {list(scenario.values[k])}" for k in swept))
    elif swept:
        lines.append(f"- swept: {', '.join(swept)} (explicit list of runs)")
    if scenario.targets:
        lines.append("- targets: " + "; ".join(str(t) for t in scenario.targets))
    lines.append("")

    answers = smallest_fleets(scenario, table)
    if answers:
        lines += [
            "## Smallest fleet meeting the targets",
            "",
            'Judged on the mean over the seeds; "every seed" says whether each seed '
            "met the targets on its own.",
            "",
        ]
        series = series_columns(scenario, table)
        header = [
            *(_short(c) for c in series),
            "smallest fleet",
            "every seed",
            *(t.kpi for t in scenario.targets),
        ]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for a in answers:
            cells = [str(a.series[c]) for c in series]
            if a.n_vehicles is None:
                cells += ["none of the tested sizes", "-", *("-" for _ in scenario.targets)]
            else:
                cells += [
                    str(a.n_vehicles),
                    "yes" if a.all_seeds else "no",
                    *(_fmt(a.means.get(t.kpi, math.nan)) for t in scenario.targets),
                ]
            lines.append("| " + " | ".join(cells) + " |")
        best = [a for a in answers if a.n_vehicles is not None]
        lines.append("")
        if best:
            top = min(best, key=lambda a: a.n_vehicles or 0)
            where = ", ".join(f"{_short(k)} {v}" for k, v in top.series.items())
            lines.append(
                f"**Answer:** {top.n_vehicles} vehicles"
                + (f" ({where})" if where else "")
                + " is the smallest tested fleet "
                "that meets every target."
            )
        else:
            lines.append(
                "**Answer:** no tested fleet meets every target; try larger fleets "
                "or looser service rules."
            )
        lines.append("")

    means = seed_means(scenario, table)
    if not means.empty:
        kpis = plot_kpis(scenario, table)  # the headline KPIs; every one is in results.csv
        keys = [*series_columns(scenario, table), FLEET]
        lines += ["## KPIs (mean over seeds)", ""]
        header = [*(_short(c) for c in keys), "seeds", *kpis]
        if scenario.targets:
            header.append("targets met")
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for i in range(len(means)):
            # column by column: a row Series would turn integer parameters into floats
            cells = [str(_plain(means[c].iat[i])) for c in keys]
            cells.append(str(int(means["seeds"].iat[i])))
            cells += [_fmt(float(means[k].iat[i])) for k in kpis]
            if scenario.targets:
                met = all(
                    t.met(float(means[t.kpi].iat[i]))
                    for t in scenario.targets
                    if t.kpi in means.columns
                )
                cells.append("yes" if met else "no")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if overview is not None:
        rel = overview.relative_to(out_dir) if out_dir else overview
        lines += [f"![KPIs vs fleet size]({rel.as_posix()})", ""]
    if failed:
        lines += ["## Failed runs", "", "They are retried by the next invocation.", ""]
        lines += [f"- `{rid}`: {why}" for rid, why in sorted(failed.items())]
        lines.append("")
    lines += [
        "Tidy results (one row per run, every parameter and KPI): `results.csv`, "
        "`results.parquet`.",
        "",
    ]
    return "\n".join(lines)


def _short(column: str) -> str:
    return "fleet" if column == FLEET else column


def _plain(value: Any) -> Any:
    """numpy scalars as Python values (for labels and dict keys)."""
    return value.item() if isinstance(value, np.generic) else value


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"
