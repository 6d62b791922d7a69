"""Plots and the Markdown summary of a comparison: which concept at which demand level.

For every concept and variant (``fixed`` / ``fixed-av``, ...) and demand level,
the configuration (fleet size or headway) chosen is the cheapest per trip
whose seed mean meets the scenario's targets. The recommended concept at a
demand level is the cheapest of those; the break-even demand is where the
recommendation changes between two neighbouring levels, interpolated
linearly on the cost difference of the two concepts. The seed spread is
the min-max of the recommended concept's cost per trip over the seeds, and
whether every seed alone would have recommended the same concept.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fleet.scenarios.results import ResultTable

#: KPIs plotted against the demand level, one figure each.
PLOTTED = (
    "cost_per_trip_eur",
    "served_share",
    "door_to_door_mean_min",
    "wait_mean_min",
    "walk_access_min",
    "ride_mean_min",
    "d2d_vs_car",
    "vehicles",
    "vehicle_hours",
    "vehicle_km",
    "empty_km_share",
    "occupancy",
    "energy_kwh",
    "co2_kg",
    "transfer_wait_mean_min",
)


def label(frame: pd.DataFrame) -> pd.Series:
    """``concept`` with ``-av`` for the autonomous variant."""
    return frame["concept"] + np.where(frame["autonomous"].astype(bool), "-av", "")


def _meets(row: pd.Series, targets) -> bool:
    return all(t.met(float(row[t.kpi])) for t in targets)


def best_configs(frame: pd.DataFrame, targets) -> pd.DataFrame:
    """Per (variant, demand level) the cheapest configuration meeting the targets (seed means).

    Columns: variant, requests, config, meets, cost mean/min/max over seeds,
    and the KPI means. When no configuration meets the targets the one with the
    highest served share is kept (``meets`` False).
    """
    f = frame.copy()
    f["variant"] = label(f)
    f["config"] = np.where(
        f["headway_min"] > 0,
        "headway " + f["headway_min"].map(lambda h: f"{h:g}") + " min",
        f["n_vehicles"].astype(int).astype(str) + " vehicles",
    )
    kpis = [c for c in f.columns if f[c].dtype.kind == "f" and c not in ("headway_min",)]
    g = f.groupby(["variant", "requests", "config"], sort=False)
    means = g[kpis].mean()
    spread = (
        g["cost_per_trip_eur"]
        .agg(["min", "max"])
        .rename(columns={"min": "cost_min", "max": "cost_max"})
    )
    m = means.join(spread).reset_index()
    m["meets"] = [_meets(r, targets) for _, r in m.iterrows()]
    rows = []
    for (_variant, _req), grp in m.groupby(["variant", "requests"], sort=False):
        ok = grp[grp["meets"]]
        if len(ok):
            rows.append(ok.sort_values("cost_per_trip_eur", kind="stable").iloc[0])
        else:
            rows.append(grp.sort_values("served_share", ascending=False, kind="stable").iloc[0])
    return pd.DataFrame(rows).reset_index(drop=True)


def recommend(frame: pd.DataFrame, targets) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Recommended variant per demand level, and the break-even demands between them."""
    best = best_configs(frame, targets)
    f = frame.copy()
    f["variant"] = label(f)
    recs: list[dict[str, Any]] = []
    for req, grp in best.groupby("requests", sort=True):
        ok = grp[grp["meets"]]
        pick = ok.sort_values("cost_per_trip_eur", kind="stable").iloc[0] if len(ok) else None
        seeds_agree = ""
        if pick is not None:
            # would each seed alone have picked the same variant?
            agree = 0
            seeds = sorted(f["seed"].unique())
            for seed in seeds:
                fs = f[(f["seed"] == seed) & (f["requests"] == req)]
                b = best_configs(fs, targets)
                b = b[b["meets"]]
                if (
                    len(b)
                    and b.sort_values("cost_per_trip_eur").iloc[0]["variant"] == pick["variant"]
                ):
                    agree += 1
            seeds_agree = f"{agree}/{len(seeds)}"
        recs.append(
            {
                "requests": int(req),
                "variant": pick["variant"] if pick is not None else None,
                "config": pick["config"] if pick is not None else None,
                "cost": float(pick["cost_per_trip_eur"]) if pick is not None else math.nan,
                "cost_min": float(pick["cost_min"]) if pick is not None else math.nan,
                "cost_max": float(pick["cost_max"]) if pick is not None else math.nan,
                "seeds_agree": seeds_agree,
            }
        )
    rec = pd.DataFrame(recs)
    breaks = []
    for a, b in itertools.pairwise(recs):
        if a["variant"] and b["variant"] and a["variant"] != b["variant"]:
            ca = _cost(best, a["variant"], a["requests"]), _cost(best, a["variant"], b["requests"])
            cb = _cost(best, b["variant"], a["requests"]), _cost(best, b["variant"], b["requests"])
            d0, d1 = ca[0] - cb[0], ca[1] - cb[1]  # <0 where a is cheaper
            at = a["requests"] + (b["requests"] - a["requests"]) * (
                d0 / (d0 - d1) if np.isfinite(d0) and np.isfinite(d1) and d0 != d1 else 0.5
            )
            breaks.append({"from": a["variant"], "to": b["variant"], "requests": float(at)})
    return rec, breaks


def _cost(best: pd.DataFrame, variant: str, req: int) -> float:
    row = best[(best["variant"] == variant) & (best["requests"] == req)]
    return float(row["cost_per_trip_eur"].iloc[0]) if len(row) else math.nan


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_kpi(best: pd.DataFrame, frame: pd.DataFrame, kpi: str, ax) -> None:
    """One KPI per variant against the demand level (best configuration, seed min-max band)."""
    f = frame.copy()
    f["variant"] = label(f)
    for variant, grp in best.groupby("variant", sort=False):
        grp = grp.sort_values("requests")
        style = "--" if variant.endswith("-av") else "-"
        ax.plot(grp["requests"], grp[kpi], style, marker="o", label=variant)
        lo, hi = [], []
        for _, r in grp.iterrows():
            cfg = f[
                (f["variant"] == variant)
                & (f["requests"] == r["requests"])
                & (
                    np.where(
                        f["headway_min"] > 0,
                        "headway " + f["headway_min"].map(lambda h: f"{h:g}") + " min",
                        f["n_vehicles"].astype(int).astype(str) + " vehicles",
                    )
                    == r["config"]
                )
            ][kpi]
            lo.append(cfg.min())
            hi.append(cfg.max())
        ax.fill_between(grp["requests"], lo, hi, alpha=0.12)
    ax.set_xlabel("requests in the window (demand level)")
    ax.set_ylabel(kpi)
    ax.grid(alpha=0.3)


def write_report(
    comparison, table: ResultTable, out: Path, *, failed: dict[str, str]
) -> list[Path]:
    """Plots (one per KPI and an overview) and ``summary.md``; returns the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    frame = table.frame
    written: list[Path] = []
    if frame.empty:
        path = out / "summary.md"
        path.write_text("# No finished runs\n", encoding="utf-8")
        return [path]
    targets = comparison.scenario.targets
    best = best_configs(frame, targets)
    rec, breaks = recommend(frame, targets)
    plt = _pyplot()
    for kpi in PLOTTED:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        plot_kpi(best, frame, kpi, ax)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        path = out / f"{kpi}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, kpi in zip(
        axes.ravel(),
        ("cost_per_trip_eur", "served_share", "door_to_door_mean_min", "wait_mean_min",
         "vehicle_hours", "co2_kg"),
        strict=True,
    ):  # fmt: skip
        plot_kpi(best, frame, kpi, ax)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=8, fontsize=8)
    fig.suptitle(f"{comparison.scenario.name}: best configuration per concept")
    fig.tight_layout(rect=(0, 0.04, 1, 0.98))
    overview = out / "overview.png"
    fig.savefig(overview, dpi=100)
    plt.close(fig)
    written.append(overview)
    summary = out / "summary.md"
    summary.write_text(summary_markdown(comparison, frame, best, rec, breaks, failed), "utf-8")
    written.append(summary)
    best.to_csv(out / "best.csv", index=False)
    return written


def _f(v: float, nd: int = 2) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def walk_model_note(frame: pd.DataFrame, circuity: float) -> str:
    """Which walk model the runs used (their ``walk_routed`` KPI), as a sentence."""
    routed = frame["walk_routed"].dropna().astype(bool) if "walk_routed" in frame else None
    # walks and rides are routed together: both need the region's map
    if routed is not None and len(routed) and routed.all():
        how = "routed on the region's walk network (shortest walk)"
        bike = "routed on the region's bike network (the bike profile's times)"
    elif routed is not None and len(routed) and routed.any():
        how = "routed on the walk network in some runs, crow-fly estimates in others"
        bike = "routed in the runs with a map, crow-fly estimates in others"
    else:
        how = f"crow-fly x {circuity:g} circuity (no map)"
        bike = f"crow-fly x {circuity:g} at 15 km/h (no map)"
    return f"Walks to and from the vehicle and walking the whole trip: {how}. Cycling: {bike}."


def summary_markdown(comparison, frame, best, rec, breaks, failed) -> str:
    """The Markdown summary (recommendation, break-even, per-concept table)."""
    sc = comparison.scenario
    lines = [
        f"# {sc.name}: last-mile concepts compared",
        "",
        sc.description,
        "",
        f"{len(frame)} runs; seeds {', '.join(map(str, sc.seeds))}; targets: "
        + (", ".join(str(t) for t in sc.targets) or "none"),
        "",
        walk_model_note(frame, comparison.settings.stops.circuity),
        "",
        "## Recommendation per demand level",
        "",
        "| requests | recommended | configuration | cost per trip (EUR) | seed min–max | "
        "seeds agreeing |",
        "|---:|---|---|---:|---|---:|",
    ]
    for r in rec.itertuples():
        verdict = r.variant if isinstance(r.variant, str) else "none meets the targets"
        lines.append(
            f"| {r.requests} | {verdict} "
            f"| {r.config if isinstance(r.config, str) else '–'} | "
            f"{_f(r.cost)} | {_f(r.cost_min)}–{_f(r.cost_max)} | {r.seeds_agree or '–'} |"
        )
    lines += ["", "## Break-even demand", ""]
    if breaks:
        for b in breaks:
            lines.append(
                f"- from **{b['from']}** to **{b['to']}** at about **{b['requests']:.0f}** "
                "requests in the window (linear interpolation of the cost-per-trip difference)"
            )
    else:
        lines.append("- the recommendation does not change over the demand levels tested")
    lines += [
        "",
        "## Best configuration of every concept (seed means)",
        "",
        "| requests | concept | configuration | meets targets | served | walk (min) | "
        "wait (min) | door-to-door (min) | vs car | vehicles | veh-h | veh-km | empty % | "
        "occupancy | kWh | CO2 kg | EUR/trip | tram wait (min) |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in best.sort_values(["requests", "cost_per_trip_eur"]).itertuples():
        walk = r.walk_access_min + r.walk_egress_min
        lines.append(
            f"| {int(r.requests)} | {r.variant} | {r.config} | {'yes' if r.meets else 'no'} | "
            f"{_f(100 * r.served_share, 0)} % | {_f(walk, 1)} | {_f(r.wait_mean_min, 1)} | "
            f"{_f(r.door_to_door_mean_min, 1)} | {_f(r.d2d_vs_car)} | {_f(r.vehicles, 1)} | "
            f"{_f(r.vehicle_hours, 1)} | {_f(r.vehicle_km, 0)} | {_f(100 * r.empty_km_share, 0)} | "
            f"{_f(r.occupancy)} | {_f(r.energy_kwh, 0)} | {_f(r.co2_kg, 1)} | "
            f"{_f(r.cost_per_trip_eur)} | {_f(r.transfer_wait_mean_min, 1)} |"
        )
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{k}`: {v}" for k, v in failed.items()]
    lines += [
        "",
        "Costs: vehicle-hours x (vehicle + driver, or safety operator for the autonomous "
        "variant) + energy. Door-to-door time runs from the requested time to arrival at the "
        "destination (walks, waits and the ride). Plots: one PNG per KPI against the demand "
        "level (line: seed mean of the best configuration; band: seed min–max).",
        "",
    ]
    return "\n".join(lines)
