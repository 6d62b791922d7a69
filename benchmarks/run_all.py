"""Run every benchmark program and write one combined table (``make bench``).

Each program in ``benchmarks/`` runs in its own process with fixed seeds and
quick options (``--full`` uses each program's own defaults), writes
``bench-results/<name>.json`` itself, and is read back here. The combined
table ``bench-results/SUMMARY.md`` (and ``SUMMARY.json``) has one row per
headline figure: ours, the baseline measured in the same run, and the ratio,
oriented so that a ratio above 1 means ours is better (faster, cheaper or
more). A program that fails or times out gets a row saying so; the others
still run, and the exit code is 1.

Programs added to ``benchmarks/`` later are run with their defaults and
reported through the ratios and speed-ups their JSON contains.

Usage::

    python -m benchmarks.run_all [--only road,plan] [--skip api_load] [--full]
    python -m benchmarks.run_all --no-run      # only rebuild SUMMARY.md from the JSON
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Modules in benchmarks/ that are not benchmark programs.
NOT_PROGRAMS = {
    "__init__", "common", "run_all", "osrm_peer", "osrm_compare", "routingkit_peer",
    "vehicle_sim",  # the live day's simulator, run by fleet_live
}  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One headline figure of a benchmark.

    ``ratio`` is oriented: above 1 means ours is better (``better="lower"``:
    baseline / ours, e.g. a speed-up; ``"higher"``: ours / baseline).
    """

    benchmark: str
    metric: str
    ours: float | None
    baseline: float | None = None
    baseline_name: str = ""
    unit: str = ""
    better: str = "lower"
    note: str = ""
    ratio_given: float | None = None

    @property
    def ratio(self) -> float | None:
        """Oriented ratio (see class docstring); the given one when there is no pair."""
        if self.ours is None or self.baseline is None:
            return self.ratio_given
        if self.better == "lower":
            return self.baseline / self.ours if self.ours > 0 else None
        return self.ours / self.baseline if self.baseline > 0 else None


Extractor = Callable[[str, dict[str, Any]], list[Row]]


@dataclass(frozen=True)
class Bench:
    """A benchmark program: how to run it quickly and which rows its JSON gives."""

    name: str
    quick_args: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    extract: Extractor | None = None
    timeout_s: float = 1200.0
    module: str = ""

    @property
    def result_names(self) -> tuple[str, ...]:
        """JSON files (without ``.json``) the program writes in the results directory."""
        return self.results or (self.name,)

    @property
    def module_name(self) -> str:
        """Module run with ``python -m``."""
        return self.module or f"benchmarks.{self.name}"


@dataclass
class Outcome:
    """How one program's run went."""

    name: str
    status: str  # "ok", "failed", "timeout", "not run", "no results"
    seconds: float = 0.0
    detail: str = ""
    rows: list[Row] = field(default_factory=list)


# ----------------------------------------------------------------------------- extractors


def _get(data: Any, *path: str | int) -> Any:
    for key in path:
        in_dict = isinstance(data, dict) and key in data
        in_list = isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data)
        if not (in_dict or in_list):
            return None
        data = data[key]
    return data


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _ms(value: Any, scale: float = 1.0) -> float | None:
    v = _num(value)
    return None if v is None else v * scale


def road_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """CH point-to-point vs networkx and scipy, bidirectional Dijkstra vs scipy, matrix, build."""
    p2p = _get(d, "car_point_to_point") or {}
    ch = _ms(_get(p2p, "ch", "p50_ms"))
    rows = [
        Row(
            name,
            "car point-to-point p50, CH vs networkx Dijkstra",
            ch,
            _ms(_get(p2p, "networkx_dijkstra", "p50_ms")),
            "networkx",
            "ms",
        ),
        Row(
            name,
            "car point-to-point p50, CH vs scipy Dijkstra",
            ch,
            _ms(_get(p2p, "scipy_dijkstra", "p50_ms")),
            "scipy.csgraph",
            "ms",
        ),
        Row(
            name,
            "car point-to-point p50, our bidirectional Dijkstra vs scipy",
            _ms(_get(p2p, "ours_bidijkstra", "p50_ms")),
            _ms(_get(p2p, "scipy_dijkstra", "p50_ms")),
            "scipy.csgraph",
            "ms",
        ),
    ]
    size = _get(d, "car_matrix", "size") or ["?", "?"]
    rows.append(
        Row(
            name,
            f"car matrix {size[0]}x{size[-1]}, best of 3",
            _num(_get(d, "car_matrix", "best_s")),
            None,
            "",
            "s",
            note=f"target {_get(d, 'car_matrix', 'target_s')} s",
        )
    )
    rows.append(
        Row(
            name,
            "import + CH build, 3 profiles",
            _num(_get(d, "build", "total_s")),
            None,
            "",
            "s",
            note=f"target {_get(d, 'build', 'target_s')} s",
        )
    )
    return rows


def transit_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """RAPTOR earliest-arrival vs pyraptor, timetable build, door-to-door."""
    ea = _get(d, "earliest_arrival") or {}
    rows = [
        Row(
            name,
            "earliest-arrival query p50, same queries",
            _ms(_get(ea, "elster_same_queries", "p50_ms")) or _ms(_get(ea, "elster", "p50_ms")),
            _ms(_get(ea, "pyraptor", "p50_ms")),
            "pyraptor",
            "ms",
            note=f"{_get(ea, 'same_arrival')}/{_get(ea, 'baseline_queries')} same arrival"
            if _get(ea, "baseline_queries")
            else "baseline skipped",
        )
    ]
    rows.append(
        Row(
            name,
            "timetable build from the GTFS zip, p50",
            _ms(_get(d, "timetable_build", "p50_ms"), 1e-3),
            _num(_get(ea, "pyraptor_timetable_build_s")),
            "pyraptor",
            "s",
        )
    )
    rows.append(
        Row(name, "door-to-door plan p50", _ms(_get(d, "door_to_door", "p50_ms")), None, "", "ms")
    )
    return rows


def plan_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """Multimodal plan: fast engine vs naive per-mode Dijkstra on the same pairs."""
    base = _get(d, "baseline") or {}
    same = _get(d, "fast_on_baseline_pairs") or _get(d, "fast") or {}
    return [
        Row(
            name,
            f"multimodal plan p50 ({base.get('n', '?')} pairs)",
            _ms(same.get("p50_ms")),
            _ms(base.get("p50_ms")),
            "naive per-mode Dijkstra",
            "ms",
        ),
        Row(
            name,
            f"multimodal plan p95 ({base.get('n', '?')} pairs)",
            _ms(same.get("p95_ms")),
            _ms(base.get("p95_ms")),
            "naive per-mode Dijkstra",
            "ms",
            note=f"{_get(d, 'plans_differing_from_baseline')} plans differ",
        ),
    ]


def demand_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """Request generation: vectorised vs one-request-at-a-time, per region."""
    rows = []
    for case in _get(d, "cases") or []:
        region = case.get("region", "?")
        rows.append(
            Row(
                name,
                f"{region}: request generation, per request",
                _ms(case.get("vectorised_per_request_ms")),
                _ms(case.get("baseline_per_request_ms")),
                "per-request loop",
                "ms",
            )
        )
        rows.append(
            Row(
                name,
                f"{region}: {case.get('requests', '?')} requests incl. model",
                _ms(_get(case, "pipeline", "p50_ms"), 1e-3),
                _num(case.get("baseline_extrapolated_pipeline_s")),
                "per-request loop (extrapolated)",
                "s",
            )
        )
    return rows


def darp_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """Static DARP: ours vs OR-Tools, same time limit, checker-verified."""
    rows = []
    limit = _get(d, "time_limit_s")
    by_instance: dict[str, dict[str, dict[str, Any]]] = {}
    for r in _get(d, "rows") or []:
        by_instance.setdefault(r.get("instance", "?"), {})[r.get("solver", "?")] = r
    for family, solvers in (_get(d, "summary") or {}).items():
        ours, ort = solvers.get("ours", {}), solvers.get("ortools", {})
        rows.append(
            Row(
                name,
                f"{family}: feasible solutions ({ours.get('instances', '?')} "
                f"instances, {limit} s each)",
                _num(ours.get("feasible")),
                _num(ort.get("feasible")),
                "OR-Tools",
                "count",
                better="higher",
            )
        )
        both = [
            v
            for v in by_instance.values()
            if v.get("ours", {}).get("family") == family
            and v.get("ours", {}).get("feasible")
            and v.get("ortools", {}).get("feasible")
        ]
        if both:
            rows.append(
                Row(
                    name,
                    f"{family}: total cost where both feasible ({len(both)})",
                    sum(v["ours"]["cost"] for v in both),
                    sum(v["ortools"]["cost"] for v in both),
                    "OR-Tools",
                    "cost",
                )
            )
        gap_o = _num(ours.get("mean_gap_percent_over_feasible"))
        gap_t = _num(ort.get("mean_gap_percent_over_feasible"))
        rows.append(
            Row(
                name,
                f"{family}: mean gap to best known",
                gap_o,
                None,
                "",
                "%",
                note=f"OR-Tools {gap_t:.2f} %" if gap_t is not None else "OR-Tools -",
            )
        )
    return rows


def api_load_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """HTTP plan latency under load vs the same plan called in-process."""
    rows = []
    base = _ms(_get(d, "baseline_in_process_plan", "p50_ms"))
    for run in _get(d, "runs") or []:
        workers = run.get("workers", "?")
        rows.append(
            Row(
                name,
                f"plan p50 over HTTP, {d.get('clients', '?')} clients, {workers} worker(s)",
                _ms(_get(run, "plan", "p50_ms")),
                base,
                "in-process call",
                "ms",
                note=f"{_num(_get(run, 'plan', 'throughput_rps')) or 0:.0f} req/s, "
                f"{_get(run, 'plan', 'errors')} errors; ratio < 1 is HTTP cost",
            )
        )
        rows.append(
            Row(
                name,
                f"booking p95 over HTTP, {workers} worker(s)",
                _ms(_get(run, "booking", "p95_ms")),
                None,
                "",
                "ms",
                note=f"{_get(run, 'booking', 'errors')} errors",
            )
        )
        if _get(run, "booking_postgres") is not None:
            rows.append(
                Row(
                    name,
                    f"booking p95 over HTTP on PostgreSQL, {workers} worker(s)",
                    _ms(_get(run, "booking_postgres", "p95_ms")),
                    _ms(_get(run, "booking", "p95_ms")),
                    "SQLite, same run",
                    "ms",
                    note=f"{_get(run, 'booking_postgres', 'errors')} errors",
                )
            )
    return rows


def closures_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """Routing and matrices under live closures vs plain Dijkstra on the closed graph."""
    rows = [
        Row(
            name,
            "apply a closure (edges + weights) p50",
            _ms(_get(d, "apply_closure_and_weights", "p50_ms")),
            None,
            "",
            "ms",
        )
    ]
    for key, label in (("busy_edges_closed", "busy"), ("random_edges_closed", "random")):
        part = _get(d, key) or (d if key == "busy_edges_closed" else None)
        if not part:
            continue
        rows.append(
            Row(
                name,
                f"route p50 with {label} edges closed",
                _ms(_get(part, "route_ch_with_fallback", "p50_ms")),
                _ms(_get(part, "route_dijkstra_baseline", "p50_ms")),
                "Dijkstra",
                "ms",
                note=f"{_get(part, 'mismatches_vs_dijkstra')} mismatches",
            )
        )
        rows.append(
            Row(
                name,
                f"matrix {_get(part, 'matrix', 'size')}² with {label} closures",
                _ms(_get(part, "matrix", "live_ms")),
                _ms(_get(part, "matrix", "dijkstra_rows_ms")),
                "Dijkstra rows",
                "ms",
            )
        )
    peer = _get(d, "routingkit", "scenarios") or {}
    for state, r in peer.items():
        rows.append(
            Row(
                name,
                f"customize for {state} p50",
                _ms(_get(r, "ours_customize_p50_ms")),
                _ms(_get(r, "routingkit_apply", "p50_ms")),
                f"RoutingKit CCH ({_get(r, 'routingkit_apply_method')})",
                "ms",
            )
        )
        rows.append(
            Row(
                name,
                f"node-to-node query p50, {state}",
                _ms(_get(r, "query_ours", "p50_ms"), 1000.0),
                _ms(_get(r, "query_routingkit", "p50_ms"), 1000.0),
                "RoutingKit CCH",
                "us",
                note=f"{_get(r, 'mismatches')} mismatches",
            )
        )
    return rows


def fleet_live_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """A live day driven through the HTTP API: realistic beside the exact day."""
    real, exact = d.get("realistic") or {}, d.get("exact") or {}
    what = "exact day (vehicles follow the plan)"
    return [
        Row(name, "promises kept (realistic day)", _num(real.get("promises_kept_share")),
            _num(exact.get("promises_kept_share")), what, "share", better="higher"),
        Row(name, "ETA error at pickup p95", _num(real.get("eta_error_p95_s")),
            _num(exact.get("eta_error_p95_s")), what, "s"),
        Row(name, "passengers stranded", _num(real.get("stranded")), None, "", "",
            note="must be 0"),
    ]  # fmt: skip


def fleet_online_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """Online dispatch of a day of requests: pooling dispatcher vs the no-pooling baseline."""
    ours, base = _get(d, "ours", "kpis") or {}, _get(d, "baseline", "kpis") or {}
    what = f"{_get(d, 'baseline', 'policy') or 'baseline'} dispatch"
    size = f"{d.get('requests', '?')} requests, {d.get('vehicles', '?')} vehicles"
    rows = [
        Row(
            name,
            f"served share ({size})",
            _num(ours.get("served_share")),
            _num(base.get("served_share")),
            what,
            "share",
            better="higher",
        ),
        Row(
            name,
            "vehicle-km per served request",
            _num(ours.get("vehicle_km_per_served")),
            _num(base.get("vehicle_km_per_served")),
            what,
            "km",
        ),
        Row(
            name,
            "occupancy (passenger-km / vehicle-km)",
            _num(ours.get("occupancy")),
            _num(base.get("occupancy")),
            what,
            "persons",
            better="higher",
        ),
        Row(
            name,
            "mean wait of served requests",
            _ms(ours.get("wait_mean_s"), 1 / 60),
            _ms(base.get("wait_mean_s"), 1 / 60),
            what,
            "min",
        ),
        Row(
            name,
            "simulation wall time",
            _num(_get(d, "ours", "timing", "wall_s")),
            _num(_get(d, "baseline", "timing", "wall_s")),
            what,
            "s",
            note="pooling does more work per request",
        ),
        Row(
            name,
            "dispatch decision p95",
            _num(_get(d, "ours", "timing", "decision_p95_ms")),
            None,
            "",
            "ms",
            note=f"target {_get(d, 'targets', 'decision_p95_ms')} ms; audit "
            f"{'ok' if _get(d, 'ours', 'audit', 'ok') else 'NOT ok'}",
        ),
    ]
    return rows


def sweep_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """Scenario sweep: our runner (workers, region cached per worker) vs a naive serial loop."""
    return [
        Row(
            name,
            f"{d.get('runs', '?')} simulation runs of the default scenario, "
            f"{d.get('workers', '?')} workers",
            _num(d.get("ours_s")),
            _num(d.get("naive_serial_s")),
            "serial loop, region reloaded per run",
            "s",
            note=f"{d.get('runs_with_different_kpis')} runs with different KPIs",
        )
    ]


def generic_rows(name: str, d: dict[str, Any]) -> list[Row]:
    """For programs without an extractor: every ratio or speed-up in the JSON."""
    rows = []

    def walk(node: Any, path: str, inside: bool = False) -> Iterator[tuple[str, float]]:
        if isinstance(node, dict):
            for k, v in node.items():
                sub = f"{path}.{k}" if path else str(k)
                named = inside or "ratio" in str(k) or "speedup" in str(k)
                if named and _num(v) is not None:
                    yield sub, float(v)
                else:
                    yield from walk(v, sub, named)

    for path, value in walk({k: v for k, v in d.items() if k != "machine"}, ""):
        rows.append(
            Row(
                name,
                path,
                None,
                None,
                "",
                "",
                ratio_given=value,
                note="ratio as reported by the program",
            )
        )
    return rows


BENCHES: dict[str, Bench] = {
    b.name: b
    for b in (
        Bench(
            "road",
            ("--pairs", "500", "--baseline-pairs", "50", "--matrix", "500"),
            extract=road_rows,
        ),
        Bench("transit", ("--queries", "100", "--baseline-queries", "10"), extract=transit_rows),
        Bench(
            "plan",
            ("--pairs", "100", "--baseline-pairs", "20", "--seed", "20220914"),
            extract=plan_rows,
        ),
        Bench(
            "demand",
            ("--requests", "10000", "--repeat", "2", "--baseline-requests", "500"),
            extract=demand_rows,
        ),
        Bench(
            "darp",
            ("--time-limit", "2", "--instances", "a2-16,lc101", "--seed", "0", "--name", "darp"),
            extract=darp_rows,
        ),
        Bench(
            "api_load",
            (
                "--workers",
                "1",
                "--requests",
                "400",
                "--bookings",
                "100",
                "--database",
                "sqlite,postgres",
            ),
            extract=api_load_rows,
        ),
        Bench(
            "closures",
            ("--queries", "100", "--matrix", "50", "--seed", "42"),
            extract=closures_rows,
        ),
        Bench("fleet_online", ("--quick", "--seed", "42"), extract=fleet_online_rows),
        Bench("fleet_live", ("--quick",), extract=fleet_live_rows),
        Bench(
            "sweep", ("--workers", "2", "--requests", "500", "--fleets", "5,10"), extract=sweep_rows
        ),
    )
}


def discover(bench_dir: Path = ROOT / "benchmarks") -> list[Bench]:
    """The known programs first (in :data:`BENCHES` order), then any other ``*.py`` there."""
    present = {p.stem for p in bench_dir.glob("*.py")} - NOT_PROGRAMS
    present = {name for name in present if not name.startswith("_")}
    known = [b for name, b in BENCHES.items() if name in present]
    extra = [Bench(name) for name in sorted(present - set(BENCHES))]
    return known + extra


# ----------------------------------------------------------------------------- running


def run_program(
    bench: Bench, *, results_dir: Path, full: bool = False, env: dict[str, str] | None = None
) -> Outcome:
    """Run one program in a subprocess and read its JSON back."""
    args = [] if full else list(bench.quick_args)
    command = [sys.executable, "-m", bench.module_name, *args]
    environment = {**os.environ, **(env or {}), "ELSTER_BENCH_DIR": str(results_dir)}
    started = time.time()
    print(f"== {bench.name}: {' '.join(command[1:])}", flush=True)
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=environment,
            text=True,
            capture_output=True,
            timeout=bench.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(
            bench.name, "timeout", time.time() - started, f"no result after {bench.timeout_s:.0f} s"
        )
    seconds = time.time() - started
    tail = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode != 0:
        err = "\n".join(done.stderr.strip().splitlines()[-5:])
        print(f"   failed (exit {done.returncode}) after {seconds:.0f} s:\n{err}", flush=True)
        return Outcome(
            bench.name,
            "failed",
            seconds,
            f"exit {done.returncode}: {err.splitlines()[-1] if err else ''}",
        )
    print(f"   {tail}  [{seconds:.0f} s]", flush=True)
    outcome = read_results(bench, results_dir, since=started - 1)
    outcome.seconds = seconds
    return outcome


def read_results(bench: Bench, results_dir: Path, *, since: float | None = None) -> Outcome:
    """Rows from the program's JSON files (``since``: only files written after it)."""
    rows: list[Row] = []
    missing = []
    for result in bench.result_names:
        path = results_dir / f"{result}.json"
        if not path.is_file() or (since is not None and path.stat().st_mtime < since):
            missing.append(path.name)
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            return Outcome(bench.name, "no results", detail=f"{path.name}: {exc}")
        extract = bench.extract or generic_rows
        try:
            rows.extend(extract(bench.name, data))
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            return Outcome(
                bench.name, "no results", detail=f"{path.name} has an unexpected layout ({exc!r})"
            )
    if missing:
        return Outcome(bench.name, "no results", detail=f"did not write {', '.join(missing)}")
    return Outcome(bench.name, "ok", rows=rows)


# ----------------------------------------------------------------------------- summary


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    magnitude = abs(value)
    if value.is_integer() and magnitude < 1e6:
        return f"{value:,.0f}"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return (
        f"{value:,.0f}×"
        if abs(value) >= 100
        else f"{value:.2f}×"
        if abs(value) >= 0.01
        else f"{value:.2g}×"
    )


def summary_markdown(outcomes: list[Outcome], machine: dict[str, Any]) -> str:
    """The combined table: one row per figure, ours vs the baseline of the same run."""
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {machine.get('cpus', '?')} CPUs, {machine.get('machine', '?')}, "
        f"Python {machine.get('python', '?')}; git {machine.get('git_sha', '?')}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Produced by `make bench` "
        "(`python -m benchmarks.run_all`).",
        "",
        "Ratio: how many times better ours is than the baseline measured in the same run "
        "(baseline / ours for times and costs, ours / baseline for counts); above 1 is better.",
        "",
        "| benchmark | figure | ours | baseline | baseline is | unit | ratio | note |",
        "|---|---|---:|---:|---|---|---:|---|",
    ]
    for outcome in outcomes:
        if outcome.status != "ok":
            lines.append(
                f"| {outcome.name} | **{outcome.status}** | - | - | - | - | - | {outcome.detail} |"
            )
            continue
        for row in outcome.rows:
            ratio = row.ratio
            lines.append(
                f"| {row.benchmark} | {row.metric} | {_fmt(row.ours)} | {_fmt(row.baseline)} | "
                f"{row.baseline_name or '-'} | {row.unit} | "
                f"{_fmt_ratio(ratio)} | {row.note} |"
            )
    lines += ["", "| benchmark | status | seconds |", "|---|---|---:|"]
    lines += [
        f"| {o.name} | {o.status} | {f'{o.seconds:.0f}' if o.seconds else '-'} |" for o in outcomes
    ]
    lines.append("")
    return "\n".join(lines)


def write_summary(outcomes: list[Outcome], results_dir: Path) -> Path:
    """Write ``SUMMARY.md`` and ``SUMMARY.json`` into ``results_dir``; return the Markdown path."""
    from benchmarks.common import machine_info

    machine = machine_info()
    results_dir.mkdir(parents=True, exist_ok=True)
    md = results_dir / "SUMMARY.md"
    md.write_text(summary_markdown(outcomes, machine), encoding="utf-8")
    payload = {
        "machine": machine,
        "benchmarks": [
            {
                "name": o.name,
                "status": o.status,
                "seconds": round(o.seconds, 1),
                "detail": o.detail,
                "rows": [{**asdict(r), "ratio": r.ratio} for r in o.rows],
            }
            for o in outcomes
        ],
    }
    (results_dir / "SUMMARY.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return md


def main(argv: list[str] | None = None) -> int:
    """Run the programs (or only read their JSON) and write the combined table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated programs to run")
    parser.add_argument("--skip", default="", help="comma-separated programs to leave out")
    parser.add_argument("--full", action="store_true", help="each program's own default sizes")
    parser.add_argument(
        "--no-run",
        action="store_true",
        help="do not run anything: summarise the JSON already there",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path(os.environ.get("ELSTER_BENCH_DIR", ROOT / "bench-results")),
    )
    args = parser.parse_args(argv)
    benches = discover()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    skip = {n.strip() for n in args.skip.split(",") if n.strip()}
    unknown = (only | skip) - {b.name for b in benches}
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(sorted(unknown))}; present: "
            f"{', '.join(b.name for b in benches)}"
        )
    chosen = [b for b in benches if (not only or b.name in only) and b.name not in skip]
    results_dir = args.results_dir.resolve()
    outcomes = []
    for bench in chosen:
        if args.no_run:
            outcomes.append(read_results(bench, results_dir))
        else:
            outcomes.append(run_program(bench, results_dir=results_dir, full=args.full))
    path = write_summary(outcomes, results_dir)
    bad = [o.name for o in outcomes if o.status != "ok"]
    print(
        f"run_all: {len(outcomes) - len(bad)}/{len(outcomes)} benchmarks ok"
        + (f" (not ok: {', '.join(bad)})" if bad else "")
        + f" -> {path}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
