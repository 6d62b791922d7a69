"""Loading the region state: disabled features say why and how to turn them on; bugs stop it.

A component the settings turn off is :class:`api.state.FeatureDisabled`: its
endpoints answer 503 naming the setting and the fix, and ``/health`` lists it.
An ``ImportError`` is never such a signal: a module of the build that fails to
import stops the startup (before, it became a 503 "not part of this build").
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.state import ComponentLoader, FeatureDisabled, load_state
from routing.regions import load_region
from tests.support.api import OPERATOR_KEY, hd_settings

BISMARCKPLATZ, NEUENHEIM = "49.4094,8.6937", "49.4183,8.6758"


def light_settings(hd_data_dir: Path, cache_dir: Path, tmp_path: Path, **extra: object):
    """No road graphs, no timetable, no shuttle: the stores load in a second or two."""
    extra = {"profiles": "", "transit": False, "shuttle_vehicles": 0, **extra}
    return hd_settings(hd_data_dir, cache_dir, f"sqlite:///{tmp_path / 'b.db'}", **extra)


@pytest.fixture
def light_client(hd_data_dir, cache_dir, tmp_path):
    with TestClient(create_app(light_settings(hd_data_dir, cache_dir, tmp_path))) as client:
        yield client


def test_health_names_each_disabled_component_and_why(light_client) -> None:
    components = light_client.get("/api/v1/health").json()["components"]
    assert components["road"] == {
        "ready": False,
        "detail": "disabled: no road profiles configured (ELSTER_PROFILES is empty)",
        "load_seconds": 0.0,
    }
    assert components["transit"]["detail"] == "disabled: ELSTER_TRANSIT=false"
    assert components["shuttle"]["detail"] == "disabled: ELSTER_SHUTTLE_VEHICLES=0"
    # Prerequisites missing: said as such, not as "not part of this build".
    assert components["wheelchair"]["detail"].startswith("disabled: step-free routing needs")
    assert components["planner"]["detail"].startswith("disabled: the planner needs the walk")
    assert components["live"]["detail"] == "disabled: live road state needs the road networks"
    # What the settings leave on is loaded.
    assert components["stations"]["ready"] and components["chargers"]["ready"]
    assert not any("build" in c["detail"] for c in components.values())


@pytest.mark.parametrize(
    ("method", "path", "params", "reason", "fix"),
    [
        ("GET", "/api/v1/route", {"fromPlace": BISMARCKPLATZ, "toPlace": NEUENHEIM},
         "ELSTER_PROFILES is empty", "set ELSTER_PROFILES"),
        ("GET", "/api/v1/plan", {"fromPlace": BISMARCKPLATZ, "toPlace": NEUENHEIM},
         "the planner needs the walk, bike and car networks", "add walk, bike and car"),
        ("GET", "/api/v1/departures", {"stopId": "any"},
         "ELSTER_TRANSIT=false", "start with ELSTER_TRANSIT=true"),
        ("GET", "/api/v1/map/transit", {}, "ELSTER_TRANSIT=false", "ELSTER_TRANSIT=true"),
        ("GET", "/api/v1/operations/closures", {},
         "live road state needs the road networks", "set ELSTER_PROFILES"),
    ],
)  # fmt: skip
def test_a_disabled_feature_answers_503_with_reason_and_fix(
    light_client, method, path, params, reason, fix
) -> None:
    answer = light_client.request(method, path, params=params, headers={"X-API-Key": OPERATOR_KEY})
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == "unavailable"
    assert reason in body["message"]
    assert fix in body["fix"]


def test_loader_records_disabled_and_missing_data_and_lets_bugs_through() -> None:
    region = load_region("heidelberg")
    loader = ComponentLoader(region)

    def off() -> int:
        raise FeatureDisabled("ELSTER_X=false", fix="set ELSTER_X=true")

    def no_file() -> int:
        raise FileNotFoundError("heidelberg has no gtfs source")

    def broken() -> int:
        raise ImportError("cannot import name 'kernel' from 'routing.raptor'")

    assert loader.load("x", off, str) is None
    assert loader.load("y", no_file, str) is None
    assert loader.load("z", lambda: 7, lambda v: f"{v} things") == 7
    with pytest.raises(ImportError, match="cannot import name"):
        loader.load("w", broken, str)
    x, y, z = (loader.components[n] for n in "xyz")
    assert (x.ready, x.detail, x.fix) == (False, "disabled: ELSTER_X=false", "set ELSTER_X=true")
    assert not y.ready and y.detail == "no data: heidelberg has no gtfs source"
    assert z.ready and z.detail == "7 things"
    assert "w" not in loader.components


def test_an_import_error_in_a_feature_module_fails_the_startup(
    hd_data_dir, cache_dir, tmp_path, monkeypatch
) -> None:
    """The charger loader imports its BNetzA reader when called: make that import fail."""
    monkeypatch.setitem(sys.modules, "routing.stations.bnetza", None)
    settings = light_settings(hd_data_dir, cache_dir, tmp_path)
    with pytest.raises(ImportError, match=r"routing\.stations\.bnetza"):
        load_state(settings)
    app = create_app(settings)
    with pytest.raises(ImportError), TestClient(app):
        pass  # the lifespan's startup fails: the server never answers
