"""Typed ``numba.njit`` decorators for the solver kernels.

numba ships no type information, so a bare ``@njit`` makes every kernel
untyped for mypy. These wrappers keep each kernel's own annotations, so calls
from Python are type-checked; numba itself ignores annotations.

Two flavours:

- :func:`njit` for every kernel;
- :func:`njit_borrowed` for the hot helpers that only read and write arrays
  their caller owns (the schedule, the insertion evaluation, route edits).
  They are compiled without numba's reference counting: a call to a kernel
  that takes :class:`~fleet.solver.data.ProblemData` otherwise pays an atomic
  increment and decrement for each of its 17 arrays, plus one per array
  taken out of it or viewed, and those helpers run millions of times per
  solve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])

# numba's stubs do not list the private ``_nrt`` option: pass the options as a dict.
_COUNTED: dict[str, Any] = {"cache": True, "_nrt": True}
_BORROWED: dict[str, Any] = {"cache": True, "_nrt": False}


def njit(func: F) -> F:
    """Compile ``func`` in nopython mode with an on-disk cache.

    Parameters
    ----------
    func : callable
        A kernel on arrays and scalars only.

    Returns
    -------
    callable
        The numba dispatcher, typed as ``func``.
    """
    # _nrt set explicitly: numba would otherwise compile a kernel called from an
    # njit_borrowed one without reference counting too (the flag is inherited).
    return cast(F, numba.njit(**_COUNTED)(func))


def njit_borrowed(func: F) -> F:
    """:func:`njit` without reference counting, for kernels that borrow every array.

    The kernel must allocate no array (``np.empty``, ``copy``, ``argsort`` ...:
    numba refuses to compile that) and return none, so every array it sees
    belongs to its caller and outlives the call. It may call :func:`njit`
    kernels that return no array (they count references as usual, and may
    allocate inside). numba's ``_nrt`` option is private but stable: numba
    compiles its own string kernels with it.

    Parameters
    ----------
    func : callable
        A kernel on arrays and scalars only.

    Returns
    -------
    callable
        The numba dispatcher, typed as ``func``.
    """
    return cast(F, numba.njit(**_BORROWED)(func))
