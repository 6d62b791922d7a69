"""Benchmark: 10,000 trip requests for a Gera-sized demand model, travel-time matrix included.

Cases
-----
* ``heidelberg``: the stand-in city (about 260 zones of 1 km), zone-to-zone car travel times
  on the real road graph (Dijkstra from every zone centroid on the car graph, centroids snapped
  to its largest component), points snapped to the real walk graph.
* ``gera``: the real Gera zones (Zensus 1 km cells with 100 m building weights, clipped to the
  VMT area). No OSM extract of Gera is available offline, so its matrix is the crow-fly
  estimate (great-circle distance x 1.35 at 30 km/h) and points are not snapped.

Each case times the full pipeline (grid, area, attractors, zones, matrix, calibrated gravity
model for six purposes, request generation). The road graphs themselves come from the build
cache (``elster build``); loading them is timed separately. The baseline draws the same
requests one at a time in a plain Python loop (hour, purpose, OD pair by ``rng.choice`` over
all zone pairs, rejection sampling of the point with shapely, one snap per point); it runs on
fewer requests and is compared per request.

Run: ``.venv/bin/python -m benchmarks.demand [--requests 10000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date
from pathlib import Path

import numpy as np
from shapely import Point

from benchmarks.common import percentiles, write_result
from demand.config import load_config
from demand.model import DemandModel, build_demand_model
from demand.requests import generate_requests
from demand.zensus import laea_to_wgs84
from routing.regions import PROJECT_ROOT, default_cache_dir, load_region

DAY = date(2022, 9, 14)


def naive_requests(model: DemandModel, n: int, seed: int) -> list[tuple]:
    """Baseline: one request at a time, every draw a separate Python-level call."""
    rng = np.random.default_rng(seed)
    cfg = model.config
    hourly = np.asarray(cfg.profiles["weekday"].hourly)
    mix = cfg.profiles["weekday"].purpose_mix
    names = list(mix)
    z = model.zones
    out = []
    for _ in range(n):
        hour = rng.choice(24, p=hourly)
        purpose = names[rng.choice(len(names), p=[mix[k] for k in names])]
        trips = model.purposes[purpose].trips
        cell = rng.choice(trips.size, p=(trips / trips.sum()).ravel())
        ends = []
        for zone in divmod(int(cell), z.size):
            sub = np.arange(z.sub_first[zone], z.sub_first[zone + 1])
            w = z.sub_weight[sub]
            for attempt in range(cfg.requests.snap_rounds + 1):
                last = attempt == cfg.requests.snap_rounds  # as generate_requests: keep it
                k = rng.choice(sub, p=w / w.sum())
                x = z.sub_x[k] + rng.uniform(-1, 1) * z.sub_half[k]
                y = z.sub_y[k] + rng.uniform(-1, 1) * z.sub_half[k]
                lat, lon = laea_to_wgs84(np.array([x]), np.array([y]))
                if not last and not model.area.geometry.contains(Point(lon[0], lat[0])):
                    continue
                if model.walk_snapper is not None:
                    _, slat, slon, d = model.walk_snapper.snap(lat, lon)
                    if d[0] > cfg.requests.max_snap_m and not last:
                        continue
                    lat, lon = slat, slon
                ends.append((float(lat[0]), float(lon[0])))
                break
        out.append((hour, purpose, *ends[0], *ends[1]))
    return out


def run_case(
    region: str, data_dir: Path, cache_dir: Path, n: int, repeat: int, n_baseline: int
) -> dict:
    cfg = load_config()
    graphs_s = 0.0
    reg = load_region(region)
    if reg.source_file("osm", data_dir).is_file():
        from routing.build import road_graphs

        t = time.perf_counter()
        road_graphs(reg, ("car", "walk"), data_dir=data_dir, cache_dir=cache_dir)
        graphs_s = time.perf_counter() - t
    pipeline, generation = [], []
    model = None
    for _ in range(repeat):
        t = time.perf_counter()
        model = build_demand_model(reg, config=cfg, data_dir=data_dir, cache_dir=cache_dir)
        t_model = time.perf_counter() - t
        t = time.perf_counter()
        req, _ = generate_requests(model, day=DAY, n_requests=n, seed=1)
        t_gen = time.perf_counter() - t
        assert len(req) == n
        pipeline.append(t_model + t_gen)
        generation.append(t_gen)
    assert model is not None
    t = time.perf_counter()
    naive_requests(model, n_baseline, seed=1)
    t_naive = time.perf_counter() - t
    per_fast = float(np.median(generation)) / n
    per_naive = t_naive / n_baseline
    return {
        "region": region,
        "zones": model.zones.size,
        "requests": n,
        "travel_times": model.travel_times,
        "points_snapped": model.walk_snapper is not None,
        "graph_load_s": graphs_s,
        "pipeline": percentiles(pipeline),
        "generation": percentiles(generation),
        "baseline_requests": n_baseline,
        "baseline_s": t_naive,
        "baseline_per_request_ms": per_naive * 1000,
        "vectorised_per_request_ms": per_fast * 1000,
        "ratio_generation": per_naive / per_fast,
        "baseline_extrapolated_pipeline_s": float(np.median(pipeline))
        - float(np.median(generation))
        + per_naive * n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-requests", type=int, default=1_000)
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cache_dir = args.cache_dir or default_cache_dir()
    cases = [
        run_case(r, args.data_dir, cache_dir, args.requests, args.repeat, args.baseline_requests)
        for r in ("heidelberg", "gera")
    ]
    path = write_result("demand", {"cases": cases})
    for c in cases:
        print(
            f"demand {c['region']}: {c['requests']} requests, {c['zones']} zones, "
            f"{c['travel_times']}: pipeline p50 {c['pipeline']['p50_ms'] / 1000:.2f} s "
            f"(generation {c['generation']['p50_ms']:.0f} ms; graphs loaded in "
            f"{c['graph_load_s']:.2f} s) vs naive loop "
            f"{c['baseline_per_request_ms']:.2f} ms/request "
            f"(~{c['baseline_extrapolated_pipeline_s']:.1f} s for the pipeline): "
            f"generation {c['ratio_generation']:.0f}x faster"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
