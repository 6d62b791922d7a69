"""Local sweeps (process pool) with the test-only fake backend: table, report, resume, crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fleet.scenarios.report import smallest_fleets
from fleet.scenarios.results import RunResult, build_table
from fleet.scenarios.spec import PARAMETERS, Scenario, load_scenario
from fleet.scenarios.sweep import run_sweep
from routing.errors import DataError
from tests.support.sweep import FAKE_KPIS, fake_backend, fake_scenario_toml


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    path = tmp_path_factory.mktemp("scenario") / "fake.toml"
    path.write_text(fake_scenario_toml(), encoding="utf-8")
    return load_scenario(path)


@pytest.fixture(scope="module")
def clean(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory):
    """A sweep with 2 worker processes and no failures (the reference results)."""
    root = tmp_path_factory.mktemp("clean")
    log = root / "loads.txt"
    outcome = run_sweep(
        scenario,
        workers=2,
        out_dir=root / "out",
        backend=fake_backend(load_log=str(log)),
        progress=False,
    )
    return outcome, log


def _kpis(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("run_id")[list(FAKE_KPIS)].sort_index()


def test_local_sweep_writes_the_tidy_table_and_report(clean, scenario: Scenario) -> None:
    outcome, log = clean
    runs = scenario.runs()
    assert outcome.computed == len(runs) == 8 and outcome.skipped == 0 and not outcome.failed
    frame = outcome.table.frame
    assert list(frame["run_id"]) == [r.run_id for r in runs]
    for column in ["region", "area", "date", "window", *PARAMETERS, "seed", *FAKE_KPIS]:
        assert column in frame.columns, column
    assert frame["n_vehicles"].tolist() == [r.params["n_vehicles"] for r in runs]
    # CSV and Parquet hold the same table.
    csv = pd.read_csv(outcome.csv)
    parquet = pd.read_parquet(outcome.parquet)
    assert list(csv.columns) == list(parquet.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(_kpis(csv), _kpis(frame))
    pd.testing.assert_frame_equal(_kpis(parquet), _kpis(frame))
    # The region context was loaded once per worker process, not once per run.
    pids = log.read_text().split()
    assert 1 <= len(pids) <= 2 and len(set(pids)) == len(pids)
    assert set(frame["worker"].str.split(":").str[1]) <= set(pids)
    # Report: plots and a summary that names the smallest fleet per capacity.
    files = outcome.report
    assert files is not None and files.overview is not None
    assert files.overview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.stem for p in files.plots} >= {"served_share", "wait_mean_min"}
    text = files.summary.read_text()
    assert "Smallest fleet meeting the targets" in text and "**Answer:**" in text
    assert "| capacity | fleet | seeds |" in text
    assert json.loads((outcome.out_dir / "scenario.json").read_text())["swept"] == [
        "n_vehicles",
        "capacity",
    ]


def test_smallest_fleet_is_judged_on_the_seed_mean(clean, scenario: Scenario) -> None:
    outcome, _ = clean
    frame = outcome.table.frame
    answers = {a.series["capacity"]: a for a in smallest_fleets(scenario, outcome.table)}
    assert set(answers) == {4, 8}
    for capacity, answer in answers.items():
        sub = frame[frame["capacity"] == capacity].groupby("n_vehicles")[list(FAKE_KPIS)].mean()
        meets = [
            n
            for n, row in sub.iterrows()
            if row["wait_mean_min"] <= 10 and row["served_share"] >= 0.9
        ]
        assert answer.n_vehicles == (min(meets) if meets else None)


def test_no_fleet_meeting_the_targets_is_said_plainly(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(fake_scenario_toml().replace("min = 0.9", "min = 0.999"))
    scenario = load_scenario(path)
    finished = {}
    for run in scenario.runs():
        finished[run.run_id] = RunResult(
            run.run_id, run.params, {"served_share": 0.95, "wait_mean_min": 5.0}
        )
    table = build_table(scenario.runs(), finished)
    answers = smallest_fleets(scenario, table)
    assert [a.n_vehicles for a in answers] == [None, None]
    from fleet.scenarios.report import summary_markdown

    assert "no tested fleet meets every target" in summary_markdown(scenario, table, failed={})


def test_second_invocation_skips_finished_runs(clean, scenario: Scenario, tmp_path: Path) -> None:
    outcome, _ = clean
    out = tmp_path / "out"
    out.mkdir()
    # Start from the clean journal minus three runs, with a torn last line.
    lines = (outcome.out_dir / "runs.jsonl").read_text().splitlines()
    (out / "runs.jsonl").write_text("\n".join(lines[:5]) + "\n" + lines[5][:40])
    again = run_sweep(
        scenario, workers=2, out_dir=out, backend=fake_backend(), progress=False, report=False
    )
    assert (again.computed, again.skipped) == (3, 5)
    pd.testing.assert_frame_equal(_kpis(again.table.frame), _kpis(outcome.table.frame))
    third = run_sweep(scenario, workers=2, out_dir=out, backend=fake_backend(), progress=False)
    assert (third.computed, third.skipped) == (0, 8)
    assert "0 computed now, 8 from earlier invocations" in third.report.summary.read_text()
    # A bigger sweep over the same output directory computes only the new runs.
    bigger_path = tmp_path / "bigger.toml"
    bigger_path.write_text(fake_scenario_toml(n_vehicles="[5, 10, 15]"))
    bigger = run_sweep(
        load_scenario(bigger_path),
        workers=1,
        out_dir=out,
        backend=fake_backend(),
        progress=False,
        report=False,
    )
    assert (bigger.computed, bigger.skipped) == (4, 8)
    fresh = run_sweep(
        scenario,
        workers=1,
        out_dir=out,
        backend=fake_backend(),
        fresh=True,
        progress=False,
        report=False,
    )
    assert (fresh.computed, fresh.skipped) == (8, 0)


def test_a_run_that_kills_its_worker_is_retried(clean, scenario: Scenario, tmp_path: Path) -> None:
    outcome, _ = clean
    ids = [r.run_id for r in scenario.runs()]
    backend = fake_backend(crash_dir=str(tmp_path), crash_ids=(ids[1], ids[6]))
    crashed = run_sweep(
        scenario, workers=2, out_dir=tmp_path / "out", backend=backend, progress=False, report=False
    )
    assert (tmp_path / f"crashed-{ids[1]}").exists() and (tmp_path / f"crashed-{ids[6]}").exists()
    assert crashed.computed == 8 and not crashed.failed
    pd.testing.assert_frame_equal(_kpis(crashed.table.frame), _kpis(outcome.table.frame))


def test_a_run_that_always_crashes_fails_alone_and_is_retried_next_time(
    scenario: Scenario, tmp_path: Path
) -> None:
    bad = scenario.runs()[2].run_id
    backend = fake_backend(crash_dir=str(tmp_path), crash_ids=(bad,), crash_always=True)
    first = run_sweep(
        scenario,
        workers=2,
        out_dir=tmp_path / "out",
        backend=backend,
        max_attempts=2,
        progress=False,
    )
    assert list(first.failed) == [bad] and "died 2 times" in first.failed[bad]
    assert first.computed == 7 and bad not in set(first.table.frame["run_id"])
    assert "## Failed runs" in first.report.summary.read_text()
    second = run_sweep(
        scenario,
        workers=1,
        out_dir=tmp_path / "out",
        backend=fake_backend(),
        progress=False,
        report=False,
    )
    assert (second.computed, second.skipped, second.failed) == (1, 7, {})


def test_bad_input_in_a_run_stops_the_sweep_and_keeps_finished_runs(
    scenario: Scenario, tmp_path: Path
) -> None:
    bad = scenario.runs()[3].run_id
    with pytest.raises(DataError, match=f"run {bad} has bad input"):
        run_sweep(
            scenario,
            workers=1,
            out_dir=tmp_path,
            backend=fake_backend(raise_ids=(bad,)),
            progress=False,
            report=False,
        )
    kept = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert len(kept) == 3  # the runs before it, in order, with one worker


def test_targets_must_name_reported_kpis(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(fake_scenario_toml().replace("served_share = {", "served_shares = {"))
    with pytest.raises(DataError, match=r"\[targets\] served_shares: no such KPI"):
        run_sweep(path, out_dir=tmp_path / "out", backend=fake_backend(), progress=False)
    assert not (tmp_path / "out").exists()
