"""The real sweep path on Heidelberg: demand model + road travel + event-driven simulator.

A small scenario (a 1.5 km zone, one morning hour, 40 requests, fleets of 2 and 4)
runs end to end through the default backend, locally and on a threaded Dask
cluster, and must give the same KPIs both ways.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fleet.scenarios.runner import WorkerOptions, worker_context
from fleet.scenarios.simulate import (
    KPIS,
    load_simulation_context,
    simulate_run,
    simulation_backend,
    simulation_config,
)
from fleet.scenarios.spec import Scenario, load_scenario
from fleet.scenarios.sweep import run_sweep
from routing.errors import DataError

SMALL = """
[scenario]
name = "hd-small"
region = "heidelberg"

[area]
name = "Bergheim/Weststadt"
bbox = [8.670, 49.398, 8.692, 49.412]

[demand]
date = 2022-09-14
window = ["08:00", "09:00"]
requests = 40
travel_times = "road"

[demand_model.gravity]
calibrate = false

[fleet]
n_vehicles = [2, 4]
capacity = 4

[service]
max_wait_min = 15
alpha = 1.5
beta_min = 5

[dispatcher]
reoptimise_every_s = 120

[sweep]
seeds = [3]

[targets]
wait_mean_min = { max = 10 }
served_share = { min = 0.9 }
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    path = tmp_path_factory.mktemp("scenario") / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return load_scenario(path)


@pytest.fixture(scope="module")
def local(
    small: Scenario, hd_data_dir: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
):
    return run_sweep(
        small,
        workers=1,
        out_dir=tmp_path_factory.mktemp("local"),
        data_dir=hd_data_dir,
        cache_dir=cache_dir,
        progress=False,
    )


def test_real_sweep_end_to_end(local, small: Scenario) -> None:
    assert local.computed == 2 and not local.failed
    frame = local.table.frame
    assert list(frame["n_vehicles"]) == [2, 4]
    for kpi in (
        "served_share",
        "wait_mean_min",
        "wait_mean_s",
        "ride_mean_min",
        "occupancy",
        "vehicle_km",
        "empty_km_share",
        "rejected",
        "shared_ride_share",
        "vehicle_hours",
        "detour_mean_s",
        "wait_p90_min",
    ):
        assert kpi in frame.columns, kpi
    assert set(frame.columns) >= set(KPIS) - {
        "charging_sessions",
        "charging_hours",
        "energy_charged_kwh",
    }
    simulated = frame["requests_simulated"]
    assert (simulated > 0).all() and (simulated == simulated[0]).all()  # same seed, same stream
    assert (frame["requests"] == 40).all()  # the parameter: expected requests
    assert ((frame["served"] + frame["rejected"]) <= simulated).all()
    assert list(frame["wait_mean_min"] * 60) == pytest.approx(list(frame["wait_mean_s"]))
    # More vehicles serve at least as many of the same requests (same seed).
    assert frame["served_share"].iloc[1] >= frame["served_share"].iloc[0]
    assert (frame["wait_mean_min"].dropna() <= 15 + 5).all()  # max wait + pickup tolerance
    assert "Smallest fleet meeting the targets" in local.report.summary.read_text()


def test_dask_gives_the_same_kpis_as_local(
    local, small: Scenario, hd_data_dir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = run_sweep(
            small,
            client=client,
            out_dir=tmp_path,
            data_dir=hd_data_dir,
            cache_dir=cache_dir,
            progress=False,
            report=False,
        )
    kpis = list(local.table.kpi_columns)
    pd.testing.assert_frame_equal(
        on_dask.table.frame.set_index("run_id")[kpis], local.table.frame.set_index("run_id")[kpis]
    )


def test_runs_are_deterministic_and_configured_from_the_scenario(
    small: Scenario, hd_data_dir: Path, cache_dir: Path
) -> None:
    # The context this process already loaded (threaded Dask workers run here), if any.
    options = WorkerOptions(data_dir=hd_data_dir, cache_dir=cache_dir)
    context = worker_context(simulation_backend(), small, options)
    run = small.runs()[0]
    config = simulation_config(run)
    assert (config.n_vehicles, config.capacity, config.max_wait_s, config.beta) == (
        2,
        4,
        900.0,
        300.0,
    )
    assert config.seed == 3 and config.reoptimise_every_s == 120.0 and config.rebalancing
    assert not config.honour_latest_arrival
    first = simulate_run(run, context)
    assert simulate_run(run, context) == first
    inside = context.model.area.contains(
        context.requests(day=small.day, window=small.window, n_requests=40, seed=3)[
            "origin_lat"
        ].to_numpy(),
        context.requests(day=small.day, window=small.window, n_requests=40, seed=3)[
            "origin_lon"
        ].to_numpy(),
    )
    assert inside.all()  # the scenario's own area, not the whole region
    assert simulation_backend().kpis[0] == "served_share"


def test_impossible_demand_calibration_names_the_setting(
    tmp_path: Path, hd_data_dir: Path, cache_dir: Path
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SMALL.replace("calibrate = false", "target_mean_minutes = 30.0"))
    with pytest.raises(DataError, match=r"target_mean_minutes.*\[demand_model\]"):
        load_simulation_context(load_scenario(path), data_dir=hd_data_dir, cache_dir=cache_dir)


def test_the_shipped_default_scenario_loads_and_its_demand_calibrates(
    hd_data_dir: Path, cache_dir: Path
) -> None:
    # `elster sweep scenarios/heidelberg.toml` must start: its gravity target has to be
    # reachable on today's road times (it broke once when the times became realistic).
    from routing.regions import PROJECT_ROOT

    scenario = load_scenario(PROJECT_ROOT / "scenarios" / "heidelberg.toml")
    context = load_simulation_context(scenario, data_dir=hd_data_dir, cache_dir=cache_dir)
    assert context is not None
