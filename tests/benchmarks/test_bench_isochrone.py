"""Issue 17, finding 2, under load: 20 concurrent worst-case isochrones keep RSS bounded.

Runs :mod:`benchmarks.isochrone_load` (a real two-worker server) for one round
of 20 concurrent bike isochrones of 60 minutes from 20 different starts. It
checks memory and errors only; latencies are reported by the benchmark, never
asserted here.
"""

from __future__ import annotations

import pytest

from benchmarks.isochrone_load import run


@pytest.mark.slow
def test_twenty_concurrent_worst_case_isochrones_keep_rss_growth_under_100_mb(
    hd_data_dir, cache_dir
) -> None:
    result = run(rounds=1, clients=20, workers=2, minutes=60.0, with_baseline=False)
    assert result["statuses"] == {"200": 20}, result
    assert result["answer_bytes_max"] < 100_000, result
    assert result["rss_mb"]["growth"] < 100.0, result
