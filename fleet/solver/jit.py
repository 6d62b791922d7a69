"""A typed ``numba.njit`` for the solver kernels.

numba ships no type information, so a bare ``@njit`` makes every kernel
untyped for mypy. This wrapper keeps each kernel's own annotations, so calls
from Python are type-checked; numba itself ignores annotations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


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
    return cast(F, numba.njit(cache=True)(func))
