"""The one-way dependency rule of ARCHITECTURE.md, checked on every import statement.

routing <- demand <- fleet <- api: ``routing`` imports none of the others,
``demand`` only ``routing``, ``fleet`` ``demand`` and ``routing``; nothing imports
``api``; the library imports neither ``tests`` nor ``benchmarks``; benchmarks
import everything but ``tests`` (tests may import benchmarks). Imports are read
with :mod:`ast`, so an import inside a function or under ``TYPE_CHECKING``
counts as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("routing", "demand", "fleet", "api", "benchmarks", "tests", "scripts")

#: Top-level packages of ours that each package must not import.
FORBIDDEN = {
    "routing": {"demand", "fleet", "api", "benchmarks", "tests"},
    "demand": {"fleet", "api", "benchmarks", "tests"},
    "fleet": {"api", "benchmarks", "tests"},
    "api": {"benchmarks", "tests"},
    "benchmarks": {"tests"},
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """The top-level packages of ours that a module imports, with the line of each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update((name.split(".")[0], node.lineno) for name in names)
    return {(top, line) for top, line in found if top in OURS}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_dependency_rule(package: str) -> None:
    files = modules(package)
    assert files, f"no modules found under {package}/"
    broken = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in files
        for top, line in sorted(imported_packages(path))
        if top in FORBIDDEN[package]
    ]
    assert not broken, "\n".join(broken)


def test_the_checker_sees_imports_anywhere(tmp_path: Path) -> None:
    """A forbidden import inside a function or a TYPE_CHECKING block is found too."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import routing.geo\n"
        "if TYPE_CHECKING:\n"
        "    from fleet.model import Trip\n"
        "def f():\n"
        "    import api.app as app\n"
        "    from . import sibling\n"
        "    return app\n"
    )
    assert imported_packages(module) == {("routing", 2), ("fleet", 4), ("api", 6)}


def test_no_library_or_benchmark_names_test_code_in_a_string() -> None:
    """Module paths in strings (uvicorn factories, ``-m`` targets) count as imports too."""
    broken = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in FORBIDDEN
        for path in modules(package)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "tests.support" in line or "tests.api" in line
    ]
    assert not broken, "\n".join(broken)
