"""Benchmark: full multimodal plan on Heidelberg, fast engine vs the naive baseline.

200 random origin/destination pairs (fixed seed) between walk-graph nodes of
the city, departing 2022-09-14 08:00 with every mode enabled (walk, transit,
bike, bike+ride, bike share, car, EV with charging stops, EV park & charge).
Bike-share stations, bike boxes and live chargers come from the hand-made
Heidelberg feeds of ``benchmarks/support/planner.py`` (the real Heidelberg data has
only open bike parking and register chargers); the EV starts with a random
battery level so some trips need a charging stop.

Baseline (same process, same queries): ``plan(..., naive=True)``, each mode
on its own plain Dijkstra searches (no CH, no shared trees, no cached station
tables). Reports p50/p95 per engine, per-mode timings, the speed-up and how
many plans differ between the engines.

Scenarios (fast engine only, first ``--scenario-pairs`` queries): step-free
plans (``wheelchair=True``), arrive-by plans (deadline 45 min after the
departure), and plans while a flood closure (a polygon around Bismarckplatz
and the Neckar bank, every profile) is in force.

Run: ``.venv/bin/python -m benchmarks.plan [--pairs 200] [--baseline-pairs 50]``
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import time

import numpy as np

from benchmarks.common import percentiles, write_result
from routing.geo import haversine_m
from routing.planner import EvSpec, PlanContext, PlanRequest, plan
from routing.regions import default_cache_dir, default_data_dir, load_region

log = logging.getLogger("benchmarks.plan")
CITY = (
    49.370,
    8.640,
    49.430,
    8.720,
)  # lat/lon box of the city (min_lat, min_lon, max_lat, max_lon)


def od_pairs(
    ctx: PlanContext, n: int, seed: int
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """``n`` random pairs of walk-graph nodes in the city, 500 m to 8 km apart."""
    g = ctx.networks["walk"].graph
    lat, lon = np.asarray(g.lat), np.asarray(g.lon)
    inside = np.flatnonzero((lat > CITY[0]) & (lat < CITY[2]) & (lon > CITY[1]) & (lon < CITY[3]))
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        a, b = (int(inside[rng.randrange(inside.size)]) for _ in range(2))
        d = float(haversine_m(lat[a], lon[a], lat[b], lon[b]))
        if 500 <= d <= 8000:
            out.append(((float(lat[a]), float(lon[a])), (float(lat[b]), float(lon[b]))))
    return out


def build_context() -> PlanContext:
    """Heidelberg networks, timetable, OSM/BNetzA data plus the hand-made live feeds."""
    from benchmarks.support.planner import fixture_chargers, fixture_stations
    from routing.planner import load_plan_context
    from routing.stations.loader import load_chargers, load_stations

    region = load_region("heidelberg")
    data_dir, cache_dir = default_data_dir(), default_cache_dir()
    stations = fixture_stations(load_stations(region, data_dir, skip_missing=True).snapshot())
    chargers = fixture_chargers(load_chargers(region, data_dir, skip_missing=True).snapshot())
    return load_plan_context(
        region, data_dir=data_dir, cache_dir=cache_dir, stations=stations, chargers=chargers
    )


def requests(ctx: PlanContext, n: int, seed: int) -> list[PlanRequest]:
    """The benchmark queries (every mode, random EV battery 5..60 %)."""
    from benchmarks.support.planner import DEPART, FIXTURE_NOW

    rng = random.Random(seed + 1)
    out = []
    for a, b in od_pairs(ctx, n, seed):
        ev = EvSpec(
            capacity_kwh=20.0, battery_percent=rng.uniform(5, 60), consumption_kwh_per_km=0.5
        )
        out.append(PlanRequest(a, b, DEPART, ev=ev, availability_at=FIXTURE_NOW))
    return out


def run(
    reqs: list[PlanRequest], ctx: PlanContext, *, naive: bool
) -> tuple[list[float], dict[str, list[float]], list]:
    """Plan every request; return wall times, per-mode times and the results."""
    times, per_mode, results = [], {}, []
    gc.disable()
    try:
        for req in reqs:
            t0 = time.perf_counter()
            res = plan(req, ctx, naive=naive)
            times.append(time.perf_counter() - t0)
            results.append(res)
            for mode, secs in res.timings.items():
                per_mode.setdefault(mode, []).append(secs)
    finally:
        gc.enable()
    return times, per_mode, results


#: A flooded area by the Neckar at Bismarckplatz (lon, lat), closed for every profile.
FLOOD = {
    "type": "Polygon",
    "coordinates": [
        [[8.6890, 49.4095], [8.6960, 49.4095], [8.6960, 49.4125], [8.6890, 49.4125],
         [8.6890, 49.4095]]
    ],
}  # fmt: skip


def scenarios(reqs: list[PlanRequest], ctx: PlanContext) -> dict[str, dict]:
    """p50/p95 of step-free, arrive-by and under-closure plans of ``reqs``."""
    import dataclasses
    import datetime as dt

    from routing.live import LiveState

    out: dict[str, dict] = {}
    wheel = [dataclasses.replace(r, wheelchair=True, modes=None) for r in reqs]
    late = dt.timedelta(minutes=45)
    arrive = [dataclasses.replace(r, arrive_by=True, depart_at=r.depart_at + late) for r in reqs]
    live = LiveState({p: n.graph for p, n in ctx.networks.items()})
    flooded = PlanContext(
        ctx.networks, ctx.transit, ctx.stations, ctx.chargers, wheelchair_loader=None
    )
    closure = live.add_closure(polygon=FLOOD, reason="benchmark flood")
    flooded.attach_live(live)
    edges = sum(int(live.closure_edges(closure.id, p).size) for p in ctx.networks)
    for name, rs, c in (("wheelchair", wheel, ctx), ("arrive_by", arrive, ctx),
                        ("closure", reqs, flooded)):  # fmt: skip
        run(rs[:2], c, naive=False)  # warm-up (loads the step-free network, live weights)
        times, _, results = run(rs, c, naive=False)
        out[name] = {
            **percentiles(times),
            "mean_itineraries": float(np.mean([len(r.itineraries) for r in results])),
        }
    out["closure"]["closed_edges"] = edges
    return out


def signature(res) -> list:
    return sorted((it.mode, it.criteria) for it in res.itineraries)


def same(a, b, tol: int = 2) -> bool:
    sa, sb = signature(a), signature(b)
    return len(sa) == len(sb) and all(
        m1 == m2 and all(abs(x - y) <= tol for x, y in zip(c1, c2, strict=True))
        for (m1, c1), (m2, c2) in zip(sa, sb, strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument(
        "--baseline-pairs", type=int, default=50, help="naive runs (slow) on the first N pairs"
    )
    parser.add_argument("--seed", type=int, default=20220914)
    parser.add_argument(
        "--scenario-pairs", type=int, default=50, help="queries per scenario (0: skip)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    t0 = time.perf_counter()
    ctx = build_context()
    reqs = requests(ctx, args.pairs, args.seed)
    load_s = time.perf_counter() - t0
    run(reqs[:5], ctx, naive=False)  # warm-up: numba caches, static station tables
    fast_t, fast_modes, fast_res = run(reqs, ctx, naive=False)
    nb = min(args.baseline_pairs, len(reqs))
    base_t, base_modes, base_res = run(reqs[:nb], ctx, naive=True)
    differ = sum(not same(a, b) for a, b in zip(fast_res[:nb], base_res, strict=True))
    extra = scenarios(reqs[: args.scenario_pairs], ctx) if args.scenario_pairs > 0 else {}

    fast = percentiles(fast_t)
    fast_same = percentiles(fast_t[:nb])
    base = percentiles(base_t)
    ratio = base["p50_ms"] / fast_same["p50_ms"]
    modes = {m: percentiles(v) for m, v in fast_modes.items()}
    modes_base = {m: percentiles(v) for m, v in base_modes.items()}
    counts: dict[str, int] = {}
    for res in fast_res:
        for it in res.itineraries:
            counts[it.mode] = counts.get(it.mode, 0) + 1
    result = {
        "region": "heidelberg",
        "depart": "2022-09-14T08:00 Europe/Berlin",
        "pairs": len(reqs),
        "seed": args.seed,
        "load_s": round(load_s, 2),
        "fast": fast,
        "fast_on_baseline_pairs": fast_same,
        "baseline": {**base, "what": "each mode its own plain Dijkstra searches, no CH, no reuse"},
        "ratio_p50": ratio,
        "targets": {"p50_ms": 50, "p95_ms": 150},
        "per_mode_fast": modes,
        "per_mode_baseline": modes_base,
        "itineraries_by_mode": counts,
        "mean_itineraries": float(np.mean([len(r.itineraries) for r in fast_res])),
        "plans_differing_from_baseline": differ,
        "scenarios": extra,
    }
    path = write_result("plan", result)
    print(
        f"plan: {len(reqs)} pairs, fast p50 {fast['p50_ms']:.1f} ms p95 {fast['p95_ms']:.1f} ms; "
        f"baseline p50 {base['p50_ms']:.1f} ms ({nb} pairs); {ratio:.1f}x faster; "
        f"{differ} plans differ; per mode p50 "
        + ", ".join(f"{m} {v['p50_ms']:.2f}" for m, v in modes.items())
        + " ms; "
        + ", ".join(f"{k} p50 {v['p50_ms']:.1f}/p95 {v['p95_ms']:.1f} ms" for k, v in extra.items())
        + f" -> {path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
