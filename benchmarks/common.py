"""Helpers shared by the benchmark programs: machine info, percentiles, JSON output."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(os.environ.get("ELSTER_BENCH_DIR", "bench-results"))


def machine_info() -> dict[str, Any]:
    """Describe the machine and code version a benchmark ran on."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        sha = ""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "git_sha": sha or "unknown",
    }


def region_data_dir(region: Any) -> Path:
    """The data directory holding the region's OSM source: ``./data``, else the mirror."""
    from routing.regions import PROJECT_ROOT, default_data_dir

    mirror = Path(os.environ.get("ELSTER_MIRROR") or PROJECT_ROOT.parent / "shared" / "data")
    for candidate in (default_data_dir(), mirror):
        if region.source_file("osm", candidate).is_file():
            return candidate
    raise SystemExit(f"no OSM file for {region.name}: run `elster fetch {region.name}` first")


def percentiles(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """p50/p95/mean of timings in seconds, reported in milliseconds."""
    values = np.asarray(seconds, dtype=float) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
        "n": int(values.size),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write ``result`` plus machine info to ``bench-results/NAME.json``; return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "machine": machine_info(), **result}
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path
