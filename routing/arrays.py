"""Type aliases for the numpy arrays the routing core passes around.

Kernels take and return plain arrays (see ``ARCHITECTURE.md``); these names
say which dtype an argument has without repeating ``NDArray[...]`` everywhere.
They are aliases only: nothing is checked at run time. :func:`grow_array`
is the one array helper the kernels share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
"""float64 array (seconds, metres, degrees)."""
Int32Array = NDArray[np.int32]
"""int32 array (node ids, ranks, arc ids)."""
Int64Array = NDArray[np.int64]
"""int64 array (CSR offsets, original edge ids)."""
IntArray = NDArray[np.integer[Any]]
"""Integer array of any width."""
BoolArray = NDArray[np.bool_]
"""Boolean mask."""
AnyArray = NDArray[Any]
"""Array of any dtype."""


@njit(cache=True, nogil=True)
def grow_array(a: AnyArray, size: int) -> AnyArray:
    """A copy of ``a`` with room for ``size`` entries (numba has no in-place resize).

    Parameters
    ----------
    a : ndarray, 1-d
        The array to grow; its entries are copied to the front of the result.
    size : int
        Length of the result, at least ``len(a)``.

    Returns
    -------
    ndarray
        Same dtype as ``a``; entries past ``len(a)`` are uninitialised.
    """
    out = np.empty(size, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


__all__ = [
    "AnyArray",
    "BoolArray",
    "FloatArray",
    "Int32Array",
    "Int64Array",
    "IntArray",
    "grow_array",
]
