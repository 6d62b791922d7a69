"""The solver's two numba decorators: borrowed kernels and the kernels they call."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest
from numba.core.errors import TypingError

from fleet.solver.insertion import insertion_prepared, route_prep
from fleet.solver.jit import njit, njit_borrowed
from fleet.solver.repair import repair_core
from fleet.solver.schedule import route_schedule


@njit
def _order_into(x: np.ndarray, out: np.ndarray) -> None:
    out[: x.size] = np.argsort(x)


@njit_borrowed
def _smallest_via_order(x: np.ndarray, out: np.ndarray) -> int:
    _order_into(x, out)
    return int(out[0])


@njit_borrowed
def _allocates(n: int) -> float:
    return float(np.zeros(n).sum())


def test_a_borrowed_kernel_calls_an_allocating_kernel() -> None:
    # njit kernels keep reference counting even when a borrowed kernel calls them
    # (numba would otherwise pass its flag on), so they can still allocate.
    x = np.array([3.0, 1.0, 2.0])
    out = np.full(3, -1, dtype=np.int64)
    assert _smallest_via_order(x, out) == 1
    assert out.tolist() == [1, 2, 0]


def test_a_borrowed_kernel_cannot_allocate() -> None:
    with pytest.raises(TypingError):
        _allocates(3)


def test_hot_helpers_are_borrowed_and_their_callers_are_not() -> None:
    for kernel in (route_schedule, route_prep, insertion_prepared):
        assert cast(Any, kernel).targetoptions["_nrt"] is False, kernel
    assert cast(Any, repair_core).targetoptions["_nrt"] is True
