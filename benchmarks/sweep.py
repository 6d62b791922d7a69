"""Sweep runner benchmark: the default scenario's runner vs a naive serial loop, same runs.

The baseline is what an analyst's first script does: for each run, load the
region and demand model, generate the requests, simulate, in one process.
Ours is :func:`fleet.scenarios.sweep.run_sweep` with worker processes that
load the region once each and share each seed's requests between runs. Both
compute the same runs of ``scenarios/heidelberg.toml`` (cut to two fleet
sizes, two capacities and two seeds, 500 requests each, by default) and must
give identical KPIs.

    python -m benchmarks.sweep [--workers 2] [--requests 500] [--fleets 5,10]
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import region_data_dir, write_result
from fleet.scenarios.simulate import load_simulation_context, simulate_run
from fleet.scenarios.spec import load_scenario
from fleet.scenarios.sweep import run_sweep
from routing.regions import load_region

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Run both, check they agree, write ``bench-results/sweep.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "heidelberg.toml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=500, help="expected requests per run")
    parser.add_argument("--fleets", default="5,10", help="fleet sizes (comma-separated)")
    parser.add_argument("--capacities", default="4,8", help="capacities (comma-separated)")
    parser.add_argument("--seeds", default="1,2")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    base = load_scenario(args.scenario)
    values = dict(base.values)
    values["n_vehicles"] = tuple(int(v) for v in args.fleets.split(","))
    values["capacity"] = tuple(int(v) for v in args.capacities.split(","))
    values["requests"] = (args.requests,)
    scenario = replace(
        base,
        name=f"{base.name}-bench",
        values=values,
        seeds=tuple(int(s) for s in args.seeds.split(",")),
    )
    runs = scenario.runs()

    data_dir = _data_dir(scenario.region)

    # Baseline: one process, everything reloaded per run.
    started = time.perf_counter()
    naive = {}
    for run in runs:
        context = load_simulation_context(scenario, data_dir=data_dir)
        naive[run.run_id] = simulate_run(run, context)
    naive_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        started = time.perf_counter()
        outcome = run_sweep(
            scenario,
            workers=args.workers,
            out_dir=Path(tmp),
            progress=False,
            report=False,
            data_dir=data_dir,
        )
        ours_s = time.perf_counter() - started
    frame = outcome.table.frame.set_index("run_id")
    differ = [
        rid
        for rid, kpis in naive.items()
        if not all(_same(float(frame.at[rid, k]), v) for k, v in kpis.items())
    ]
    result = {
        "scenario": str(
            args.scenario.relative_to(ROOT) if args.scenario.is_relative_to(ROOT) else args.scenario
        ),
        "runs": len(runs),
        "workers": args.workers,
        "requests_per_run": args.requests,
        "fleets": list(values["n_vehicles"]),
        "capacities": list(values["capacity"]),
        "seeds": list(scenario.seeds),
        "ours_s": ours_s,
        "naive_serial_s": naive_s,
        "speedup": naive_s / ours_s,
        "runs_with_different_kpis": len(differ),
        "failed": len(outcome.failed),
        "served_share": {rid: float(frame.at[rid, "served_share"]) for rid in frame.index},
    }
    path = write_result("sweep", result)
    print(
        f"sweep: {len(runs)} runs, ours {ours_s:.1f} s with {args.workers} workers vs naive "
        f"serial {naive_s:.1f} s ({naive_s / ours_s:.2f}x); {len(differ)} runs differ -> {path}"
    )
    return 1 if differ or outcome.failed else 0


def _data_dir(region_name: str) -> Path:
    """The data directory holding the region's sources: ./data, else the mirror."""
    return region_data_dir(load_region(region_name))


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


if __name__ == "__main__":
    raise SystemExit(main())
