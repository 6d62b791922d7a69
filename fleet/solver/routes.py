"""Editing and costing routes in place (numba, arrays only).

Routes are rows of ``routes`` with lengths ``lens`` (:class:`fleet.solver.data.RouteState`).
"""

from __future__ import annotations

import numpy as np

from fleet.solver.data import BoolArray, FloatArray, IntArray
from fleet.solver.jit import njit, njit_borrowed


@njit_borrowed
def build_inserted(seq: IntArray, n: int, p: int, d: int, i: int, j: int, out: IntArray) -> int:
    """Write ``seq[:n]`` with ``p`` before old position ``i`` and ``d`` before ``j`` into ``out``.

    ``j == i`` puts ``d`` right after ``p``. Returns the new length ``n + 2``.
    """
    m = 0
    for q in range(n):
        if q == i:
            out[m] = p
            m += 1
        if q == j:
            out[m] = d
            m += 1
        out[m] = seq[q]
        m += 1
    return m


@njit
def remove_nodes(routes: IntArray, lens: IntArray, flag: BoolArray) -> None:
    """Delete every node with ``flag[node]`` True from the routes, in place."""
    K = routes.shape[0]
    for k in range(K):
        m = 0
        for q in range(lens[k]):
            v = routes[k, q]
            if not flag[v]:
                routes[k, m] = v
                m += 1
        lens[k] = m


@njit
def route_costs(routes: IntArray, lens: IntArray, cost: FloatArray) -> FloatArray:
    """Travel cost of every route under the matrix ``cost`` (0 for an empty one)."""
    K = routes.shape[0]
    out = np.zeros(K)
    for k in range(K):
        if lens[k] <= 2:
            continue
        s = 0.0
        for q in range(lens[k] - 1):
            s += cost[routes[k, q], routes[k, q + 1]]
        out[k] = s
    return out
