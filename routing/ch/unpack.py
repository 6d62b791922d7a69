"""Shortcut unpacking: the original edges of a hierarchy path (shared by CH and CCH).

A query leaves, per direction, the parent arc and parent node of every node it
reached (rows 4-7 of :attr:`QueryState.wi <routing.ch.query.QueryState>`).
:func:`unpack_path` walks them from the meeting node back to the source and on
to the target, then expands every shortcut depth-first into its two halves
(``arc_child_a`` first) until only original edges remain. Classic and
customized hierarchies store shortcuts the same way, so one kernel serves both.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from routing.arrays import Int32Array, Int64Array, grow_array


@njit(cache=True, nogil=True)
def unpack_path(
    meet: int, wi: Int32Array, arc_edge: Int64Array, arc_ca: Int32Array, arc_cb: Int32Array
) -> tuple[Int64Array, int]:
    """Original edges of the path through ``meet``; also return the start rank.

    Parameters
    ----------
    meet : int
        Rank where the forward and backward searches met.
    wi : ndarray of int32, shape (10, n)
        The query state's integer rows; rows 4-7 hold the parent arcs and
        nodes of the forward and backward search.
    arc_edge, arc_ca, arc_cb : ndarray
        The hierarchy's arcs: original edge or ``-1``, and a shortcut's halves.

    Returns
    -------
    edges : ndarray of int64
        Original edge ids from source to target.
    start : int
        Rank of the path's first node.
    """
    pf_arc = wi[4]
    pf_node = wi[5]
    pb_arc = wi[6]
    pb_node = wi[7]
    # CH arcs from source to meet (reversed while walking back), then meet to target.
    count = 0
    v = meet
    while pf_arc[v] >= 0:
        count += 1
        v = pf_node[v]
    start = v
    v = meet
    while pb_arc[v] >= 0:
        count += 1
        v = pb_node[v]
    arcs = np.empty(count, dtype=np.int32)
    k = 0
    v = meet
    while pf_arc[v] >= 0:
        k += 1
        v = pf_node[v]
    i = k - 1
    v = meet
    while pf_arc[v] >= 0:
        arcs[i] = pf_arc[v]
        i -= 1
        v = pf_node[v]
    v = meet
    while pb_arc[v] >= 0:
        arcs[k] = pb_arc[v]
        k += 1
        v = pb_node[v]
    # Expand shortcuts depth-first, first half first.
    out = np.empty(max(16, 4 * count), dtype=np.int64)
    n_out = 0
    stack = np.empty(64, dtype=np.int32)
    for j in range(count):
        top = 0
        stack[top] = arcs[j]
        top += 1
        while top > 0:
            top -= 1
            a = stack[top]
            if arc_edge[a] >= 0:
                if n_out == out.shape[0]:
                    out = grow_array(out, 2 * n_out)
                out[n_out] = arc_edge[a]
                n_out += 1
            else:
                if top + 2 > stack.shape[0]:
                    stack = grow_array(stack, 2 * stack.shape[0])
                stack[top] = arc_cb[a]
                stack[top + 1] = arc_ca[a]
                top += 2
    return out[:n_out].copy(), start


__all__ = ["unpack_path"]
