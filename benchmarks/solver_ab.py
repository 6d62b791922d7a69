"""The DARP solver of two source trees, side by side: same instances, seeds and iterations.

A before/after check for changes to the solver kernels. ``benchmarks.darp``
runs under a time limit, so a faster tree does more iterations and the two
runs are not comparable; this one fixes the iteration count, so both trees
must find the same routes, and compares steady-state time only (kernels are
compiled and every instance solved once before timing). One worker process
per tree; the rounds alternate which tree goes first. Each worker compiles
into a fresh numba cache unless ``--reuse-cache``: numba's cache checks only
a kernel's own file, so a tree's cache can hold callers built with older
callees and the run would time stale code.

    git worktree add /tmp/elster-base main
    .venv/bin/python -m benchmarks.solver_ab --base /tmp/elster-base --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import write_result

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INSTANCES = "a4-40,a6-60,a8-96,lc101,lr201,lrc201"

# Runs inside each tree (its own code first on sys.path): reads "name iterations seed"
# lines, answers one JSON line per solve.
WORKER = """
import hashlib, json, os, sys, time
from pathlib import Path
from fleet.instances import load_instance
from fleet.solver import solve
data = Path(os.environ["ELSTER_MIRROR"]) / "fleet"
cache = {}
for line in sys.stdin:
    name, iterations, seed = line.split()
    if name not in cache:
        family = "cordeau" if name[0] == "a" else "lilim"
        cache[name] = load_instance(data / family / f"{name}.txt")
        solve(cache[name], time_limit=600, seed=0, max_iterations=2)  # compile, warm up
    started = time.perf_counter()
    sol = solve(cache[name], time_limit=600, seed=int(seed), max_iterations=int(iterations))
    seconds = time.perf_counter() - started
    routes = hashlib.sha256(json.dumps(sol.routes).encode()).hexdigest()
    print(json.dumps({"cost": sol.cost, "routes": routes, "s": seconds}), flush=True)
"""


def _worker(tree: Path, mirror: str, numba_cache: str | None) -> subprocess.Popen[str]:
    env = dict(os.environ, ELSTER_MIRROR=mirror, PYTHONPATH=str(tree))
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = numba_cache
    return subprocess.Popen(
        [sys.executable, "-c", WORKER], cwd=tree, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip


def compare(
    base: Path, tree: Path, *, instances: list[str], seeds: list[int], iterations: int,
    rounds: int, mirror: str, fresh_cache: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Solve every (instance, seed) ``rounds`` times in both trees, alternating the order.

    With ``fresh_cache`` each tree compiles its kernels into a new, temporary
    numba cache (the trees' own caches may be stale).

    Returns
    -------
    dict
        Per run: both costs, whether the routes are identical in every round,
        the fastest time of each tree and their ratio; totals over all runs.
    """
    scratch = tempfile.TemporaryDirectory(prefix="elster-solver-ab-") if fresh_cache else None
    caches = {
        side: None if scratch is None else str(Path(scratch.name) / side)
        for side in ("base", "tree")
    }
    workers = {
        "base": _worker(base, mirror, caches["base"]),
        "tree": _worker(tree, mirror, caches["tree"]),
    }
    times: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = {}
    try:
        for r in range(rounds):
            order = ("base", "tree") if r % 2 == 0 else ("tree", "base")
            for name in instances:
                for seed in seeds:
                    for side in order:
                        proc = workers[side]
                        assert proc.stdin is not None
                        assert proc.stdout is not None
                        proc.stdin.write(f"{name} {iterations} {seed}\n")
                        proc.stdin.flush()
                        line = proc.stdout.readline()
                        if not line:
                            raise SystemExit(f"the {side} worker died on {name} seed {seed}")
                        times.setdefault((name, seed), {}).setdefault(side, []).append(
                            json.loads(line)
                        )
    finally:
        for proc in workers.values():
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
        if scratch is not None:
            scratch.cleanup()
    runs = []
    for (name, seed), sides in times.items():
        best = {side: min(x["s"] for x in sides[side]) for side in sides}
        runs.append({
            "instance": name, "seed": seed,
            "cost_base": sides["base"][0]["cost"], "cost_tree": sides["tree"][0]["cost"],
            "same_routes": all(a["routes"] == b["routes"]
                               for a, b in zip(sides["base"], sides["tree"], strict=True)),
            "min_s_base": best["base"], "min_s_tree": best["tree"],
            "ratio": best["tree"] / best["base"],
        })  # fmt: skip
    total_base = sum(r["min_s_base"] for r in runs)
    total_tree = sum(r["min_s_tree"] for r in runs)
    return {
        "base": str(base), "tree": str(tree), "iterations": iterations, "rounds": rounds,
        "runs": runs, "total_s_base": total_base, "total_s_tree": total_tree,
        "ratio": total_tree / total_base, "all_same_routes": all(r["same_routes"] for r in runs),
        "fresh_cache": fresh_cache,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.solver_ab --base PATH [--tree PATH]``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="source tree to compare against")
    ap.add_argument("--tree", type=Path, default=ROOT, help="source tree measured (this one)")
    ap.add_argument("--instances", default=DEFAULT_INSTANCES)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--reuse-cache", action="store_true",
        help="load kernels from the trees' numba caches instead of compiling them afresh",
    )  # fmt: skip
    args = ap.parse_args(argv)
    mirror = os.environ.get("ELSTER_MIRROR") or str(ROOT.parent / "shared" / "data")
    for tree in (args.base, args.tree):
        if not (tree / "fleet" / "solver").is_dir():
            raise SystemExit(f"{tree} is not an Elster source tree (no fleet/solver/)")
    result = compare(
        args.base.resolve(), args.tree.resolve(), instances=args.instances.split(","),
        seeds=[int(s) for s in args.seeds.split(",")], iterations=args.iterations,
        rounds=args.rounds, mirror=mirror, fresh_cache=not args.reuse_cache,
    )  # fmt: skip
    path = write_result("solver_ab", result)
    print(
        f"solver A/B: {len(result['runs'])} runs, same routes: {result['all_same_routes']}, "
        f"steady-state time tree/base {result['ratio']:.3f} "
        f"({result['total_s_tree']:.2f} s / {result['total_s_base']:.2f} s) -> {path}"
    )


if __name__ == "__main__":
    main()
