"""Dask sweeps on clusters started on 127.0.0.1: same results as local, crashes retried."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fleet.scenarios.runner import run_dask
from fleet.scenarios.spec import Scenario, load_scenario
from fleet.scenarios.sweep import run_sweep
from routing.errors import DataError
from tests.support.sweep import FAKE_KPIS, fake_backend, fake_scenario_toml

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    path = tmp_path_factory.mktemp("scenario") / "fake.toml"
    path.write_text(fake_scenario_toml(), encoding="utf-8")
    return load_scenario(path)


@pytest.fixture(scope="module")
def local_kpis(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    outcome = run_sweep(
        scenario,
        workers=1,
        out_dir=tmp_path_factory.mktemp("local"),
        backend=fake_backend(),
        progress=False,
        report=False,
    )
    return _kpis(outcome.table.frame)


def _kpis(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("run_id")[list(FAKE_KPIS)].sort_index()


def test_threaded_dask_cluster_gives_the_local_results(
    scenario: Scenario, local_kpis: pd.DataFrame, tmp_path: Path
) -> None:
    log = tmp_path / "loads.txt"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        outcome = run_sweep(
            scenario,
            client=client,
            out_dir=tmp_path / "out",
            backend=fake_backend(load_log=str(log)),
            progress=False,
        )
    assert outcome.computed == 8 and not outcome.failed
    pd.testing.assert_frame_equal(_kpis(outcome.table.frame), local_kpis)
    assert len(log.read_text().split()) == 1  # both workers share this process's cache
    assert "**Answer:**" in outcome.report.summary.read_text()


def test_bad_input_on_dask_stops_the_sweep(scenario: Scenario, tmp_path: Path) -> None:
    bad = scenario.runs()[0].run_id
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        pytest.raises(DataError, match=f"run {bad} has bad input"),
    ):
        run_sweep(
            scenario,
            client=client,
            out_dir=tmp_path,
            backend=fake_backend(raise_ids=(bad,)),
            max_attempts=1,
            progress=False,
            report=False,
        )


def test_worker_processes_via_scheduler_address_retry_a_crashed_run(
    scenario: Scenario, local_kpis: pd.DataFrame, tmp_path: Path
) -> None:
    log = tmp_path / "loads.txt"
    victim = scenario.runs()[3].run_id
    backend = fake_backend(load_log=str(log), crash_dir=str(tmp_path), crash_ids=(victim,))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        outcome = run_sweep(
            scenario,
            scheduler=cluster.scheduler_address,
            out_dir=tmp_path / "out",
            backend=backend,
            progress=False,
            report=False,
        )
    assert (tmp_path / f"crashed-{victim}").exists()  # its worker process did die
    assert outcome.computed == 8 and not outcome.failed
    pd.testing.assert_frame_equal(_kpis(outcome.table.frame), local_kpis)
    # The region was loaded once per worker process (two, plus the restarted one),
    # not once per run.
    pids = log.read_text().split()
    assert 2 <= len(pids) <= 3 and len(set(pids)) == len(pids)


def test_unreachable_scheduler_is_a_clear_error(scenario: Scenario) -> None:
    with pytest.raises(DataError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        run_dask(
            scenario.runs(),
            backend=fake_backend(),
            scenario=scenario,
            on_result=lambda r: None,
            scheduler="tcp://127.0.0.1:9",
            connect_timeout="1s",
            progress=False,
        )
