"""The load-and-chaos check, bounded: mixed traffic while workers die and PostgreSQL restarts.

Runs :func:`benchmarks.chaos.run` for 40 s: 20 clients, a random worker
killed with SIGKILL every 12 s (only workers up for 12 s or more: the
supervisor's restart limit is issue 17 finding 1, fixed apart), PostgreSQL
restarted once half-way. No acknowledged booking may be lost or duplicated,
no answer may be a 5xx, every worker's plans must hold exactly the open
bookings, and the workers' memory must stay bounded.
"""

from __future__ import annotations

import pytest

from benchmarks.chaos import passed, run

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_kill_9_and_a_postgres_restart_under_mixed_traffic_lose_nothing(
    pg_server, hd_data_dir, cache_dir
):
    # pg_server: the opt-out and the loud failure of the PostgreSQL tests; the run
    # restarts a server of its own.
    result = run(seconds=40, clients=20, kill_every=12, min_uptime=12,
                 data_dir=hd_data_dir, cache_dir=cache_dir)  # fmt: skip
    assert passed(result) == [], result
    checks = result["checks"]
    assert result["kills"] >= 2 and result["postgres_restarts"] == 1, result["events"]
    assert checks["acknowledged"] > 50 and checks["workers_checked"] == 2
    assert checks["workers_with_exact_plans"] == 2
    assert result["by_kind"].get("route", 0) > 0 and result["by_kind"].get("read", 0) > 0
    # passed() also bounds the RSS: a fresh worker's plus the dispatcher's state per
    # open booking plus slack (memory grows with the bookings held, not with the chaos).
    assert result["rss_mb"]["max"] > 0
