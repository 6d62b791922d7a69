"""Numba kernels compile at startup, not on the event loop; their cache stays out of the source.

Regression test for issue 17, finding 13: the first plan with ``window>0`` on
a fresh worker took 4.3 s compiling on the event loop and wrote ``.nbc``
files into ``routing/transit/__pycache__``. A fresh interpreter loads the
region (startup, warm-up included), notes every compiled numba signature,
serves one request of each expensive kind, and reports the signatures that
appeared only then: there must be none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from routing.regions import PROJECT_ROOT

PROBE = r"""
import json, sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings


def compiled():
    import numba.core.registry  # noqa: F401
    from numba.core.dispatcher import Dispatcher

    found = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith(("routing", "fleet", "demand", "api")):
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, Dispatcher):
                found[f"{name}.{attr}"] = len(value.signatures)
    return found


settings = Settings(profiles="walk,bike,car,shuttle", shuttle_reoptimise_s=0)
with TestClient(create_app(settings)) as client:
    before = compiled()
    a, b = "49.4094,8.6937", "49.3925,8.6890"
    pickup = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(hours=1)).isoformat()
    answers = [
        client.get("/api/v1/plan", params={"fromPlace": a, "toPlace": b, "modes": "walk,transit",
                                           "time": "2022-09-14T08:00", "window": 30}),
        client.get("/api/v1/plan", params={"fromPlace": a, "toPlace": b, "modes": "walk,transit",
                                           "time": "2022-09-14T08:00", "arriveBy": "true"}),
        client.get("/api/v1/route", params={"fromPlace": a, "toPlace": b, "profile": "bike"}),
        client.get("/api/v1/isochrone", params={"place": a, "profile": "walk", "minutes": 5}),
        client.post("/api/v1/matrix", json={"profile": "car",
                    "sources": [{"lat": 49.4094, "lon": 8.6937}],
                    "targets": [{"lat": 49.3925, "lon": 8.6890}]}),
        client.post("/api/v1/shuttle/quote", json={"from": {"lat": 49.4094, "lon": 8.6937},
                    "to": {"lat": 49.3925, "lon": 8.6890}, "pickupAfter": pickup}),
    ]
    after = compiled()
new = {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
print(json.dumps({"status": [r.status_code for r in answers], "new": new,
                  "texts": [r.text[:300] for r in answers if r.status_code >= 400]}))
"""


def test_no_kernel_compiles_after_startup_and_the_cache_is_outside_the_source(
    tmp_path: Path, hd_data_dir: Path, cache_dir: Path
) -> None:
    numba_cache = tmp_path / "numba-cache"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ELSTER_REGION": "heidelberg",
           "ELSTER_DATA_DIR": str(hd_data_dir), "ELSTER_CACHE_DIR": str(cache_dir),
           "ELSTER_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
           "ELSTER_LIVE_PATH": str(tmp_path / "live.json"),
           "NUMBA_CACHE_DIR": str(numba_cache)}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(status < 500 for status in report["status"]), report
    assert report["status"][:5] == [200] * 5, report
    assert report["new"] == {}, f"compiled while serving: {report['new']}"
    # The compiled kernels went to NUMBA_CACHE_DIR, none into the source tree.
    assert any(numba_cache.rglob("*.nbi")), "nothing cached in NUMBA_CACHE_DIR"
    stray = [p for p in (PROJECT_ROOT / "routing").rglob("*.nbi")
             if p.stat().st_mtime > (tmp_path / "b.db").stat().st_ctime - 60]  # fmt: skip
    assert not stray, stray


def test_numba_cache_defaults_under_the_build_cache(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(PROJECT_ROOT), ELSTER_CACHE_DIR=str(tmp_path / "cache"))
    code = "import routing, numba; print(numba.config.CACHE_DIR)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    assert done.stdout.strip() == str(tmp_path / "cache" / "numba")
