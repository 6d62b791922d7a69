"""Online dispatch benchmark: a day of Heidelberg requests, our dispatcher vs a no-pooling baseline.

The request stream comes from the demand model (``demand.generate_requests``,
fixed seed, 10,000 requests by default) and is replayed on the car network
(CH travel times) with 50 vehicles of 8 seats. Ours: best insertion with
pooling, re-optimisation every 5 minutes and rebalancing. Baseline (same
stream, same rules, same rebalancing): ``no-pooling`` (one request on board at
a time; the vehicle that can pick up earliest wins), or ``nearest-idle``.
Both runs are checked by the independent audit. Targets: the day simulated
in under 2 minutes, per-request decision p95 under 50 ms.

Run: ``.venv/bin/python -m benchmarks.fleet_online [--requests N] [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from typing import Any

from benchmarks.common import write_result

TARGET_WALL_S = 120.0
TARGET_P95_MS = 50.0


def _run(stream, travel, config, sites) -> dict[str, Any]:
    from fleet.simulation import run_simulation
    from fleet.simulation.audit import audit

    res = run_simulation(stream, config=config, travel=travel, charging_sites=sites)
    rep = audit(res, travel)
    return {
        "policy": config.policy,
        "kpis": res.kpis,
        "timing": res.timing,
        "stats": res.stats,
        "audit": {"ok": rep.ok, "violations": len(rep.violations), "summary": rep.summary()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write ``bench-results/fleet_online.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--vehicles", type=int, default=50)
    ap.add_argument("--capacity", type=int, default=8)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--date", default="2022-09-14")
    ap.add_argument("--baseline", default="no-pooling", choices=("no-pooling", "nearest-idle"))
    ap.add_argument("--battery-kwh", type=float, default=None)
    ap.add_argument("--quick", action="store_true", help="2,000 requests, 10 vehicles")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.vehicles = 2_000, 10
    logging.basicConfig(level=logging.WARNING)

    from demand.model import build_demand_model
    from demand.requests import generate_requests
    from fleet.online.charging import sites_from_chargers
    from fleet.online.travel import RoadTravel
    from fleet.simulation import SimulationConfig, run_simulation
    from fleet.simulation.events import trips_from_frame
    from routing.regions import load_region
    from routing.road import load_road_networks

    region = load_region("heidelberg")
    t = time.perf_counter()
    model = build_demand_model(region)
    frame, _ = generate_requests(
        model, day=dt.date.fromisoformat(args.date), n_requests=args.requests, seed=args.seed
    )
    travel = RoadTravel.from_network(load_road_networks(region, ("shuttle",))["shuttle"])
    stream = trips_from_frame(frame, travel)
    setup_s = time.perf_counter() - t
    sites = None
    if args.battery_kwh is not None:
        from routing.stations.loader import load_chargers

        sites = sites_from_chargers(load_chargers(region, skip_missing=True))
    common: dict[str, Any] = {
        "n_vehicles": args.vehicles,
        "capacity": args.capacity,
        "seed": args.seed,
        "battery_kwh": args.battery_kwh,
    }
    # numba kernels load (or compile) before the clock starts
    warm = trips_from_frame(frame.iloc[:50], travel)
    for policy in ("insertion", args.baseline):
        run_simulation(warm, config=SimulationConfig(policy=policy, **common), travel=travel,
                       charging_sites=sites)  # fmt: skip
    ours = _run(stream, travel, SimulationConfig(policy="insertion", **common), sites)
    base = _run(stream, travel, SimulationConfig(policy=args.baseline, **common), sites)
    ko, kb = ours["kpis"], base["kpis"]

    def ratio(name: str) -> float | None:
        a, b = ko.get(name), kb.get(name)
        return None if not b else a / b

    ratios = {
        name: ratio(name)
        for name in (
            "served_share",
            "served",
            "occupancy",
            "vehicle_km_per_served",
            "empty_km_share",
            "wait_mean_s",
            "ride_mean_s",
            "vehicle_km",
        )
    }
    ratios["wall_s"] = ours["timing"]["wall_s"] / base["timing"]["wall_s"]
    ratios["decision_p95_ms"] = (
        ours["timing"]["decision_p95_ms"] / base["timing"]["decision_p95_ms"]
    )
    result = {
        "region": "heidelberg",
        "requests": args.requests,
        "vehicles": args.vehicles,
        "capacity": args.capacity,
        "seed": args.seed,
        "date": args.date,
        "setup_s": setup_s,
        "ours": ours,
        "baseline": base,
        "ratio_ours_to_baseline": ratios,
        "targets": {
            "wall_s": TARGET_WALL_S,
            "decision_p95_ms": TARGET_P95_MS,
            "wall_ok": ours["timing"]["wall_s"] < TARGET_WALL_S,
            "p95_ok": ours["timing"]["decision_p95_ms"] < TARGET_P95_MS,
        },
    }
    path = write_result("fleet_online", result)
    print(
        f"fleet_online: {args.requests} requests, {args.vehicles} vehicles on Heidelberg: "
        f"ours {ours['timing']['wall_s']:.1f} s (decision p95 "
        f"{ours['timing']['decision_p95_ms']:.1f} ms), served {ko['served_share']:.1%}, "
        f"{ko['vehicle_km_per_served']:.2f} veh-km/served, occupancy {ko['occupancy']:.2f}; "
        f"{args.baseline} {base['timing']['wall_s']:.1f} s, served {kb['served_share']:.1%}, "
        f"{kb['vehicle_km_per_served']:.2f} veh-km/served; served ratio "
        f"{ratios['served_share']:.2f}x, veh-km/served ratio "
        f"{ratios['vehicle_km_per_served']:.2f}x; "
        f"audits {ours['audit']['summary'][:2]}/{base['audit']['summary'][:2]} -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
