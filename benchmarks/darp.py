"""Static dial-a-ride benchmark: our ALNS against OR-Tools on Cordeau and Li & Lim.

Both solvers run in this process, one after the other per instance (one core
each), with the same time limit. Every answer is verified by the independent
checker; gaps are to the optimal (Cordeau) or best known (Li & Lim) cost.

    .venv/bin/python -m benchmarks.darp --time-limit 10 --family cordeau
    .venv/bin/python -m benchmarks.darp --instances a2-16,lc101 --time-limit 2
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import write_result
from fleet.checker import check_solution
from fleet.instances import load_best_known, load_instance
from fleet.solver import solve

DATA = Path(
    os.environ.get("ELSTER_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
FAMILIES = ("cordeau", "lilim")
SOLVERS = ("ours", "ortools")


def instance_paths(families: list[str], names: list[str] | None) -> list[Path]:
    """Instance files of the chosen families, optionally only the named ones."""
    paths: list[Path] = []
    for fam in families:
        paths.extend(sorted((DATA / "fleet" / fam).glob("*.txt")))
    if names:
        wanted = set(names)
        paths = [p for p in paths if p.stem in wanted]
        missing = wanted - {p.stem for p in paths}
        if missing:
            raise SystemExit(f"unknown instances: {', '.join(sorted(missing))}")
    return paths


def run_one(path: Path, solver: str, time_limit: float, seed: int) -> dict[str, Any]:
    """Solve one instance with one solver and check the answer."""
    inst = load_instance(path)
    bks = load_best_known(path)
    t0 = time.monotonic()
    sol = solve(inst, solver=solver, time_limit=time_limit, seed=seed)
    wall = time.monotonic() - t0
    rep = check_solution(inst, sol.routes) if sol.found else None
    feasible = bool(rep and rep.feasible)
    row: dict[str, Any] = {
        "instance": inst.name,
        "family": inst.family,
        "solver": solver,
        "found": sol.found,
        "feasible": feasible,
        "cost": rep.cost if feasible else None,
        "vehicles": rep.vehicles if feasible else None,
        "bks_cost": bks.cost if bks else None,
        "bks_vehicles": bks.vehicles if bks else None,
        "gap_percent": (100 * (rep.cost - bks.cost) / bks.cost) if (feasible and bks) else None,
        "seconds": wall,
        "iterations": sol.iterations,
        "verdict": rep.summary() if rep else sol.info.get("status", "requests left unplaced"),
    }
    return row


def summarise(rows: list[dict[str, Any]], family: str, solver: str) -> dict[str, Any]:
    """Mean gap, infeasible count and vehicle comparison of one solver on one family."""
    mine = [r for r in rows if r["family"] == family and r["solver"] == solver]
    ok = [r for r in mine if r["feasible"]]
    gaps = [r["gap_percent"] for r in ok if r["gap_percent"] is not None]
    out: dict[str, Any] = {
        "instances": len(mine),
        "feasible": len(ok),
        "infeasible_or_none": len(mine) - len(ok),
        "mean_gap_percent_over_feasible": float(np.mean(gaps)) if gaps else None,
        "max_gap_percent": float(np.max(gaps)) if gaps else None,
        "seconds": {
            "p50": float(np.percentile([r["seconds"] for r in mine], 50)) if mine else None,
            "p95": float(np.percentile([r["seconds"] for r in mine], 95)) if mine else None,
        },
    }
    with_v = [r for r in ok if r["bks_vehicles"]]
    if with_v:
        out["vehicles_equal_bks"] = sum(r["vehicles"] == r["bks_vehicles"] for r in with_v)
        out["vehicles_above_bks"] = sum(r["vehicles"] > r["bks_vehicles"] for r in with_v)
        out["vehicles_below_bks"] = sum(r["vehicles"] < r["bks_vehicles"] for r in with_v)
        out["mean_vehicles_minus_bks"] = float(
            np.mean([r["vehicles"] - r["bks_vehicles"] for r in with_v])
        )
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``bench-results/darp.json``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--time-limit", type=float, default=10.0, help="seconds per instance and solver"
    )
    ap.add_argument("--family", choices=[*FAMILIES, "all"], default="all")
    ap.add_argument("--instances", default="", help="comma-separated instance names (subset)")
    ap.add_argument("--solvers", default="ours,ortools", help="comma-separated: ours,ortools")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="darp", help="result file name in bench-results/")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    families = list(FAMILIES) if args.family == "all" else [args.family]
    names = [n.strip() for n in args.instances.split(",") if n.strip()] or None
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    paths = instance_paths(families, names)
    rows: list[dict[str, Any]] = []
    for path in paths:
        for solver in solvers:
            row = run_one(path, solver, args.time_limit, args.seed)
            rows.append(row)
            gap = f"{row['gap_percent']:+.2f}%" if row["gap_percent"] is not None else "   -  "
            veh = f"{row['vehicles']}/{row['bks_vehicles'] or '-'}" if row["feasible"] else "-"
            print(
                f"{row['instance']:8s} {solver:8s} gap {gap:>8s} veh {veh:6s} "
                f"{row['seconds']:5.1f}s it {row['iterations'] or 0:6d}  {row['verdict']}",
                flush=True,
            )

    summary = {
        fam: {s: summarise(rows, fam, s) for s in solvers}
        for fam in families
        if any(r["family"] == fam for r in rows)
    }
    result = {
        "time_limit_s": args.time_limit,
        "seed": args.seed,
        "instances": [p.stem for p in paths],
        "summary": summary,
        "rows": rows,
    }
    parts = []
    for fam, by_solver in summary.items():
        ours = by_solver.get("ours", {}).get("mean_gap_percent_over_feasible")
        ort = by_solver.get("ortools", {}).get("mean_gap_percent_over_feasible")
        ratio = (ours / ort) if (ours is not None and ort) else None
        result.setdefault("ratios", {})[fam] = ratio
        part = f"{fam}: ours mean gap {ours:.2f}%" if ours is not None else f"{fam}: ours -"
        if "ours" in by_solver:
            part += f" ({by_solver['ours']['feasible']}/{by_solver['ours']['instances']} feasible)"
        if "ortools" in by_solver:
            o = by_solver["ortools"]
            part += f", ortools {ort:.2f}%" if ort is not None else ", ortools -"
            part += f" ({o['infeasible_or_none']} without solution)"
            if ratio is not None:
                part += f", ratio ours/ortools {ratio:.2f}"
        if "ours" in by_solver and "vehicles_equal_bks" in by_solver["ours"]:
            v = by_solver["ours"]
            part += (
                f", vehicles vs bks: {v['vehicles_equal_bks']} equal, "
                f"{v['vehicles_above_bks']} more, {v['vehicles_below_bks']} fewer"
            )
        parts.append(part)
    path = write_result(args.name, result)
    print(f"darp @ {args.time_limit:g}s/instance: " + "; ".join(parts) + f"  -> {path}")


if __name__ == "__main__":
    main()
