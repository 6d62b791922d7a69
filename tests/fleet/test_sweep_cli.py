"""``elster sweep``: the verb with the test-only fake backend, dry runs and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.commands.sweep import register
from routing.errors import DataError
from tests.support.sweep import fake_scenario_toml


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second verb, so that "sweep" stays a sub-command
        """Nothing."""

    return app


def test_sweep_runs_reports_and_resumes(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(fake_scenario_toml())
    args = [
        "sweep",
        str(path),
        "--workers",
        "1",
        "--out",
        str(tmp_path / "out"),
        "--backend",
        "tests.support.sweep:fake_backend",
        "--no-progress",
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "fake-sweep: 8 runs, 8 computed, 0 already done, 0 failed" in first.output
    assert "smallest fleet meeting the targets (capacity 4):" in first.output
    assert (tmp_path / "out" / "summary.md").is_file()
    assert (tmp_path / "out" / "results.parquet").is_file()
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "8 runs, 0 computed, 8 already done" in second.output


def test_dry_run_lists_the_runs(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(fake_scenario_toml())
    done = CliRunner().invoke(app, ["sweep", str(path), "--dry-run"])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0] == "fake-sweep: 8 runs (swept: n_vehicles, capacity; seeds 1, 2)"
    assert len(lines) == 9 and "n_vehicles=5  capacity=4  seed=1" in lines[1]
    assert not (tmp_path / "out").exists()


def test_malformed_scenario_is_a_data_error_naming_the_key(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(fake_scenario_toml(capacity='"big"'))
    done = CliRunner().invoke(app, ["sweep", str(path), "--dry-run"])
    assert isinstance(done.exception, DataError)  # api.cli.main prints it and exits 2
    assert "[fleet] capacity: expected an integer >= 1" in str(done.exception)
    path.write_text(fake_scenario_toml())
    bad_backend = CliRunner().invoke(
        app, ["sweep", str(path), "--backend", "nowhere:thing", "--out", str(tmp_path / "out")]
    )
    assert isinstance(bad_backend.exception, DataError)
    assert "--backend 'nowhere:thing': cannot import it" in str(bad_backend.exception)
