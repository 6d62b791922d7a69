"""One validation style: every input file's mistakes name the file, the key and the fix.

Each of the four validated inputs (region files, demand configs, scenario
files, live closures) gets the same four kinds of malformed document: a value
of the wrong type, an unknown key, a value out of range and a missing required
key. Every message must name the source, the key path and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from demand.config import load_config
from fleet.scenarios.spec import PARAMETERS, SECTION_MODELS, load_scenario
from routing.errors import DataError, ElsterError, RegionError, RequestError
from routing.live.parsing import make_closure
from routing.regions import load_region
from routing.validation import validate
from tests.support.sweep import fake_scenario_toml

REGION = """name = "t"
timezone = "Europe/Berlin"
bbox = [8.0, 49.0, 9.0, 50.0]

[sources.osm]
kind = "osm"
path = "t/map.osm.pbf"

[live.tu]
kind = "gtfs_rt_trip_updates"
url = "https://example.org/tu.pb"
interval_s = 30
"""

DEMAND = """[gravity]
deterrence = "power"
alpha = 1.5

[requests]
snap_rounds = 8
"""


def _region(tmp_path: Path, text: str) -> tuple[str, Callable[[], Any]]:
    path = tmp_path / "t.toml"
    path.write_text(text)
    return str(path), lambda: load_region(path)


def _demand(tmp_path: Path, text: str) -> tuple[str, Callable[[], Any]]:
    path = tmp_path / "demand.toml"
    path.write_text(text)
    return str(path), lambda: load_config(path)


def _scenario(tmp_path: Path, text: str) -> tuple[str, Callable[[], Any]]:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return str(path), lambda: load_scenario(path)


def _closure(fields: dict[str, Any]) -> tuple[str, Callable[[], Any]]:
    return "closures.json", lambda: make_closure(fields, created=0.0, source="closures.json")


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


SCENARIO = fake_scenario_toml()

# (id, build(tmp_path) -> (source, call), error type, words: the key and the fix)
CASES: list[tuple[str, Callable[[Path], tuple[str, Callable[[], Any]]], type[Exception], list[str]]]
CASES = [
    # region files
    (
        "region-wrong-type",
        lambda t: _region(t, _edit(REGION, "interval_s = 30", 'interval_s = "often"')),
        RegionError,
        ["[live.tu] interval_s", "positive number of seconds", "'often'"],
    ),
    (
        "region-unknown-key",
        lambda t: _region(t, _edit(REGION, 'name = "t"', 'name = "t"\ntitel = "T"')),
        RegionError,
        ["unknown key titel", "did you mean 'title'", "allowed keys at the top level"],
    ),
    (
        "region-out-of-range",
        lambda t: _region(t, _edit(REGION, "[8.0, 49.0, 9.0, 50.0]", "[9.0, 49.0, 8.0, 50.0]")),
        RegionError,
        ["bbox", "min < max", "[9.0, 49.0, 8.0, 50.0]"],
    ),
    (
        "region-missing-key",
        lambda t: _region(t, _edit(REGION, 'timezone = "Europe/Berlin"\n', "")),
        RegionError,
        ["timezone is missing", "add timezone"],
    ),
    # demand configs
    (
        "demand-wrong-type",
        lambda t: _demand(t, _edit(DEMAND, "alpha = 1.5", 'alpha = "steep"')),
        DataError,
        ["[gravity] alpha", "expected a number", "'steep'"],
    ),
    (
        "demand-unknown-key",
        lambda t: _demand(t, _edit(DEMAND, "alpha = 1.5", "alpah = 1.5")),
        DataError,
        ["unknown key [gravity] alpah", "did you mean 'alpha'", "allowed keys in [gravity]"],
    ),
    (
        "demand-out-of-range",
        lambda t: _demand(t, _edit(DEMAND, "snap_rounds = 8", "snap_rounds = 0")),
        DataError,
        ["[requests] snap_rounds", ">= 1", "got 0"],
    ),
    (
        "demand-missing-key",
        lambda t: _demand(t, "[purposes.errand]\nproduction = { population = 1 }\n"),
        DataError,
        ["[purposes.errand] attraction is missing", "add attraction"],
    ),
    # scenario files
    (
        "scenario-wrong-type",
        lambda t: _scenario(t, _edit(SCENARIO, "n_vehicles = [5, 10]", 'n_vehicles = [5, "x"]')),
        DataError,
        ["[fleet] n_vehicles[1]", "expected an integer >= 1", "'x'"],
    ),
    (
        "scenario-unknown-key",
        lambda t: _scenario(t, _edit(SCENARIO, "alpha = 1.5", "alpah = 1.5")),
        DataError,
        ["unknown key [service] alpah", "did you mean 'alpha'", "allowed keys in [service]"],
    ),
    (
        "scenario-out-of-range",
        lambda t: _scenario(t, _edit(SCENARIO, "seeds = [1, 2]", "seeds = [1, -2]")),
        DataError,
        ["[sweep] seeds", "integers >= 0", "[1, -2]"],
    ),
    (
        "scenario-missing-key",
        lambda t: _scenario(t, _edit(SCENARIO, 'region = "heidelberg"\n', "")),
        DataError,
        ["[scenario] region is missing", "add region"],
    ),
    # live closures
    (
        "closure-wrong-type",
        lambda t: _closure({"way_ids": ["seven"]}),
        RequestError,
        ["way_ids", "must be integers", "'seven'"],
    ),
    (
        "closure-unknown-key",
        lambda t: _closure({"way_ids": [1], "colour": "red"}),
        RequestError,
        ["unknown key colour", "allowed keys", "way_ids"],
    ),
    (
        "closure-out-of-range",
        lambda t: _closure({"way_ids": [1], "kind": "speed", "factor": 50}),
        RequestError,
        ["factor", "(0, 10]", "got 50"],
    ),
    (
        "closure-missing-key",
        lambda t: _closure({"kind": "closed"}),
        RequestError,
        ["needs way_ids, a polygon or a list of edges"],
    ),
]


@pytest.mark.parametrize(
    ("build", "error", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_input_names_file_key_and_fix(
    tmp_path: Path,
    build: Callable[[Path], tuple[str, Callable[[], Any]]],
    error: type[Exception],
    words: list[str],
) -> None:
    source, call = build(tmp_path)
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, ElsterError)
    message = str(info.value)
    assert message.startswith(f"{source}: "), message
    for word in words:
        assert word in message, (word, message)
    assert "\n" not in message  # one line: the CLI prints it as is


def test_the_good_documents_are_valid(tmp_path: Path) -> None:
    """The documents the cases above break are valid themselves."""
    assert _region(tmp_path, REGION)[1]().live["tu"].interval_s == 30.0
    assert _demand(tmp_path, DEMAND)[1]().gravity.alpha == 1.5
    assert _scenario(tmp_path, SCENARIO)[1]().values["n_vehicles"] == (5, 10)
    assert _closure({"way_ids": [1]})[1]().way_ids == (1,)


def test_every_sweepable_parameter_is_a_field_of_its_section() -> None:
    for name, param in PARAMETERS.items():
        assert name in SECTION_MODELS[param.section].model_fields, name


class _Inner(BaseModel):
    size: int


class _Outer(BaseModel):
    model_config = {"extra": "forbid"}

    tables: dict[str, _Inner]
    sizes: list[int] = []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"tables": {"a": {"size": "x"}}}, "f.toml: [tables.a] size: expected an integer, got 'x'"),
        ({"tables": {}, "sizes": [1, "y"]}, "f.toml: sizes[1]: expected an integer, got 'y'"),
        ({"tables": {"a": {}}}, "f.toml: [tables.a] size is missing; add size = ..."),
        ({"tables": 3}, "f.toml: [tables]: expected a table, got 3"),
        ({"tables": {}, "extra": {"k": 1}}, "f.toml: unknown section [extra]"),
    ],
)
def test_key_paths_are_written_in_toml_words(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(DataError) as info:
        validate(_Outer, data, source="f.toml")
    assert str(info.value).startswith(expected), str(info.value)
