"""Property-based fuzzing of the live server with schemathesis: no request may cause a 5xx.

The server is uvicorn on 127.0.0.1 (random free port) with every component of
Heidelberg loaded and the seat-ledger double as shuttle dispatcher, so the
shuttle endpoints run their validation and storage paths too. The number of
examples per operation is bounded so the run takes about a minute.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from routing.regions import PROJECT_ROOT
from tests.support.api import OPERATOR_KEY, free_port, start_server

MAX_EXAMPLES = os.environ.get("ELSTER_SCHEMATHESIS_EXAMPLES", "20")


def test_no_server_errors_for_generated_requests(
    tmp_path: Path, hd_data_dir: Path, cache_dir: Path
):
    port = free_port()
    env = dict(os.environ)
    env.update(
        ELSTER_REGION="heidelberg",
        ELSTER_DATA_DIR=str(hd_data_dir),
        ELSTER_CACHE_DIR=str(cache_dir),
        ELSTER_DATABASE_URL=f"sqlite:///{tmp_path / 'bookings.db'}",
        ELSTER_API_KEYS=OPERATOR_KEY,
        ELSTER_LIVE_PATH=str(tmp_path / "live.json"),
        PYTHONPATH=str(PROJECT_ROOT),
    )
    server = start_server(port, env, tmp_path / "server.log", "api.app:create_app")
    try:
        cli = Path(sys.executable).with_name("schemathesis")
        run = subprocess.run(
            [
                str(cli),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                MAX_EXAMPLES,
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--header",
                f"X-API-Key: {OPERATOR_KEY}",
                "--seed",
                "20221014",
                "--generation-database",
                "none",
                "--request-timeout",
                "30",
                "--max-time",
                "80",
                "--no-color",
                "--warnings",
                "off",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=400,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert "generated" in run.stdout, report
    server_log = (tmp_path / "server.log").read_text()
    assert "bug: unhandled error" not in server_log, server_log[-4000:]
