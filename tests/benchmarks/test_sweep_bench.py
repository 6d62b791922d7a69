"""``make bench`` aggregation (benchmarks/run_all.py): running programs, reading JSON, the table."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run_all
from benchmarks.run_all import BENCHES, Bench, Row, read_results, run_program

# Minimal JSON in the layout each program writes (only the fields the table uses).
SAMPLES: dict[str, dict[str, Any]] = {
    "road": {
        "car_point_to_point": {
            "ch": {"p50_ms": 0.01},
            "networkx_dijkstra": {"p50_ms": 15.0},
            "scipy_dijkstra": {"p50_ms": 1.5},
            "ours_bidijkstra": {"p50_ms": 0.6},
        },
        "car_matrix": {"size": [500, 500], "best_s": 0.02, "target_s": 2.0},
        "build": {"total_s": 9.0, "target_s": 60.0},
    },
    "transit": {
        "earliest_arrival": {
            "elster_same_queries": {"p50_ms": 0.1},
            "pyraptor": {"p50_ms": 1500.0},
            "same_arrival": 9,
            "baseline_queries": 10,
            "pyraptor_timetable_build_s": 7.0,
        },
        "timetable_build": {"p50_ms": 1000.0},
        "door_to_door": {"p50_ms": 3.0},
    },
    "plan": {
        "fast_on_baseline_pairs": {"p50_ms": 20.0, "p95_ms": 60.0},
        "baseline": {"p50_ms": 200.0, "p95_ms": 400.0, "n": 20},
        "plans_differing_from_baseline": 0,
    },
    "demand": {
        "cases": [
            {
                "region": "heidelberg",
                "requests": 10000,
                "vectorised_per_request_ms": 0.005,
                "baseline_per_request_ms": 1.0,
                "pipeline": {"p50_ms": 1200.0},
                "baseline_extrapolated_pipeline_s": 12.0,
            }
        ]
    },
    "darp": {
        "time_limit_s": 2.0,
        "summary": {
            "lilim": {
                "ours": {"instances": 1, "feasible": 1, "mean_gap_percent_over_feasible": 0.5},
                "ortools": {"instances": 1, "feasible": 1, "mean_gap_percent_over_feasible": 2.0},
            }
        },
        "rows": [
            {
                "instance": "lc101",
                "family": "lilim",
                "solver": "ours",
                "feasible": True,
                "cost": 100.0,
            },
            {
                "instance": "lc101",
                "family": "lilim",
                "solver": "ortools",
                "feasible": True,
                "cost": 110.0,
            },
        ],
    },
    "api_load": {
        "clients": 20,
        "baseline_in_process_plan": {"p50_ms": 10.0},
        "runs": [
            {
                "workers": 1,
                "plan": {"p50_ms": 40.0, "throughput_rps": 50.0, "errors": 0},
                "booking": {"p95_ms": 30.0, "errors": 0},
            }
        ],
    },
    "closures": {
        "apply_closure_and_weights": {"p50_ms": 0.1},
        "busy_edges_closed": {
            "route_ch_with_fallback": {"p50_ms": 2.0},
            "route_dijkstra_baseline": {"p50_ms": 4.0},
            "mismatches_vs_dijkstra": 0,
            "matrix": {"size": 50, "live_ms": 100.0, "dijkstra_rows_ms": 300.0},
        },
    },
    "fleet_live": {
        "realistic": {"promises_kept_share": 0.8, "eta_error_p95_s": 300.0, "stranded": 0},
        "exact": {"promises_kept_share": 0.9, "eta_error_p95_s": 30.0, "stranded": 0},
    },
    "fleet_online": {
        "requests": 2000,
        "vehicles": 10,
        "targets": {"decision_p95_ms": 50},
        "ours": {
            "kpis": {
                "served_share": 0.8,
                "vehicle_km_per_served": 2.0,
                "occupancy": 2.0,
                "wait_mean_s": 300.0,
            },
            "timing": {"wall_s": 6.0, "decision_p95_ms": 4.0},
            "audit": {"ok": True},
        },
        "baseline": {
            "policy": "no-pooling",
            "kpis": {
                "served_share": 0.6,
                "vehicle_km_per_served": 3.0,
                "occupancy": 1.0,
                "wait_mean_s": 360.0,
            },
            "timing": {"wall_s": 2.0},
        },
    },
    "sweep": {
        "runs": 4,
        "workers": 2,
        "ours_s": 10.0,
        "naive_serial_s": 25.0,
        "runs_with_different_kpis": 0,
    },
}


def test_every_program_in_benchmarks_is_covered() -> None:
    names = [b.name for b in run_all.discover()]
    for expected in ("road", "transit", "plan", "demand", "darp", "api_load"):
        assert expected in names
    assert "common" not in names and "run_all" not in names and "vehicle_sim" not in names
    assert set(SAMPLES) == set(BENCHES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_rows_pair_ours_with_the_baseline_of_the_same_run(name: str, tmp_path: Path) -> None:
    (tmp_path / f"{name}.json").write_text(json.dumps(SAMPLES[name]))
    outcome = read_results(BENCHES[name], tmp_path)
    assert outcome.status == "ok", outcome.detail
    paired = [r for r in outcome.rows if r.baseline is not None]
    assert paired, "every benchmark has at least one figure with its baseline"
    for row in paired:
        assert row.ours is not None and row.ratio is not None and row.baseline_name


def test_ratio_is_oriented_so_that_above_one_is_better() -> None:
    assert Row("x", "time", 2.0, 10.0).ratio == 5.0
    assert Row("x", "count", 8.0, 4.0, better="higher").ratio == 2.0
    assert Row("x", "time", 2.0, None).ratio is None
    assert Row("x", "given", None, None, ratio_given=3.0).ratio == 3.0
    rows = {r.metric: r for r in run_all.darp_rows("darp", SAMPLES["darp"])}
    assert rows["lilim: total cost where both feasible (1)"].ratio == pytest.approx(1.1)


def test_summary_table_has_every_row_and_failures(tmp_path: Path) -> None:
    for name, data in SAMPLES.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    outcomes = [read_results(BENCHES[n], tmp_path) for n in SAMPLES]
    outcomes.append(run_all.Outcome("broken", "failed", 3.0, "exit 1: boom"))
    path = run_all.write_summary(outcomes, tmp_path)
    text = path.read_text()
    assert "| benchmark | figure | ours | baseline | baseline is | unit | ratio | note |" in text
    assert (
        "| plan | multimodal plan p50 (20 pairs) | 20 | 200 | naive per-mode Dijkstra | ms "
        "| 10.00× |" in text
    )
    assert "| broken | **failed** |" in text and "exit 1: boom" in text
    summary = json.loads((tmp_path / "SUMMARY.json").read_text())
    assert [b["name"] for b in summary["benchmarks"]][-1] == "broken"
    assert "git_sha" in summary["machine"]


def test_main_without_running_reports_missing_results(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(SAMPLES["plan"]))
    code = run_all.main(["--no-run", "--only", "plan,road", "--results-dir", str(tmp_path)])
    assert code == 1  # road.json is missing
    text = (tmp_path / "SUMMARY.md").read_text()
    assert "| road | **no results** |" in text and "did not write road.json" in text
    assert "multimodal plan p50" in text
    with pytest.raises(SystemExit):
        run_all.main(["--no-run", "--only", "nosuch", "--results-dir", str(tmp_path)])


def test_a_program_runs_in_its_own_process_and_its_json_is_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "fake_bench_ok.py").write_text(
        textwrap.dedent("""
        import json, os, sys
        from pathlib import Path
        n = int(sys.argv[sys.argv.index("--n") + 1])
        out = Path(os.environ["ELSTER_BENCH_DIR"]) / "fake_bench_ok.json"
        out.write_text(json.dumps({"n": n, "speedup_p50": 4.0 * n, "machine": {},
                                   "ratios": {"served": 1.5, "note": "x"}}))
        print(f"fake: {n}")
    """)
    )
    (tmp_path / "mods" / "fake_bench_bad.py").write_text("raise SystemExit('no data here')\n")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path / 'mods'}:{Path(sys.path[0])}")
    results = tmp_path / "results"
    results.mkdir()
    ok = run_program(
        Bench("fake_bench_ok", ("--n", "3"), module="fake_bench_ok"), results_dir=results
    )
    assert ok.status == "ok" and ok.seconds > 0
    assert [(r.metric, r.ratio) for r in ok.rows] == [("speedup_p50", 12.0), ("ratios.served", 1.5)]
    bad = run_program(Bench("fake_bench_bad", module="fake_bench_bad"), results_dir=results)
    assert bad.status == "failed" and "no data here" in bad.detail
