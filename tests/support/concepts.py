"""The small comparison scenario the concept tests share (one zone, one hour, ~60 requests)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from fleet.concepts.compare import Comparison, parse_comparison

SMALL = """
[scenario]
name = "hd-concepts-small"
region = "heidelberg"

[area]
name = "Bergheim/Weststadt"
bbox = [8.670, 49.398, 8.692, 49.412]

[demand]
date = 2022-09-14
window = ["08:00", "09:00"]
requests = 60
travel_times = "road"

[demand_model.gravity]
calibrate = false

[fleet]
n_vehicles = 3
capacity = 4

[service]
max_wait_min = 15
alpha = 1.5
beta_min = 5

[dispatcher]
reoptimise_every_s = 120
rebalancing = false

[sweep]
seeds = [3]

[compare]
headway_min = [15]

[stops]
walk_m = 250

[line]
walk_m = 600
corridor_m = 700

[hub]
name = "Heidelberg Hauptbahnhof"
location = [8.6760, 49.4047]
share = 0.3
"""


def comparison_of(text: str = SMALL, tmp: Path | None = None) -> Comparison:
    """The comparison of a scenario text (relative paths from ``tmp`` or the working directory)."""
    return parse_comparison(tomllib.loads(text), source="small.toml", base_dir=tmp or Path.cwd())


def run_of(comparison: Comparison, concept: str, autonomous: bool):
    """The first run of ``concept`` (manned or autonomous) in ``comparison``."""
    for run in comparison.runs():
        if run.params["concept"] == concept and run.params["autonomous"] == autonomous:
            return run
    raise AssertionError(f"no run for {concept} {autonomous}")
