"""A metric-independent node order by nested dissection (inertial flow).

A customizable contraction hierarchy (:mod:`routing.ch.customization`) contracts nodes in
an order that does not depend on travel times, so closures and traffic never
change it. Nested dissection gives such an order with little fill-in: cut the
graph by a small set of nodes (a *separator*), order both halves recursively
first and the separator last. Road networks have small separators (rivers,
railways and ring roads leave few crossings), which is why CCH queries stay fast.

Separators come from *inertial flow* (Schild & Sommer 2015, used by RoutingKit):
project the nodes onto a line (four directions are tried), tie the first
quarter to a source and the last quarter to a sink, and take a minimum vertex
cut between them, found as a maximum flow with unit node capacities
(``scipy.sparse.csgraph.maximum_flow``). The direction with the smallest cut wins.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, maximum_flow

#: Parts this small are ordered by minimum degree instead of being cut further.
LEAF_SIZE = 256
#: Share of the projected nodes tied to the source and to the sink.
INERTIAL_SHARE = 0.25
_DIRECTIONS = ((1.0, 0.0), (0.0, 1.0), (0.7071, 0.7071), (0.7071, -0.7071))


def _undirected(n: int, tails: np.ndarray, heads: np.ndarray) -> csr_matrix:
    """Symmetric 0/1 adjacency without self loops."""
    keep = tails != heads
    a, b = tails[keep], heads[keep]
    rows = np.concatenate((a, b))
    cols = np.concatenate((b, a))
    m = coo_matrix((np.ones(rows.shape[0], dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    m.data[:] = 1
    return m


def _min_degree(adj: csr_matrix) -> np.ndarray:
    """Greedy minimum-degree elimination order of a small graph (local indices)."""
    k = adj.shape[0]
    nbrs = [set(adj.indices[adj.indptr[i] : adj.indptr[i + 1]].tolist()) for i in range(k)]
    alive = set(range(k))
    order = []
    while alive:
        v = min(alive, key=lambda x: (len(nbrs[x]), x))
        order.append(v)
        alive.discard(v)
        around = nbrs[v]
        for u in around:
            nbrs[u].discard(v)
            nbrs[u] |= around - {u}
    return np.asarray(order, dtype=np.int64)


def _vertex_cut(adj: csr_matrix, sources: np.ndarray, sinks: np.ndarray) -> np.ndarray:
    """Local ids of a minimum vertex cut separating ``sources`` from ``sinks``."""
    k = adj.shape[0]
    big = k + 1
    s, t = 2 * k, 2 * k + 1
    coo = adj.tocoo()
    rows = np.concatenate(
        (2 * np.arange(k), 2 * coo.row + 1, np.full(sources.shape[0], s), 2 * sinks + 1)
    )
    cols = np.concatenate(
        (2 * np.arange(k) + 1, 2 * coo.col, 2 * sources, np.full(sinks.shape[0], t))
    )
    caps = np.concatenate(
        (
            np.ones(k, dtype=np.int32),
            np.full(coo.row.shape[0], big, dtype=np.int32),
            np.full(sources.shape[0] + sinks.shape[0], big, dtype=np.int32),
        )
    )
    cap = csr_matrix((caps, (rows, cols)), shape=(2 * k + 2, 2 * k + 2), dtype=np.int32)
    cap.sum_duplicates()
    flow = maximum_flow(cap, s, t, method="dinic").flow
    residual = (cap - flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    seen = np.zeros(2 * k + 2, dtype=bool)
    seen[breadth_first_order(residual, s, directed=True, return_predecessors=False)] = True
    v = np.arange(k)
    return np.flatnonzero(seen[2 * v] & ~seen[2 * v + 1])


def _separator(adj: csr_matrix, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The smallest inertial-flow separator over the four directions (local ids)."""
    k = adj.shape[0]
    share = max(1, int(INERTIAL_SHARE * k))
    best: np.ndarray | None = None
    for dx, dy in _DIRECTIONS:
        order = np.argsort(dx * x + dy * y, kind="stable")
        cut = _vertex_cut(adj, order[:share], order[-share:])
        if best is None or cut.shape[0] < best.shape[0]:
            best = cut
    assert best is not None
    return best


def nested_dissection_order(
    n: int, tails: np.ndarray, heads: np.ndarray, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Nodes from the first contracted (lowest rank) to the last.

    Parameters
    ----------
    n : int
        Number of nodes.
    tails, heads : ndarray of int
        Arcs (direction and duplicates do not matter).
    x, y : ndarray of float, shape (n,)
        Node coordinates in any planar projection (only their order along
        a direction is used).

    Returns
    -------
    ndarray of int64, shape (n,)
        A permutation of ``0..n-1``.
    """
    full = _undirected(n, np.asarray(tails, np.int64), np.asarray(heads, np.int64))
    out: list[np.ndarray] = []
    # Work items: (node ids, already known to be connected?)
    stack: list[np.ndarray] = [np.arange(n, dtype=np.int64)]
    # Separators are emitted after their parts: keep a post-order with markers.
    pending: list[tuple[str, np.ndarray]] = [("cut", stack.pop())]
    while pending:
        kind, nodes = pending.pop()
        if kind == "emit":
            out.append(nodes)
            continue
        sub = full[nodes][:, nodes]
        n_parts, labels = connected_components(sub, directed=False)
        if n_parts > 1:
            for part in range(n_parts):
                pending.append(("cut", nodes[labels == part]))
            continue
        if nodes.shape[0] <= LEAF_SIZE:
            out.append(nodes[_min_degree(sub)])
            continue
        sep = _separator(sub, np.asarray(x)[nodes], np.asarray(y)[nodes])
        rest = np.ones(nodes.shape[0], dtype=bool)
        rest[sep] = False
        # Emitted last: the separator ranks above everything in this part.
        pending.append(("emit", nodes[sep]))
        pending.append(("cut", nodes[rest]))
    order = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    assert order.shape[0] == n, "nested dissection lost or duplicated nodes"
    return order


__all__ = ["nested_dissection_order"]
