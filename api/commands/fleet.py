"""CLI verbs of the fleet domain: ``elster solve``."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``solve`` to the ``elster`` app."""
    app.command("solve")(solve)


def solve(
    instance: Path = typer.Argument(..., help="Cordeau DARP or Li & Lim PDPTW instance file."),
    time_limit: float = typer.Option(10.0, "--time-limit", help="Seconds of search."),
    solver: str = typer.Option("ours", "--solver", help="'ours' (ALNS) or 'ortools'."),
    seed: int = typer.Option(0, "--seed", help="Random seed of our solver."),
    iterations: int | None = typer.Option(
        None, "--iterations", help="Stop our solver after this many iterations (reproducible)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    show_routes: bool = typer.Option(False, "--routes", help="Also print every route."),
) -> None:
    """Solve a static dial-a-ride / PDPTW instance and verify the answer independently.

    Prints the cost, vehicles used, the gap to the best known value (when a
    bks.csv beside the instance names it) and the independent checker's verdict.
    """
    from fleet.checker import check_solution
    from fleet.instances import load_best_known, load_instance
    from fleet.solver import solve as run_solver

    inst = load_instance(instance)
    bks = load_best_known(instance)
    sol = run_solver(
        inst, solver=solver, time_limit=time_limit, seed=seed, max_iterations=iterations
    )
    report = check_solution(inst, sol.routes) if sol.found else None
    if report is not None:
        verdict = report.summary()
    elif sol.unassigned and sol.vehicles_used:
        verdict = f"INFEASIBLE: {len(sol.unassigned)} requests not served"
    else:
        verdict = f"no solution ({sol.info.get('status', 'not every request could be placed')})"
    gap = None
    if bks is not None and sol.found:
        gap = 100.0 * (sol.cost - bks.cost) / bks.cost
    result = {
        "instance": inst.name,
        "solver": sol.solver,
        "found": sol.found,
        "cost": sol.cost if sol.found else None,
        "checked_cost": report.cost if report else None,
        "vehicles": sol.vehicles_used,
        "requests": inst.n_requests,
        "best_known": None if bks is None else {"cost": bks.cost, "vehicles": bks.vehicles},
        "gap_percent": gap,
        "feasible": bool(report and report.feasible),
        "verdict": verdict,
        "violations": [v.__dict__ for v in report.violations] if report else [],
        "runtime_s": round(sol.runtime, 3),
        "iterations": sol.iterations,
        "seed": seed if solver == "ours" else None,
    }
    if show_routes or as_json:
        result["routes"] = [list(map(int, r)) for r in sol.routes]
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    lines = [f"instance  {inst.name} ({inst.n_requests} requests, {inst.n_vehicles} vehicles)"]
    lines.append(f"solver    {sol.solver}, {sol.runtime:.1f} s, {sol.iterations} iterations")
    if sol.found:
        lines.append(f"cost      {sol.cost:.2f}")
    else:
        lines.append("cost      -")
    lines.append(f"vehicles  {sol.vehicles_used}")
    if bks is not None:
        ref = f"{bks.cost:.2f}" + (f" with {bks.vehicles} vehicles" if bks.vehicles else "")
        kind = "optimal" if bks.optimal else "best known"
        lines.append(f"{kind:10s}{ref}" + (f"  (gap {gap:+.2f}%)" if gap is not None else ""))
    lines.append(f"checker   {verdict}")
    if report and not report.feasible:
        lines.extend(
            f"  - {v.kind} (vehicle {v.vehicle}): {v.detail}" for v in report.violations[:20]
        )
    if show_routes:
        lines.extend(f"route {k}: {' '.join(map(str, r))}" for k, r in enumerate(sol.routes) if r)
    typer.echo("\n".join(lines))
    if report is not None and not report.feasible:
        raise typer.Exit(1)
