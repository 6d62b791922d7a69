"""TEST-ONLY fake sweep backend: a cheap, deterministic stand-in for the fleet simulator.

It is injected into the sweep runners by the tests (``run_sweep(..., backend=...)``
or ``elster sweep --backend tests.support.sweep:fake_backend``). Its KPIs are
a smooth function of the run's parameters plus seeded noise, so fleet-size
curves look like real ones and the same parameters always give the same
numbers. It can record where its context was loaded (to check "once per worker
process"), kill its own worker process (``os._exit``) to test crash recovery,
or raise an ElsterError to test aborting.
"""

from __future__ import annotations

import hashlib
import math
import os
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from fleet.scenarios.runner import Backend
from fleet.scenarios.spec import RunSpec, Scenario
from routing.errors import DataError

FAKE_KPIS = ("served_share", "wait_mean_min", "wait_p90_min", "vehicle_km", "occupancy_mean")


def load_fake_context(
    scenario: Scenario,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    load_log: str | None = None,
) -> dict:
    """A fake "region": a seeded array; appends this pid to ``load_log`` when given."""
    if load_log:
        with open(load_log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
    seed = int(scenario.context_key()[:8], 16)
    return {"noise": np.random.default_rng(seed).random(64), "pid": os.getpid()}


def fake_run(
    run: RunSpec,
    context: dict,
    *,
    crash_dir: str | None = None,
    crash_ids: tuple[str, ...] = (),
    crash_always: bool = False,
    raise_ids: tuple[str, ...] = (),
) -> dict[str, float]:
    """Deterministic KPIs of a run; may crash its process or raise, on purpose."""
    if run.run_id in raise_ids:
        raise DataError(f"fake backend: run {run.run_id} has bad input on purpose")
    if run.run_id in crash_ids and crash_dir:
        marker = Path(crash_dir) / f"crashed-{run.run_id}"
        if crash_always or not marker.exists():
            marker.touch()
            os._exit(17)  # the worker process dies without cleanup, like a segfault
    p = run.params
    digest = int(hashlib.sha256(run.run_id.encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(digest)
    supply = p["n_vehicles"] * math.sqrt(p["capacity"]) * (1.0 + 0.02 * context["noise"][0])
    demand = (p["requests"] or 500) / 100.0
    load = demand / supply
    served = float(np.clip(1.0 - 0.6 * load**2 + rng.normal(0, 0.01), 0, 1))
    wait = float(3.0 + 14.0 * load + rng.normal(0, 0.3))
    return {
        "served_share": served,
        "wait_mean_min": wait,
        "wait_p90_min": wait * 1.8,
        "vehicle_km": float(p["n_vehicles"] * 40 * min(1.0, 0.4 + load)),
        "occupancy_mean": float(min(p["capacity"], 1.0 + 2.0 * load)),
    }


def fake_backend(
    *,
    load_log: str | None = None,
    crash_dir: str | None = None,
    crash_ids: tuple[str, ...] = (),
    crash_always: bool = False,
    raise_ids: tuple[str, ...] = (),
) -> Backend:
    """The fake backend with the given test behaviours (picklable: partials of functions)."""
    return Backend(
        name="fake",
        load_context=partial(load_fake_context, load_log=load_log),
        run=partial(
            fake_run,
            crash_dir=crash_dir,
            crash_ids=tuple(crash_ids),
            crash_always=crash_always,
            raise_ids=tuple(raise_ids),
        ),
        kpis=FAKE_KPIS,
    )


def fake_scenario_toml(**overrides: Any) -> str:
    """A small scenario (Heidelberg, bbox area, 2 fleet sizes x 2 capacities x 2 seeds)."""
    values = {
        "n_vehicles": "[5, 10]",
        "capacity": "[4, 8]",
        "seeds": "[1, 2]",
        "requests": "400",
    }
    values.update({k: str(v) for k, v in overrides.items()})
    return f"""
[scenario]
name = "fake-sweep"
region = "heidelberg"
description = "test scenario"

[area]
name = "Altstadt"
bbox = [8.67, 49.40, 8.72, 49.42]

[demand]
date = 2022-09-14
window = ["07:00", "10:00"]
requests = {values["requests"]}

[fleet]
n_vehicles = {values["n_vehicles"]}
capacity = {values["capacity"]}

[service]
max_wait_min = 15
alpha = 1.5
beta_min = 5

[sweep]
seeds = {values["seeds"]}

[targets]
wait_mean_min = {{ max = 10 }}
served_share = {{ min = 0.9 }}
"""
