"""The solver A/B harness: a tree against itself finds the same routes in every round."""

from __future__ import annotations

from pathlib import Path

from benchmarks.solver_ab import compare
from routing.regions import PROJECT_ROOT


def test_a_tree_against_itself_gives_identical_routes(mirror_dir: Path) -> None:
    result = compare(
        PROJECT_ROOT, PROJECT_ROOT, instances=["a2-16"], seeds=[0], iterations=30, rounds=2,
        mirror=str(mirror_dir), fresh_cache=False,  # the test session's cache: no recompiling
    )  # fmt: skip
    assert result["all_same_routes"]
    (run,) = result["runs"]
    assert run["cost_base"] == run["cost_tree"] > 0
    assert result["total_s_base"] > 0 and result["total_s_tree"] > 0
