"""Scenario files: validation with errors naming the key, expansion, stable run ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.scenarios.spec import (
    PARAMETERS,
    check_targets,
    expand,
    load_scenario,
    parse_scenario,
    run_id_of,
)
from routing.errors import DataError
from routing.regions import PROJECT_ROOT
from tests.support.sweep import fake_scenario_toml


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cross_product_runs_with_stable_ids(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, fake_scenario_toml()))
    runs = scenario.runs()
    assert len(runs) == 2 * 2 * 2  # fleet sizes x capacities x seeds
    combos = {(r.params["n_vehicles"], r.params["capacity"], r.params["seed"]) for r in runs}
    assert combos == {(n, c, s) for n in (5, 10) for c in (4, 8) for s in (1, 2)}
    assert len({r.run_id for r in runs}) == len(runs)
    for run in runs:
        assert run.run_id == run_id_of(run.params)
        assert run.params["region"] == "heidelberg" and run.params["window"] == "07:00-10:00"
        assert run.params["max_wait_min"] == 15.0 and run.params["alpha"] == 1.5
        assert set(PARAMETERS) <= set(run.params)
    # Same scenario in another file: same ids; 15 and 15.0 are the same parameter.
    again = load_scenario(
        _write(
            tmp_path,
            fake_scenario_toml().replace("max_wait_min = 15", "max_wait_min = 15.0"),
            "again.toml",
        )
    )
    assert [r.run_id for r in again.runs()] == [r.run_id for r in runs]
    assert scenario.swept() == ["n_vehicles", "capacity"]


def test_a_changed_parameter_changes_only_the_affected_ids(tmp_path: Path) -> None:
    base = {r.run_id for r in load_scenario(_write(tmp_path, fake_scenario_toml())).runs()}
    more = load_scenario(_write(tmp_path, fake_scenario_toml(n_vehicles="[5, 10, 15]"), "b.toml"))
    assert base < {r.run_id for r in more.runs()}  # old runs kept, 4 new ones
    other = load_scenario(_write(tmp_path, fake_scenario_toml(requests=500), "c.toml"))
    assert base.isdisjoint({r.run_id for r in other.runs()})


def test_yaml_gives_the_same_runs_as_toml(tmp_path: Path) -> None:
    yaml_text = """
scenario: {name: fake-sweep, region: heidelberg, description: test scenario}
area: {name: Altstadt, bbox: [8.67, 49.40, 8.72, 49.42]}
demand: {date: 2022-09-14, window: ["07:00", "10:00"], requests: 400}
fleet: {n_vehicles: [5, 10], capacity: [4, 8]}
service: {max_wait_min: 15, alpha: 1.5, beta_min: 5}
sweep: {seeds: [1, 2]}
targets: {wait_mean_min: {max: 10}, served_share: {min: 0.9}}
"""
    from_yaml = load_scenario(_write(tmp_path, yaml_text, "s.yaml"))
    from_toml = load_scenario(_write(tmp_path, fake_scenario_toml()))
    assert [r.run_id for r in from_yaml.runs()] == [r.run_id for r in from_toml.runs()]
    assert [str(t) for t in from_yaml.targets] == ["wait_mean_min <= 10", "served_share >= 0.9"]


def test_list_mode_runs_each_entry_per_seed(tmp_path: Path) -> None:
    text = fake_scenario_toml(n_vehicles="6", capacity="4").replace(
        "[sweep]\nseeds = [1, 2]",
        '[sweep]\nseeds = [1, 2]\nmode = "list"\n'
        "[[sweep.runs]]\nn_vehicles = 8\n"
        "[[sweep.runs]]\nn_vehicles = 12\ncapacity = 8\nmax_wait_min = 10\n"
        "[[sweep.runs]]\nn_vehicles = 3\nseed = 7\n",
    )
    scenario = load_scenario(_write(tmp_path, text))
    got = [
        (r.params["n_vehicles"], r.params["capacity"], r.params["max_wait_min"], r.params["seed"])
        for r in expand(scenario)
    ]
    assert got == [
        (8, 4, 15.0, 1),
        (8, 4, 15.0, 2),
        (12, 8, 10.0, 1),
        (12, 8, 10.0, 2),
        (3, 4, 15.0, 7),
    ]
    assert scenario.swept() == ["n_vehicles", "capacity", "max_wait_min"]


def test_area_from_file_polygon_and_region(tmp_path: Path) -> None:
    poly = tmp_path / "areas" / "zone.poly"
    poly.parent.mkdir()
    poly.write_text("zone\n1\n 8.67 49.40\n 8.72 49.40\n 8.72 49.42\n 8.67 49.42\nEND\nEND\n")
    text = fake_scenario_toml().replace(
        'name = "Altstadt"\nbbox = [8.67, 49.40, 8.72, 49.42]', 'file = "areas/zone.poly"'
    )
    scenario = load_scenario(_write(tmp_path, text))
    assert scenario.area.kind == "file" and scenario.area.file == poly.resolve()
    assert scenario.area.name == "zone"
    first = scenario.runs()[0].run_id
    poly.write_text(poly.read_text().replace("8.72", "8.73"))  # the geometry is in the id
    assert load_scenario(_write(tmp_path, text)).runs()[0].run_id != first

    text = fake_scenario_toml().replace(
        "bbox = [8.67, 49.40, 8.72, 49.42]",
        "polygon = [[8.67, 49.40], [8.72, 49.40], [8.70, 49.42]]",
    )
    assert load_scenario(_write(tmp_path, text)).area.polygon == (
        (8.67, 49.40),
        (8.72, 49.40),
        (8.70, 49.42),
    )
    text = (
        fake_scenario_toml()
        .replace('[area]\nname = "Altstadt"\n', "")
        .replace("bbox = [8.67, 49.40, 8.72, 49.42]\n", "")
    )
    assert load_scenario(_write(tmp_path, text)).area.kind == "region"


BAD = [
    # (edit of the good file, words the message must contain)
    (("[fleet]", "[flet]"), ["unknown section [flet]", "did you mean 'fleet'"]),
    (("capacity = [4, 8]", "capacty = [4, 8]"), ["[fleet] capacty", "did you mean 'capacity'"]),
    (("n_vehicles = [5, 10]", 'n_vehicles = ["ten"]'), ["[fleet] n_vehicles", "an integer >= 1"]),
    (("n_vehicles = [5, 10]", "n_vehicles = [0, 10]"), ["[fleet] n_vehicles", ">= 1", "got 0"]),
    (("n_vehicles = [5, 10]", "n_vehicles = []"), ["[fleet] n_vehicles", "empty list"]),
    (("n_vehicles = [5, 10]", "n_vehicles = [5, 5]"), ["[fleet] n_vehicles", "twice"]),
    (("n_vehicles = [5, 10]\n", ""), ["[fleet] n_vehicles is missing", "add e.g."]),
    (("alpha = 1.5", "alpha = 0.5"), ["[service] alpha", "a number >= 1"]),
    (("max_wait_min = 15", "max_wait_min = 0"), ["[service] max_wait_min", "> 0"]),
    (
        ("bbox = [8.67, 49.40, 8.72, 49.42]", "bbox = [8.72, 49.40, 8.67, 49.42]"),
        ["[area] bbox", "min_lon < max_lon"],
    ),
    (
        ('window = ["07:00", "10:00"]', 'window = ["10:00", "07:00"]'),
        ["[demand] window", "not after start"],
    ),
    (('window = ["07:00", "10:00"]', 'window = ["7 am", "10:00"]'), ["[demand] window", "HH:MM"]),
    (("date = 2022-09-14", 'date = "14.09.2022"'), ["[demand] date", "YYYY-MM-DD"]),
    (('region = "heidelberg"', 'region = "atlantis"'), ["[scenario] region", "atlantis"]),
    (('name = "fake-sweep"\n', ""), ["[scenario] name is missing"]),
    (("seeds = [1, 2]", "seeds = [1, -2]"), ["[sweep] seeds", "integers >= 0"]),
    (("seeds = [1, 2]", 'seeds = [1, 2]\nmode = "random"'), ["[sweep] mode", '"cross"']),
    (("seeds = [1, 2]", 'seeds = [1, 2]\nmode = "list"'), ["[sweep]", "[[sweep.runs]]"]),
    (
        ("served_share = { min = 0.9 }", "served_share = 0.9"),
        ["[targets] served_share", "{ min = VALUE }"],
    ),
    (
        ("served_share = { min = 0.9 }", 'served_share = { min = "most" }'),
        ["[targets] served_share", "must be a number"],
    ),
    (
        ("requests = 400", 'requests = 400\ntravel_times = "teleport"'),
        ["[demand] travel_times", "auto, road, crowfly"],
    ),
    (("[fleet]", "[fleet]\ndepots = [[8.69, 49.41]]"), ["[fleet] depots", "[lat, lon]"]),
    (("[area]", '[area]\nfile = "nowhere.poly"'), ["[area]", "exactly one of"]),
    (("requests = 400", "requests = 400 400"), ["not valid TOML", "fix the syntax"]),
    (
        ("[sweep]", "[demand_model.gravity]\ntarget_mean_minute = 4\n[sweep]"),
        ["[demand_model]", "unknown key [gravity] target_mean_minute", "did you mean"],
    ),
    (
        ("[sweep]", "[demand_model]\ngravity = 4\n[sweep]"),
        ["[demand_model] gravity must be a table"],
    ),
]


@pytest.mark.parametrize(("edit", "words"), BAD, ids=[w[0] for _, w in BAD])
def test_malformed_scenario_names_the_key_and_the_fix(
    tmp_path: Path, edit: tuple[str, str], words: list[str]
) -> None:
    good = fake_scenario_toml()
    assert edit[0] in good
    path = _write(tmp_path, good.replace(edit[0], edit[1], 1))
    with pytest.raises(DataError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message or "not valid TOML" in message
    for word in words:
        assert word in message, message


def test_missing_files_and_unknown_target_kpis(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_scenario(tmp_path / "nope.toml")
    text = fake_scenario_toml().replace(
        'name = "Altstadt"\nbbox = [8.67, 49.40, 8.72, 49.42]', 'file = "missing.poly"'
    )
    with pytest.raises(DataError, match=r"\[area\] file: file .*missing.poly does not exist"):
        load_scenario(_write(tmp_path, text))
    scenario = load_scenario(_write(tmp_path, fake_scenario_toml()))
    check_targets(scenario, ["served_share", "wait_mean_min"])
    with pytest.raises(DataError, match=r"\[targets\] wait_mean_min: no such KPI.*did you mean"):
        check_targets(scenario, ["served_share", "wait_mean_s"])


def test_parse_scenario_rejects_non_tables() -> None:
    with pytest.raises(DataError, match=r"\[fleet\]: expected a table"):
        parse_scenario({"scenario": {"name": "x", "region": "heidelberg"}, "fleet": [1, 2]})
    with pytest.raises(DataError, match="expected tables"):
        parse_scenario([1, 2])  # type: ignore[arg-type]


def test_repository_scenarios_are_valid() -> None:
    from fleet.concepts.compare import load_comparison

    files = sorted((PROJECT_ROOT / "scenarios").glob("*.toml"))
    assert files, "scenarios/ holds the default scenario"
    comparisons = [p for p in files if p.name.endswith("-compare.toml")]
    for path in files:
        if path in comparisons:  # a sweep scenario plus the concept tables
            assert load_comparison(path).runs()
            continue
        scenario = load_scenario(path)
        assert scenario.runs() and scenario.targets
