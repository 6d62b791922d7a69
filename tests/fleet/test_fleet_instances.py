"""Loaders for the Cordeau DARP and Li & Lim PDPTW benchmark files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fleet.instances import load_best_known, load_cordeau, load_instance, load_lilim
from routing.errors import DataError


@pytest.fixture(scope="module")
def fleet_dir(mirror_dir: Path) -> Path:
    return mirror_dir / "fleet"


def test_cordeau_a2_16_exact_counts(fleet_dir: Path) -> None:
    inst = load_cordeau(fleet_dir / "cordeau" / "a2-16.txt")
    assert (inst.n_nodes, inst.n_requests, inst.n_vehicles) == (34, 16, 2)
    assert inst.capacity.tolist() == [[3, 0], [3, 0]]
    assert inst.max_ride.tolist() == [30.0] * 16
    assert inst.max_duration.tolist() == [480.0, 480.0]
    assert inst.pickup.tolist() == list(range(1, 17))
    assert inst.dropoff.tolist() == list(range(17, 33))
    assert inst.start_node.tolist() == [0, 0]
    assert inst.end_node.tolist() == [33, 33]
    # node 9: "9 7.976 -9.000 3 1 276 291"
    assert (inst.x[9], inst.y[9], inst.service[9], inst.early[9], inst.late[9]) == (
        7.976,
        -9.0,
        3.0,
        276.0,
        291.0,
    )
    assert inst.demand[9].tolist() == [1, 0]
    assert inst.demand[25].tolist() == [-1, 0]
    assert inst.matrix.time[0, 9] == pytest.approx(np.hypot(7.976, -9.0))
    assert inst.objective == "cost"
    assert inst.family == "cordeau"


def test_lilim_lc101_exact_counts(fleet_dir: Path) -> None:
    inst = load_lilim(fleet_dir / "lilim" / "lc101.txt")
    assert (inst.n_nodes, inst.n_requests, inst.n_vehicles) == (107, 53, 25)
    assert int(inst.capacity[0, 0]) == 200
    # "3 42 66 10 65 146 90 0 75": pickup 3 delivers at 75
    r = int(np.flatnonzero(inst.pickup == 3)[0])
    assert inst.dropoff[r] == 75
    assert inst.demand[3, 0] == 10
    assert inst.demand[75, 0] == -10
    assert np.isinf(inst.max_ride).all()
    assert np.isinf(inst.max_duration).all()
    assert inst.late[0] == 1236.0
    assert inst.objective == "vehicles-cost"


def test_every_benchmark_file_loads(fleet_dir: Path) -> None:
    cordeau = sorted((fleet_dir / "cordeau").glob("a*.txt"))
    lilim = sorted((fleet_dir / "lilim").glob("l*.txt"))
    assert (len(cordeau), len(lilim)) == (24, 56)
    for path in cordeau + lilim:
        inst = load_instance(path)
        bks = load_best_known(path)
        assert bks is not None, path
        assert bks.cost > 0, path
        assert inst.n_requests * 2 + (2 if path in cordeau else 1) == inst.n_nodes
    a896 = load_instance(fleet_dir / "cordeau" / "a8-96.txt")
    assert (a896.n_requests, a896.n_vehicles) == (96, 8)
    assert load_best_known(fleet_dir / "cordeau" / "a8-96.txt").cost == 1229.66
    lr204 = load_best_known(fleet_dir / "lilim" / "lr204.txt")
    assert (lr204.vehicles, lr204.cost) == (2, 849.0504)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


CORDEAU_OK = """1 1 100 3 30
0 0 0 0 0 0 100
1 1 0 1 1 0 100
2 2 0 1 -1 0 100
3 0 0 0 0 0 100
"""


def test_cordeau_tiny_file_and_errors(tmp_path: Path) -> None:
    inst = load_cordeau(_write(tmp_path, "t.txt", CORDEAU_OK))
    assert (inst.n_nodes, inst.n_requests) == (4, 1)
    bad_number = CORDEAU_OK.replace("2 2 0 1 -1", "2 2 zero 1 -1")
    with pytest.raises(DataError, match=r"line 4: field 'y' is 'zero'"):
        load_cordeau(_write(tmp_path, "a.txt", bad_number))
    with pytest.raises(DataError, match=r"expected 4 node lines .* found 3"):
        load_cordeau(_write(tmp_path, "b.txt", CORDEAU_OK.rsplit("3 0 0", 1)[0]))
    with pytest.raises(DataError, match=r"line 4: field 'load' of drop-off 2"):
        load_cordeau(_write(tmp_path, "c.txt", CORDEAU_OK.replace("1 -1 0", "1 -2 0")))
    with pytest.raises(DataError, match=r"line 3: expected 7 fields"):
        load_cordeau(_write(tmp_path, "d.txt", CORDEAU_OK.replace("1 1 0 1 1 0 100", "1 1 0 1")))
    with pytest.raises(DataError, match=r"line 1: field 'requests'"):
        load_cordeau(_write(tmp_path, "e.txt", CORDEAU_OK.replace("1 1 100", "1 1.5 100")))
    with pytest.raises(DataError, match="time window"):
        load_cordeau(
            _write(tmp_path, "f.txt", CORDEAU_OK.replace("1 1 0 1 1 0 100", "1 1 0 1 1 50 10"))
        )


LILIM_OK = "2\t10\t0\n0 0 0 0 0 100 0 0 0\n1 1 0 5 0 100 1 0 2\n2 2 0 -5 0 100 1 1 0\n"


def test_lilim_tiny_file_and_errors(tmp_path: Path) -> None:
    inst = load_lilim(_write(tmp_path, "t.txt", LILIM_OK))  # speed 0 is read as 1
    assert (inst.n_requests, inst.n_vehicles, inst.matrix.speed) == (1, 2, 1.0)
    with pytest.raises(DataError, match=r"line 4: field 'pickup' is 2"):
        load_lilim(_write(tmp_path, "a.txt", LILIM_OK.replace("-5 0 100 1 1 0", "-5 0 100 1 2 0")))
    with pytest.raises(DataError, match=r"line 4: field 'demand' is -4"):
        load_lilim(_write(tmp_path, "b.txt", LILIM_OK.replace("-5 0", "-4 0")))
    with pytest.raises(DataError, match=r"line 3: field 'delivery' is 7"):
        load_lilim(_write(tmp_path, "c.txt", LILIM_OK.replace("1 0 2\n", "1 0 7\n")))
    with pytest.raises(DataError, match="does not exist"):
        load_instance(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="header has 4 fields"):
        load_instance(_write(tmp_path, "d.txt", "1 2 3 4\n"))
