"""Saving, loading and checking hierarchies: one content-keyed cache for CH and CCH.

Both hierarchies are stored the same way (:mod:`routing.cache`: one ``.npy``
per array plus ``meta.json``, written atomically, memory-mapped on load) under
a key that hashes exactly what they depend on:

* a classic hierarchy (``ch-<profile>``) on the topology, travel times and
  lengths (:data:`CH_INPUTS`) and :data:`CH_FORMAT_VERSION`;
* a CCH structure (``cch-<profile>``) on the topology and coordinates only
  (:data:`CCH_INPUTS`; it is metric-independent), :data:`CCH_FORMAT_VERSION`
  and the ordering parameters.

:func:`save_ch` / :func:`load_ch` and :func:`save_cch_structure` /
:func:`load_cch_structure` are the explicit API; :func:`contraction_hierarchy`
and :func:`cch_structure` load or build and save. :func:`check_hierarchy` and
:func:`check_cch_structure` verify the invariants a query relies on (as
RoutingKit's ``check_contraction_hierarchy_for_errors``), for a file of unknown
origin or after a format change.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Generic, NoReturn, Protocol, TypeVar

import numpy as np

from routing import ordering
from routing.arrays import AnyArray
from routing.cache import cache_key, load_arrays, save_arrays
from routing.ch.contraction import build_ch
from routing.ch.customization import CCHStructure, build_cch_structure, customize
from routing.ch.query import ARRAY_FIELDS, ContractionHierarchy, CustomizedHierarchy
from routing.errors import DataError
from routing.graph import RoadGraph

log = logging.getLogger(__name__)

CH_FORMAT_VERSION = 1
"""Bump when the arrays of a classic hierarchy change meaning."""
CCH_FORMAT_VERSION = 2
"""Bump when the arrays of a CCH structure change meaning."""
CH_INPUTS = ("first_out", "head", "travel_time", "length_m")
"""Graph arrays a classic hierarchy depends on."""
CCH_INPUTS = ("first_out", "head", "lat", "lon")
"""Graph arrays a CCH structure depends on (no weights: it is metric-independent)."""


class _Stored(Protocol):
    """What the cache needs of a stored object."""

    def array_fields(self) -> dict[str, np.ndarray]: ...


_T = TypeVar("_T", bound=_Stored)


def _digest(graph: RoadGraph, names: tuple[str, ...]) -> str:
    """sha256 over the named graph arrays (name, dtype and bytes of each)."""
    digest = hashlib.sha256()
    for name in names:
        array = np.ascontiguousarray(getattr(graph, name))
        digest.update(name.encode())
        digest.update(array.dtype.str.encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def graph_digest(graph: RoadGraph) -> str:
    """Content hash of the arrays a classic hierarchy depends on (:data:`CH_INPUTS`).

    Parameters
    ----------
    graph : RoadGraph
        The graph.

    Returns
    -------
    str
        Hex sha256.
    """
    return _digest(graph, CH_INPUTS)


def structure_digest(graph: RoadGraph) -> str:
    """Content hash of what a CCH structure depends on: the topology and coordinates.

    Parameters
    ----------
    graph : RoadGraph
        The graph.

    Returns
    -------
    str
        Hex sha256.
    """
    return _digest(graph, CCH_INPUTS)


@dataclass(frozen=True)
class _Entry(Generic[_T]):
    """How one kind of hierarchy is keyed, restored and described in the cache."""

    label: str
    kind: Callable[[RoadGraph], str]
    key: Callable[[RoadGraph], str]
    names: frozenset[str]
    restore: Callable[[RoadGraph, dict[str, AnyArray]], _T]
    meta: Callable[[RoadGraph, _T], dict[str, Any]]

    def load(self, graph: RoadGraph, cache_dir: Path) -> _T | None:
        hit = load_arrays(Path(cache_dir), self.kind(graph), self.key(graph))
        if hit is None:
            return None
        arrays, _meta = hit
        if set(arrays) == self.names and arrays["rank"].shape[0] == graph.n_nodes:
            log.info("loaded %s %s from cache (%d nodes)", graph.profile, self.label, graph.n_nodes)
            return self.restore(graph, arrays)
        log.warning("cached %s %s does not match the graph; rebuilding", graph.profile, self.label)
        return None

    def save(self, graph: RoadGraph, item: _T, cache_dir: Path) -> Path:
        return save_arrays(
            Path(cache_dir),
            self.kind(graph),
            self.key(graph),
            item.array_fields(),
            self.meta(graph, item),
        )

    def load_or_build(
        self, graph: RoadGraph, cache_dir: Path | None, build: Callable[[RoadGraph], _T]
    ) -> _T:
        if cache_dir is None:
            return build(graph)
        item = self.load(graph, cache_dir)
        if item is None:
            item = build(graph)
            self.save(graph, item, cache_dir)
        return item


_CH = _Entry[ContractionHierarchy](
    label="CH",
    kind=lambda graph: f"ch-{graph.profile}",
    key=lambda graph: cache_key(graph_digest(graph), CH_FORMAT_VERSION),
    names=frozenset(ARRAY_FIELDS),
    restore=lambda graph, arrays: ContractionHierarchy(
        graph, **{k: arrays[k] for k in ARRAY_FIELDS}
    ),
    meta=lambda graph, ch: {
        "profile": graph.profile,
        "nodes": ch.n_nodes,
        "shortcuts": ch.n_shortcuts,
    },
)

_CCH_NAMES = tuple(f.name for f in fields(CCHStructure))

_CCH = _Entry[CCHStructure](
    label="CCH",
    kind=lambda graph: f"cch-{graph.profile}",
    key=lambda graph: cache_key(
        structure_digest(graph), CCH_FORMAT_VERSION, ordering.LEAF_SIZE, ordering.INERTIAL_SHARE
    ),
    names=frozenset(_CCH_NAMES),
    restore=lambda _graph, arrays: CCHStructure(**{k: arrays[k] for k in _CCH_NAMES}),
    meta=lambda graph, s: {
        "profile": graph.profile,
        "edges": s.n_edges,
        "triangles": s.n_triangles,
    },
)


def save_ch(ch: ContractionHierarchy, cache_dir: Path) -> Path:
    """Store a classic hierarchy under ``cache_dir`` (keyed by its graph's content).

    Parameters
    ----------
    ch : ContractionHierarchy
        Built by :func:`routing.ch.build_ch`.
    cache_dir : Path
        Root of the cache.

    Returns
    -------
    Path
        The entry's directory.
    """
    return _CH.save(ch.graph, ch, cache_dir)


def load_ch(graph: RoadGraph, cache_dir: Path) -> ContractionHierarchy | None:
    """The stored hierarchy of ``graph`` (memory-mapped), or ``None`` when there is none.

    Parameters
    ----------
    graph : RoadGraph
        The graph it was built from (same topology, travel times and lengths).
    cache_dir : Path
        Root of the cache.

    Returns
    -------
    ContractionHierarchy or None
        ``None`` also when the entry was damaged (it is then removed).
    """
    return _CH.load(graph, cache_dir)


def contraction_hierarchy(graph: RoadGraph, *, cache_dir: Path | None) -> ContractionHierarchy:
    """Return the hierarchy of ``graph``, from ``cache_dir`` when built before.

    The cache key is a hash of the graph's topology, travel times and lengths
    plus :data:`CH_FORMAT_VERSION`; a cached hierarchy is memory-mapped.

    Parameters
    ----------
    graph : RoadGraph
        The graph.
    cache_dir : Path or None
        Root of the cache; ``None`` always builds.

    Returns
    -------
    ContractionHierarchy
        Loaded, or built and saved.
    """
    return _CH.load_or_build(graph, cache_dir, build_ch)


def save_cch_structure(structure: CCHStructure, graph: RoadGraph, cache_dir: Path) -> Path:
    """Store a CCH structure of ``graph`` under ``cache_dir``.

    Parameters
    ----------
    structure : CCHStructure
        Built from ``graph`` by :func:`routing.ch.build_cch_structure`.
    graph : RoadGraph
        Its graph (the key hashes its topology and coordinates).
    cache_dir : Path
        Root of the cache.

    Returns
    -------
    Path
        The entry's directory.
    """
    return _CCH.save(graph, structure, cache_dir)


def load_cch_structure(graph: RoadGraph, cache_dir: Path) -> CCHStructure | None:
    """The stored CCH structure of ``graph`` (memory-mapped), or ``None``.

    Parameters
    ----------
    graph : RoadGraph
        The graph (same topology and coordinates as when it was saved).
    cache_dir : Path
        Root of the cache.

    Returns
    -------
    CCHStructure or None
        ``None`` also when the entry was damaged (it is then removed).
    """
    return _CCH.load(graph, cache_dir)


def cch_structure(graph: RoadGraph, *, cache_dir: Path | None) -> CCHStructure:
    """The :class:`CCHStructure` of ``graph``, from ``cache_dir`` when built before.

    Parameters
    ----------
    graph : RoadGraph
        The graph.
    cache_dir : Path or None
        Root of the cache; ``None`` always builds.

    Returns
    -------
    CCHStructure
        Loaded, or built and saved.
    """
    return _CCH.load_or_build(graph, cache_dir, build_cch_structure)


def customized_hierarchy(graph: RoadGraph, *, cache_dir: Path | None) -> CustomizedHierarchy:
    """The hierarchy of ``graph`` for its own travel times (structure from the cache).

    Parameters
    ----------
    graph : RoadGraph
        The graph.
    cache_dir : Path or None
        Root of the cache for the structure; ``None`` always builds.

    Returns
    -------
    CustomizedHierarchy
        Customized for ``graph.travel_time``.
    """
    return customize(cch_structure(graph, cache_dir=cache_dir), graph)


# ------------------------------------------------------------------- checks


def _fail(what: str) -> NoReturn:
    raise DataError(
        f"hierarchy check failed: {what}; rebuild it (delete its cache entry) and report "
        "the graph if it happens again"
    )


def check_hierarchy(ch: ContractionHierarchy, *, rtol: float = 1e-9) -> None:
    """Check the invariants every query on ``ch`` relies on; raise if one is broken.

    Checked: ``rank`` is a permutation with ``order`` its inverse; the query
    graph is well formed and every entry leads to a higher rank; each arc id
    occurs at most once (exactly once for a classic hierarchy); an original arc
    has its edge's travel time and length; a shortcut has valid halves whose
    weights and lengths add up to its own; an arc that is neither (a closed
    arc of a customized hierarchy) has an infinite weight.

    Parameters
    ----------
    ch : ContractionHierarchy
        A classic or customized hierarchy.
    rtol : float
        Relative tolerance for the sums of shortcut halves.

    Raises
    ------
    DataError
        Naming the first broken invariant.
    """
    n = ch.n_nodes
    graph = ch.graph
    if graph.n_nodes != n:
        _fail(f"{n} ranks for a graph of {graph.n_nodes} nodes")
    rank = np.asarray(ch.rank, dtype=np.int64)
    if not np.array_equal(np.sort(rank), np.arange(n)):
        _fail("rank is not a permutation of the nodes")
    if not np.array_equal(np.asarray(ch.order)[rank], np.arange(n)):
        _fail("order is not the inverse of rank")
    offsets, node, weight, arc = ch.query_graph
    n_arcs = ch.arc_edge.shape[0]
    for name, array in (("arc_child_a", ch.arc_child_a), ("arc_child_b", ch.arc_child_b),
                        ("arc_length", ch.arc_length)):  # fmt: skip
        if array.shape[0] != n_arcs:
            _fail(f"{name} has {array.shape[0]} entries for {n_arcs} arcs")
    if offsets.shape[0] != 2 * n + 1 or offsets[0] != 0 or offsets[-1] != node.shape[0]:
        _fail("query-graph offsets do not cover its entries")
    if np.any(np.diff(offsets) < 0):
        _fail("query-graph offsets decrease")
    owner = np.repeat(np.arange(2 * n) // 2, np.diff(offsets))
    if np.any(node <= owner):
        _fail("a query-graph entry does not lead to a higher rank")
    if arc.size and (arc.min() < 0 or arc.max() >= n_arcs):
        _fail("a query-graph arc id is out of range")
    seen = np.bincount(arc, minlength=n_arcs)
    if np.any(seen > 1):
        _fail("an arc occurs twice in the query graph")
    if not isinstance(ch, CustomizedHierarchy) and np.any(seen != 1):
        _fail("an arc is missing from the query graph")
    w = np.full(n_arcs, np.inf)
    w[arc] = weight
    ln = np.asarray(ch.arc_length, dtype=np.float64)
    edge = np.asarray(ch.arc_edge)
    ca, cb = np.asarray(ch.arc_child_a), np.asarray(ch.arc_child_b)
    original = np.flatnonzero((edge >= 0) & (seen > 0))
    if original.size:
        if edge[original].max() >= graph.n_edges:
            _fail("an arc names an edge the graph does not have")
        if not np.array_equal(w[original], np.asarray(graph.travel_time)[edge[original]]):
            _fail("an original arc's weight differs from its edge's travel time")
        if not np.array_equal(ln[original], np.asarray(graph.length_m)[edge[original]]):
            _fail("an original arc's length differs from its edge's length")
    shortcut = np.flatnonzero((edge < 0) & (ca >= 0))
    if shortcut.size:
        a, b = ca[shortcut], cb[shortcut]
        if b.min() < 0 or max(a.max(), b.max()) >= n_arcs:
            _fail("a shortcut's half is out of range")
        if not np.allclose(w[shortcut], w[a] + w[b], rtol=rtol, atol=0.0):
            _fail("a shortcut's weight is not the sum of its halves")
        if not np.allclose(ln[shortcut], ln[a] + ln[b], rtol=rtol, atol=0.0):
            _fail("a shortcut's length is not the sum of its halves")
    neither = np.flatnonzero((edge < 0) & (ca < 0) & (seen > 0))
    if neither.size and np.isfinite(w[neither]).any():
        _fail("an arc with neither an edge nor halves has a finite weight")


def check_cch_structure(structure: CCHStructure, graph: RoadGraph) -> None:
    """Check a CCH structure against its graph; raise if an invariant is broken.

    Checked: ``rank`` and ``order`` are inverse permutations; the edges of
    each rank lead to higher ranks, sorted; every triangle ``v < a < b`` names
    the edges ``{v, a}``, ``{v, b}`` and ``{a, b}``; every original edge but a
    self loop maps onto the hierarchy edge between its ends.

    Parameters
    ----------
    structure : CCHStructure
        Built from ``graph``.
    graph : RoadGraph
        The graph.

    Raises
    ------
    DataError
        Naming the first broken invariant.
    """
    s = structure
    n = s.n_nodes
    if graph.n_nodes != n or s.arc_cch.shape[0] != graph.n_edges:
        _fail("the structure was built for another graph")
    rank = np.asarray(s.rank, dtype=np.int64)
    if not np.array_equal(np.sort(rank), np.arange(n)):
        _fail("rank is not a permutation of the nodes")
    if not np.array_equal(np.asarray(s.order)[rank], np.arange(n)):
        _fail("order is not the inverse of rank")
    first = np.asarray(s.first_up)
    if first.shape[0] != n + 1 or first[0] != 0 or first[-1] != s.n_edges:
        _fail("first_up does not cover the edges")
    low = np.repeat(np.arange(n), np.diff(first))
    head = np.asarray(s.up_head, dtype=np.int64)
    if np.any(head <= low) or np.any(head >= n):
        _fail("an edge does not lead to a higher rank")
    if np.any((np.diff(head) <= 0) & (low[1:] == low[:-1])):
        _fail("the edges of a rank are not sorted")
    va, vb, ab = (np.asarray(x, dtype=np.int64) for x in (s.tri_va, s.tri_vb, s.tri_ab))
    if va.size:
        if min(va.min(), vb.min(), ab.min()) < 0:
            _fail("a triangle misses an edge")
        v, a, b = low[va], head[va], head[vb]
        if np.any(low[vb] != v) or np.any(low[ab] != a) or np.any(head[ab] != b) or np.any(a >= b):
            _fail("a triangle's edges do not close")
    tails = graph.tail().astype(np.int64)
    heads = np.asarray(graph.head, dtype=np.int64)
    ra, rb = rank[tails], rank[heads]
    mapped = np.asarray(s.arc_cch, dtype=np.int64)
    loops = ra == rb
    if np.any(mapped[~loops] < 0):
        _fail("an original edge has no hierarchy edge")
    e = mapped[~loops]
    lo, hi = np.minimum(ra, rb)[~loops], np.maximum(ra, rb)[~loops]
    if np.any(low[e] != lo) or np.any(head[e] != hi):
        _fail("an original edge maps onto the wrong hierarchy edge")
    if not np.array_equal(np.asarray(s.arc_up)[~loops], (ra < rb)[~loops]):
        _fail("an original edge has the wrong direction")


__all__ = [
    "CCH_FORMAT_VERSION",
    "CCH_INPUTS",
    "CH_FORMAT_VERSION",
    "CH_INPUTS",
    "cch_structure",
    "check_cch_structure",
    "check_hierarchy",
    "contraction_hierarchy",
    "customized_hierarchy",
    "graph_digest",
    "load_cch_structure",
    "load_ch",
    "save_cch_structure",
    "save_ch",
    "structure_digest",
]
