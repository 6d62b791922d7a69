"""Live operations benchmark: a shuttle day that differs from the model, beside an exact day.

The same seeded requests (Heidelberg demand model, booked 20-90 min ahead)
are driven twice through the HTTP API by :mod:`benchmarks.vehicle_sim`, each
day on its own server (live operation, file clock, fresh SQLite database):

* **realistic** -- leg times are the model's times a lognormal factor
  (sigma 0.2), a few legs meet a 10-minute incident, 5 % of the passengers do
  not show up and one vehicle breaks down at mid-day with passengers on board;
* **exact** -- vehicles drive the model's times, everyone shows up, nothing breaks.

Reported per day: promises kept % (pickup at or before the end of the promised
window, passengers who showed up), passengers stranded (booked and never
brought to a final status, or picked up and never dropped off: must be 0),
ETA error at pickup (|actual pickup - the ETA the passenger read when the
vehicle set off to them|, p50 and p95), re-plans, the server's KPIs
(``GET /fleet/kpis``), booking statuses and wall time; and the ratio of
promises kept, realistic to exact.

Run: ``flock /tmp/elster-heavy.lock .venv/bin/python -m benchmarks.fleet_live [--quick]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from datetime import time as dtime
from pathlib import Path
from typing import Any

import httpx

from api.clock import write_clock
from benchmarks.common import write_result
from benchmarks.support.server import free_port, server_env, start_api
from benchmarks.vehicle_sim import SimConfig, Trip, VehicleSimulator, day_config

#: The operator key of the benchmark's servers.
OPERATOR_KEY = "fleet-live-operator-key"
#: Stranded passengers allowed (the issue: none).
TARGET_STRANDED = 0


def serve_day(
    trips: list[Trip],
    config: SimConfig,
    *,
    workdir: Path,
    data_dir: Path,
    cache_dir: Path,
    server_vehicles: int | None = None,
) -> dict[str, Any]:
    """Start a live-operation server on a fresh database, drive the day, stop the server.

    Parameters
    ----------
    trips : list of Trip
    config : SimConfig
    workdir : Path
        Empty directory for the database, clock file, live state and server log.
    data_dir, cache_dir : Path
        The Heidelberg sources and the build cache (the shuttle graph).
    server_vehicles : int, optional
        The server's fleet size (default ``config.vehicles``).

    Returns
    -------
    dict
        :meth:`VehicleSimulator.summary`, plus ``server_start_s`` and ``server_log``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    clock = workdir / "clock"
    write_clock(clock, config.shift_start)
    env = server_env(
        data_dir=data_dir, cache_dir=cache_dir,
        database_url=f"sqlite:///{workdir / 'bookings.db'}", profiles="shuttle",
        api_keys=OPERATOR_KEY, live_path=workdir / "live.json",
        shuttle_vehicles=server_vehicles or config.vehicles, shuttle_seats=config.seats,
        reoptimise_s=0,  # the background re-optimisation runs on wall time: not reproducible
        ELSTER_SHUTTLE_OPERATION="live", ELSTER_CLOCK_FILE=str(clock),
        ELSTER_SHUTTLE_NO_SHOW_WAIT_S=str(config.no_show_wait_s),
        ELSTER_RATE_LIMIT_BOOKINGS="0", ELSTER_RATE_LIMIT_EXPENSIVE="0",
    )  # fmt: skip
    port = free_port()
    log = workdir / "server.log"
    t = time.perf_counter()
    proc = start_api(port, env, log, workers=1)
    started = time.perf_counter() - t
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            result = VehicleSimulator(client, clock, OPERATOR_KEY, trips, config).run()
    finally:
        _stop(proc)
    result["server_start_s"] = started
    result["server_log"] = str(log)
    return result


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers (it runs in its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def compare(exact: dict[str, Any], real: dict[str, Any]) -> dict[str, Any]:
    """Realistic against exact: the ratios the README reports."""
    e, r = exact["promises_kept_share"], real["promises_kept_share"]
    return {
        "promises_kept_realistic_to_exact": r / e if e else None,
        "stranded_ok": real["stranded"] <= TARGET_STRANDED and exact["stranded"] <= TARGET_STRANDED,
    }


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    """A day's result without the per-booking lists (kept in the JSON under ``days``)."""
    return {k: v for k, v in r.items() if k not in ("events", "final", "rides")}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both days and write ``bench-results/fleet_live.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--vehicles", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--date", default="2026-12-08", help="the simulated service day")
    ap.add_argument("--start", default="07:00", help="first bookable pickup (local)")
    ap.add_argument("--end", default="19:00", help="last bookable pickup (local)")
    ap.add_argument("--quick", action="store_true", help="60 requests over 4 h, 4 vehicles")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.vehicles, args.start, args.end = 60, 4, "09:00", "13:00"
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("benchmarks.vehicle_sim").setLevel(logging.INFO)
    # a `timeout` or a kill ends the run through the finally blocks that stop the servers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    day = date.fromisoformat(args.date)
    start, end = dtime.fromisoformat(args.start), dtime.fromisoformat(args.end)
    if end <= start:
        ap.error(f"--end {args.end} is not after --start {args.start}; give a later --end")

    from benchmarks.common import region_data_dir
    from benchmarks.vehicle_sim import demand_trips
    from routing.regions import default_cache_dir, load_region

    region = load_region("heidelberg")
    data_dir, cache_dir = region_data_dir(region), default_cache_dir()
    t = time.perf_counter()
    trips = demand_trips(n=args.requests, day=day, start=start, end=end, seed=args.seed,
                         data_dir=data_dir, cache_dir=cache_dir)  # fmt: skip
    demand_s = time.perf_counter() - t
    exact_trips = [replace(trip, no_show=False) for trip in trips]
    real_cfg = day_config(day=day, start=start, end=end, vehicles=args.vehicles,
                          seed=args.seed, exact=False)  # fmt: skip
    exact_cfg = replace(real_cfg, exact=True, breakdown_at=None)
    tmp = Path(tempfile.mkdtemp(prefix="elster-fleet-live-"))
    days = {
        "exact": serve_day(exact_trips, exact_cfg, workdir=tmp / "exact", data_dir=data_dir,
                           cache_dir=cache_dir),
        "realistic": serve_day(trips, real_cfg, workdir=tmp / "realistic", data_dir=data_dir,
                               cache_dir=cache_dir),
    }  # fmt: skip
    ex, re = days["exact"], days["realistic"]
    result = {
        "region": "heidelberg",
        "date": args.date,
        "window": [args.start, args.end],
        "requests": args.requests,
        "vehicles": args.vehicles,
        "seed": args.seed,
        "demand_s": demand_s,
        "what": "seeded Heidelberg demand-model requests booked 20-90 min ahead; realistic: "
        "leg time = model x lognormal(sigma 0.2), 4 incidents of +10 min, 5 % no-shows, one "
        "breakdown at mid-day; exact: the model's times, no no-shows, no breakdown",
        "exact": _brief(ex),
        "realistic": _brief(re),
        "comparison": compare(ex, re),
        "days": {
            name: {"final": d["final"], "events": d["events"], "rides": d["rides"]}
            for name, d in days.items()
        },
        "targets": {"stranded": TARGET_STRANDED},
    }
    path = write_result("fleet_live", result)
    ratio = result["comparison"]["promises_kept_realistic_to_exact"]
    print(
        f"fleet_live: {args.requests} requests, {args.vehicles} vehicles, "
        f"{args.start}-{args.end}: promises kept {re['promises_kept_share']:.1%} realistic vs "
        f"{ex['promises_kept_share']:.1%} exact ({ratio:.2f}x); stranded {re['stranded']}/"
        f"{ex['stranded']}; ETA error p50/p95 {re['eta_error_p50_s']:.0f}/"
        f"{re['eta_error_p95_s']:.0f} s vs {ex['eta_error_p50_s']:.0f}/"
        f"{ex['eta_error_p95_s']:.0f} s; re-plans {re['replans']:.0f} vs {ex['replans']:.0f}; "
        f"booked {re['booked']} vs {ex['booked']}; wall {re['wall_s']:.0f} s + "
        f"{ex['wall_s']:.0f} s -> {path}"
    )
    return result


if __name__ == "__main__":
    main()
