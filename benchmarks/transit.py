"""Transit benchmark: timetable build, stop-to-stop RAPTOR vs pyraptor, door-to-door plans.

Run as ``.venv/bin/python -m benchmarks.transit`` (options: ``--queries N``,
``--no-baseline``). On the VRN feed of the Heidelberg region for 2022-09-14:

* timetable build from the zip (read + validate + build, no cache);
* earliest-arrival station-to-station queries with Elster's numba RAPTOR and
  with ``pyraptor`` 1.3.10 (PyPI) on the same feed, date and queries. pyraptor
  lives in its own virtualenv (``.elster/venv-pyraptor``, created on first use
  with ``numpy<2``, ``attrs`` and ``loguru``), gets the prepared feed copy its
  reader needs, and is timed in-process by a small driver script run as a
  subprocess (its loading time excluded). Both sides use the same semantics:
  platforms of a station share its name, changing platforms takes pyraptor's
  2 minutes, at most 5 rides. The arrival times are compared query by query;
* door-to-door walk + transit plans between random points near stops
  (snapping, access/egress searches, RAPTOR, legs with walk geometry).

Writes ``bench-results/transit.json`` and prints a one-line summary.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import percentiles, write_result
from routing.regions import PROJECT_ROOT, load_region

log = logging.getLogger("benchmarks.transit")

DATE = "2022-09-14"
ROUNDS = 5
PYRAPTOR_TRANSFER_S = 120
AGENCIES = ["RNV Rhein-Neckar-Verkehr GmbH", "Busverkehr Rhein-Neckar GmbH"]
VENV = PROJECT_ROOT / ".elster" / "venv-pyraptor"

DRIVER = r'''
import json, sys, time
from loguru import logger
logger.remove()
from pyraptor.dao.timetable import read_timetable
from pyraptor.model.raptor import RaptorAlgorithm, best_stop_at_target_station, reconstruct_journey

folder, queries_file, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
tt = read_timetable(folder)
queries = json.load(open(queries_file))

def query(origin, destination, dep):
    """pyraptor's station-to-station query: RAPTOR from the origin, best stop at the target."""
    raptor = RaptorAlgorithm(tt)
    bags = raptor.run(tt.stations.get(origin).stops, dep, rounds)
    best = bags[rounds]
    stop = best_stop_at_target_station(tt.stations.get_stops(destination), best)
    if stop == 0:
        return None
    reconstruct_journey(stop, best)
    return best[stop].earliest_arrival_time

out = []
for origin, destination, dep in queries:
    t0 = time.perf_counter()
    arrival = query(origin, destination, dep)
    out.append([time.perf_counter() - t0, arrival])
json.dump(out, sys.stdout)
'''


def ensure_pyraptor_venv() -> Path:
    """Create the pyraptor virtualenv on first use; return its python."""
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    log.info("creating %s with pyraptor 1.3.10", VENV)
    subprocess.run(
        [sys.executable.replace(".venv/bin/python", "") or "python3", "-m", "venv", str(VENV)],
        check=False,
    )
    if not python.exists():
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "pyraptor==1.3.10",
            "numpy<2",
            "attrs",
            "loguru",
        ],
        check=True,
    )
    return python


def prepare_pyraptor_feed(zip_path: Path, folder: Path) -> None:
    """Copy the feed into a folder with the columns pyraptor's reader insists on."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    trips = pd.read_csv(folder / "trips.txt", dtype=str, keep_default_na=False)
    trips["trip_short_name"] = ""
    trips["trip_long_name"] = ""
    trips.to_csv(folder / "trips.txt", index=False)
    stops = pd.read_csv(folder / "stops.txt", dtype=str, keep_default_na=False)
    stops["stop_code"] = stops["stop_id"]
    stops["platform_code"] = ""
    orphan = (stops["parent_station"] == "") & (stops["location_type"] != "1")
    # a stop without a parent is dropped by pyraptor: give it a (nonexistent) parent
    stops.loc[orphan, "parent_station"] = "P_" + stops.loc[orphan, "stop_id"]
    stops.to_csv(folder / "stops.txt", index=False)


def run_pyraptor(zip_path: Path, queries: list, work: Path) -> tuple[list, float]:
    """Build pyraptor's timetable and time its queries; return ([(seconds, arrival)], build s)."""
    python = ensure_pyraptor_venv()
    feed, out = work / "pyraptor-feed", work / "pyraptor-timetable"
    prepare_pyraptor_feed(zip_path, feed)
    t0 = time.perf_counter()
    subprocess.run(
        [
            str(python),
            "-m",
            "pyraptor.gtfs.timetable",
            "-i",
            str(feed),
            "-o",
            str(out),
            "-d",
            DATE.replace("-", ""),
            "-a",
            *AGENCIES,
        ],
        check=True,
        capture_output=True,
        cwd=work,
    )
    build_s = time.perf_counter() - t0
    qfile = work / "queries.json"
    qfile.write_text(json.dumps(queries))
    driver = work / "driver.py"
    driver.write_text(DRIVER)
    result = subprocess.run(
        [str(python), str(driver), str(out), str(qfile), str(ROUNDS)],
        check=True,
        capture_output=True,
        text=True,
        cwd=work,
    )
    return json.loads(result.stdout), build_s


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and write ``bench-results/transit.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--baseline-queries",
        type=int,
        default=40,
        help="how many of the queries pyraptor answers (about 2 s each)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip pyraptor")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from routing.transit.door_to_door import load_transit_network, plan_transit
    from routing.transit.gtfs import read_gtfs
    from routing.transit.raptor import Footpaths, run_raptor, timetable_args
    from routing.transit.timetable import build_timetable

    region = load_region("heidelberg")
    data_dir = args.data_dir or Path(
        os.environ.get("ELSTER_MIRROR") or PROJECT_ROOT.parent / "shared" / "data"
    )
    cache_dir = args.cache_dir or PROJECT_ROOT / "data" / "cache"
    zip_path = region.source_file("gtfs", data_dir)

    # ---- timetable build from the zip (no cache)
    builds = []
    for _ in range(3):
        t0 = time.perf_counter()
        tt = build_timetable(read_gtfs(zip_path), DATE, region.timezone)
        builds.append(time.perf_counter() - t0)

    # ---- station-to-station queries, same semantics as pyraptor
    names = tt.stop_names
    by_name: dict[str, np.ndarray] = {}
    for s, name in enumerate(names.tolist()):
        if tt.stop_route_first[s + 1] > tt.stop_route_first[s]:
            by_name.setdefault(name, []).append(s)
    by_name = {k: np.asarray(v, np.int64) for k, v in by_name.items()}
    pairs_a, pairs_b = [], []
    for stops in by_name.values():
        for a in stops:
            for b in stops:
                if a != b:
                    pairs_a.append(a)
                    pairs_b.append(b)
    fp = Footpaths.from_pairs(
        tt.n_stops,
        np.array(pairs_a, np.int64),
        np.array(pairs_b, np.int64),
        np.full(len(pairs_a), PYRAPTOR_TRANSFER_S),
    )
    rng = np.random.default_rng(2022)
    station_names = sorted(by_name)
    queries = []
    while len(queries) < args.queries:
        o, d = rng.choice(len(station_names), 2, replace=False)
        queries.append([station_names[o], station_names[d], int(rng.integers(6 * 3600, 20 * 3600))])
    kargs = timetable_args(tt, fp)
    zero = np.zeros(8, np.int64)

    def elster_query(o: str, d: str, t: int) -> int | None:
        src, dst = by_name[o], by_name[d]
        info, _ = run_raptor(
            tt,
            fp,
            src,
            zero[: src.size],
            dst,
            zero[: dst.size],
            t,
            max_transfers=ROUNDS - 1,
            args=kargs,
        )
        return int(info[:, 3].min()) if len(info) else None

    for q in queries[:5]:
        elster_query(*q)  # JIT warm-up (numba cache)
    ours_s, ours_arr = [], []
    for _ in range(3):
        ours_s, ours_arr = [], []
        for q in queries:
            t0 = time.perf_counter()
            ours_arr.append(elster_query(*q))
            ours_s.append(time.perf_counter() - t0)
    ours = percentiles(ours_s)
    result: dict = {
        "feed": str(zip_path.name),
        "date": DATE,
        "timetable": {
            "stops": tt.n_stops,
            "routes": tt.n_routes,
            "trips": tt.n_trips,
            "stop_times": int(tt.arr.shape[0]),
        },
        "timetable_build": percentiles(builds),
        "earliest_arrival": {"elster": ours, "queries": len(queries), "rounds": ROUNDS},
    }
    summary = f"EA query p50 {ours['p50_ms']:.3f} ms"
    if not args.no_baseline:
        n_base = min(args.baseline_queries, len(queries))
        with tempfile.TemporaryDirectory(prefix="pyraptor-") as tmp:
            theirs_raw, their_build = run_pyraptor(zip_path, queries[:n_base], Path(tmp))
        theirs = percentiles([r[0] for r in theirs_raw])
        ours_same = percentiles(ours_s[:n_base])
        differ = [
            {"query": q, "elster": a, "pyraptor": b[1]}
            for q, a, b in zip(queries, ours_arr, theirs_raw, strict=False)
            if not (
                (a is None and b[1] is None)
                or (a is not None and b[1] is not None and a == int(b[1]))
            )
        ]
        agree = n_base - len(differ)
        ratio = theirs["p50_ms"] / ours_same["p50_ms"]
        result["earliest_arrival"].update(
            {
                "pyraptor": theirs,
                "elster_same_queries": ours_same,
                "pyraptor_timetable_build_s": their_build,
                "baseline_queries": n_base,
                "speedup_p50": ratio,
                "same_arrival": agree,
                "different_arrival": differ[:10],
            }
        )
        queries_note = len(queries)
        queries = queries[:n_base]
        summary += (
            f" vs pyraptor {theirs['p50_ms']:.1f} ms ({ratio:.0f}x faster, {agree}/{n_base} "
            f"same arrival; {queries_note} Elster queries)"
        )

    # ---- door-to-door plans between points near random served stops
    net = load_transit_network(region, DATE, data_dir=data_dir, cache_dir=cache_dir)
    served = np.flatnonzero(net.links.linked & (np.diff(net.timetable.stop_route_first) > 0))
    rng = np.random.default_rng(7)
    plans_s, n_found = [], 0
    cases = []
    while len(cases) < 100:
        a, b = rng.choice(served, 2, replace=False)
        jitter = rng.normal(0, 0.002, 4)
        cases.append(
            (
                (
                    float(net.timetable.stop_lat[a] + jitter[0]),
                    float(net.timetable.stop_lon[a] + jitter[1]),
                ),
                (
                    float(net.timetable.stop_lat[b] + jitter[2]),
                    float(net.timetable.stop_lon[b] + jitter[3]),
                ),
                f"{DATE}T{int(rng.integers(6, 20)):02d}:{int(rng.integers(0, 60)):02d}",
            )
        )
    from routing.errors import ElsterError

    for origin, destination, at in cases[:3]:
        with contextlib.suppress(ElsterError):
            plan_transit(net, origin, destination, at)
    for origin, destination, at in cases:
        t0 = time.perf_counter()
        try:
            its = plan_transit(net, origin, destination, at)
            n_found += any(any(leg.transit for leg in it.legs) for it in its)
        except ElsterError:
            pass
        plans_s.append(time.perf_counter() - t0)
    result["door_to_door"] = {**percentiles(plans_s), "with_transit": n_found}
    summary += (
        f"; door-to-door p50 {result['door_to_door']['p50_ms']:.2f} ms; "
        f"timetable build {result['timetable_build']['p50_ms'] / 1000:.2f} s"
    )
    path = write_result("transit", result)
    print(f"transit: {summary} -> {path}")
    return result


if __name__ == "__main__":
    main()
