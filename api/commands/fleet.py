"""CLI verbs of the fleet domain: ``elster solve`` and ``elster simulate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``solve`` and ``simulate`` to the ``elster`` app."""
    app.command("solve")(solve)
    app.command("simulate")(simulate)


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


#: KPIs printed by ``elster simulate`` (name, label, format).
_KPI_ROWS = (
    ("requests", "requests", "{:.0f}"),
    ("served", "served", "{:.0f}"),
    ("served_share", "served share", "{:.1%}"),
    ("rejected", "rejected", "{:.0f}"),
    ("wait_mean_s", "wait mean (min)", "min"),
    ("wait_median_s", "wait median (min)", "min"),
    ("wait_p90_s", "wait p90 (min)", "min"),
    ("ride_mean_s", "ride mean (min)", "min"),
    ("detour_mean_s", "detour mean (min)", "min"),
    ("detour_rel_mean", "detour relative", "{:.1%}"),
    ("occupancy", "occupancy (pax-km/veh-km)", "{:.2f}"),
    ("vehicle_km", "vehicle-km", "{:,.0f}"),
    ("empty_km_share", "empty-km share", "{:.1%}"),
    ("shared_ride_share", "shared rides", "{:.1%}"),
    ("vehicle_hours", "vehicle hours", "{:,.1f}"),
    ("vehicle_hours_driving", "vehicle hours driving", "{:,.1f}"),
    ("charging_sessions", "charging sessions", "{:.0f}"),
)


def simulate(
    region: str = typer.Argument(..., help="Region name (regions/NAME.toml)."),
    requests: Path = typer.Option(
        ..., "--requests", "-r", help="Request file from `elster demand` (.csv or .parquet)."
    ),
    vehicles: int = typer.Option(10, "--vehicles", min=1, help="Fleet size."),
    capacity: int = typer.Option(8, "--capacity", min=1, help="Seats per vehicle."),
    wheelchair_places: int = typer.Option(1, "--wheelchair-places", min=0),
    out: Path = typer.Option(Path("simulation"), "--out", "-o", help="Output directory."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same KPIs)."),
    max_wait: float = typer.Option(15.0, "--max-wait", help="Maximum wait in minutes."),
    alpha: float = typer.Option(1.5, "--alpha", help="Max ride = alpha * direct + beta."),
    beta: float = typer.Option(5.0, "--beta", help="Max ride: beta in minutes."),
    policy: str = typer.Option(
        "insertion", "--policy", help="insertion (pooling), no-pooling or nearest-idle."
    ),
    reoptimise_every: float = typer.Option(
        300.0, "--reoptimise-every", help="Seconds between re-optimisations (0: off)."
    ),
    rebalancing: bool = typer.Option(True, "--rebalancing/--no-rebalancing"),
    battery_kwh: float | None = typer.Option(
        None, "--battery-kwh", help="E-shuttles with this battery; charge at the region's chargers."
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write the PNG charts."),
    as_json: bool = typer.Option(False, "--json", help="Print the KPIs as JSON."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Build cache directory."),
) -> None:
    """Simulate a day of shuttle service on the region's roads and print the KPIs.

    Replays the requests against the online dispatcher (car travel times from
    the road network), re-drives every vehicle with an independent audit and
    writes kpis.json, requests.csv and PNG charts into --out.
    """
    from demand.requests import read_requests
    from fleet.online.charging import sites_from_chargers
    from fleet.online.travel import RoadTravel
    from fleet.simulation import SimulationConfig, run_simulation
    from fleet.simulation.audit import audit
    from routing.regions import load_region
    from routing.road import load_road_networks

    reg = load_region(region)
    stream = read_requests(requests, timezone=reg.timezone).requests
    config = SimulationConfig(
        n_vehicles=vehicles,
        capacity=capacity,
        wheelchair_places=wheelchair_places,
        max_wait_s=max_wait * 60.0,
        alpha=alpha,
        beta=beta * 60.0,
        policy=policy,
        reoptimise_every_s=reoptimise_every,
        rebalancing=rebalancing,
        battery_kwh=battery_kwh,
        seed=seed,
    )
    car = load_road_networks(reg, ("shuttle",), data_dir=data_dir, cache_dir=cache_dir)["shuttle"]
    travel = RoadTravel.from_network(car)
    sites = None
    if battery_kwh is not None:
        from routing.stations.loader import load_chargers

        sites = sites_from_chargers(load_chargers(reg, data_dir, skip_missing=True))
    result = run_simulation(stream, config=config, travel=travel, charging_sites=sites)
    report = audit(result, travel)
    written = result.write(out, plots=plots)
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "audit": report.summary()}, indent=2))
        return
    k = result.kpis
    lines = [f"{reg.title}: {len(stream)} requests, {vehicles} vehicles x {capacity} seats "
             f"({policy}, seed {seed})"]  # fmt: skip
    for key, label, fmt in _KPI_ROWS:
        value = k.get(key)
        if value is None or value != value:
            text = "-"
        elif fmt == "min":
            text = f"{value / 60.0:.1f}"
        else:
            text = fmt.format(value)
        lines.append(f"  {label:28s}{text:>12s}")
    t = result.timing
    lines.append(
        f"  {'decision p50 / p95 (ms)':28s}"
        f"{t['decision_p50_ms']:>6.2f} / {t['decision_p95_ms']:.2f}"
    )
    lines.append(f"  {'run time (s)':28s}{t['wall_s']:>12.1f}")
    lines.append(f"audit     {report.summary()}")
    lines.append(f"written   {', '.join(str(p) for p in written)}")
    typer.echo("\n".join(lines))
    if not report.ok:
        raise typer.Exit(1)
