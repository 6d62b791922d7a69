"""OSM turn restrictions: read the relations, decide whom they bind, resolve them on a graph.

A ``type=restriction`` relation forbids (``no_*``) or prescribes (``only_*``)
the way a vehicle leaves a junction: from a ``from`` way, through a ``via``
node or one or more ``via`` ways, onto a ``to`` way.

Whom it binds (OSM wiki "Relation:restriction"):

* ``restriction=*`` binds every vehicle, ``restriction:<mode>=*`` (or a
  relation of ``type=restriction:<mode>``) only that mode; the most specific
  key present for a profile decides;
* ``except=psv;bicycle`` exempts the listed modes;
* ``restriction:conditional=no_left_turn @ (Mo-Fr 07:00-19:00)`` binds at the
  given times. The graph is static, so a conditional restriction whose
  condition is a weekday/time form that includes weekday daytime hours is
  **applied always** (a route never takes a turn that is forbidden at some
  hour of the working day); conditions that never touch weekday daytime
  (nights, weekends) and other conditions (weight, weather) are **never**
  applied. The build reports the count of each.

Resolution (:func:`resolve_restrictions`) maps the OSM ids onto directed
edges of a node-based :class:`~routing.graph.RoadGraph` and reports, like
OSRM's extractor, how many were applied and why others were skipped (a member
missing from the file or outside the network, a via way that does not connect
the from and to ways, an ``only_*`` that contradicts another one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from routing.graph import RoadGraph
from routing.profiles import daytime_condition

_KINDS = ("no_", "only_")


@dataclass(frozen=True)
class Restriction:
    """One turn restriction as tagged (OSM ids), before it is resolved on a graph.

    Attributes
    ----------
    relation_id : int
    value : str
        E.g. ``no_left_turn``, ``only_straight_on``, ``no_u_turn``.
    from_way, to_way : int
        OSM way ids (-1 when the member is missing).
    via_node : int
        OSM node id of the via node, or -1 for a via-way restriction.
    via_ways : tuple of int
        OSM ids of the via ways in order (empty for a via node).
    modes : frozenset of str
        ``{"*"}`` for the plain key, else the ``restriction:<mode>`` suffixes.
    exceptions : frozenset of str
        Modes named in ``except``.
    conditional : str
        ``""``, ``"always"`` (a daytime weekday condition, applied always) or
        ``"never"`` (a condition outside weekday daytime or not a time form).
    problem : str
        Why the relation cannot be used (``""`` when it can).
    """

    relation_id: int
    value: str
    from_way: int
    to_way: int
    via_node: int = -1
    via_ways: tuple[int, ...] = ()
    modes: frozenset[str] = frozenset({"*"})
    exceptions: frozenset[str] = frozenset()
    conditional: str = ""
    problem: str = ""

    @property
    def only(self) -> bool:
        """Whether it prescribes the exit (``only_*``) rather than forbidding one."""
        return self.value.startswith("only_")

    def binds(self, restriction_keys: Sequence[str], exceptions: frozenset[str]) -> bool:
        """Whether a profile with these ``restriction:<mode>`` keys and exemptions is bound."""
        if self.exceptions & exceptions or self.conditional == "never":
            return False
        return "*" in self.modes or bool(self.modes & set(restriction_keys))


def parse_relation(
    relation_id: int,
    tags: Mapping[str, str],
    members: Sequence[tuple[str, int, str]],
) -> list[Restriction]:
    """Turn one relation into zero or more :class:`Restriction` records.

    Parameters
    ----------
    relation_id : int
    tags : mapping
        The relation's tags.
    members : sequence of (type, ref, role)
        ``type`` is ``"n"``, ``"w"`` or ``"r"``.

    Returns
    -------
    list of Restriction
        One per binding key (plain, per mode, conditional); records that cannot
        be used carry a ``problem``.
    """
    rtype = (tags.get("type") or "").strip()
    if not rtype.startswith("restriction"):
        return []
    type_mode = rtype.split(":", 1)[1] if ":" in rtype else ""
    exceptions = frozenset(v.strip() for v in (tags.get("except") or "").split(";") if v.strip())
    values: list[tuple[str, frozenset[str], str]] = []  # (value, modes, conditional)
    for key, raw in tags.items():
        value = raw.strip()
        if key == "restriction":
            values.append((value, frozenset({type_mode or "*"}), ""))
        elif key.startswith("restriction:") and key != "restriction:conditional":
            mode = key.split(":", 1)[1]
            if mode.endswith(":conditional"):
                mode = mode.rsplit(":", 1)[0]
                for part in value.split(";"):
                    if "@" in part:
                        v, cond = part.split("@", 1)
                        tag = "always" if daytime_condition(cond) else "never"
                        values.append((v.strip(), frozenset({mode}), tag))
            else:
                values.append((value, frozenset({mode}), ""))
        elif key == "restriction:conditional":
            for part in value.split(";"):
                if "@" in part:
                    v, cond = part.split("@", 1)
                    tag = "always" if daytime_condition(cond) else "never"
                    values.append((v.strip(), frozenset({type_mode or "*"}), tag))
    froms = [ref for kind, ref, role in members if role == "from" and kind == "w"]
    tos = [ref for kind, ref, role in members if role == "to" and kind == "w"]
    via_nodes = [ref for kind, ref, role in members if role == "via" and kind == "n"]
    via_ways = tuple(ref for kind, ref, role in members if role == "via" and kind == "w")
    problem = ""
    if len(froms) != 1 or len(tos) != 1:
        problem = "missing or several from/to ways"
    elif len(via_nodes) + (1 if via_ways else 0) != 1:
        problem = "needs exactly one via node or a chain of via ways"
    out = []
    for value, modes, conditional in values:
        if not value.startswith(_KINDS):
            continue  # "none", "no", or an unknown value: nothing to apply
        out.append(
            Restriction(
                relation_id=relation_id,
                value=value,
                from_way=froms[0] if froms else -1,
                to_way=tos[0] if tos else -1,
                via_node=via_nodes[0] if len(via_nodes) == 1 else -1,
                via_ways=via_ways,
                modes=modes,
                exceptions=exceptions,
                conditional=conditional,
                problem=problem,
            )
        )
    if not values:
        out.append(Restriction(relation_id, "", -1, -1, problem="no restriction value tagged"))
    return out


@dataclass
class ResolvedRestrictions:
    """Restrictions of one profile as directed edge sequences of a node-based graph.

    Attributes
    ----------
    forbidden : ndarray of int64, shape (k, 2)
        ``(in_edge, out_edge)`` turns forbidden at a via node (``only_*``
        restrictions are expanded into the turns they forbid).
    via_way_paths : list of (ndarray of int64, bool)
        Via-way restrictions: the edge sequence ``from, via..., to`` and
        whether it is an ``only_*`` (the sequence is the only way on) rather
        than a ``no_*`` (the sequence is forbidden).
    report : dict
        Counts: ``relations``, ``applied``, ``not_binding`` (other modes or
        exempted), ``conditional_always``, ``conditional_never``,
        ``only_exit_outside_network`` (an ``only_*`` whose one allowed exit is
        not in the network: every exit is refused) and ``skipped`` by reason.
    """

    forbidden: np.ndarray
    via_way_paths: list[tuple[np.ndarray, bool]]
    report: dict[str, object] = field(default_factory=dict)


class _EdgeIndex:
    """Look-ups of a node-based graph by OSM ids."""

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        self.tail = graph.tail().astype(np.int64)
        self.head = graph.head.astype(np.int64)
        self.node_of: dict[int, int] = {
            int(osm): i for i, osm in enumerate(np.asarray(graph.osm_node_id).tolist())
        }
        order = np.argsort(graph.way_id, kind="stable")
        self._way_sorted = np.asarray(graph.way_id)[order]
        self._way_order = order

    def edges_of_way(self, way: int) -> np.ndarray:
        lo = np.searchsorted(self._way_sorted, way, side="left")
        hi = np.searchsorted(self._way_sorted, way, side="right")
        return self._way_order[lo:hi]

    def into(self, node: int, way: int) -> np.ndarray:
        edges = self.edges_of_way(way)
        into: np.ndarray = edges[self.head[edges] == node]
        return into

    def out_of(self, node: int, way: int) -> np.ndarray:
        edges = self.edges_of_way(way)
        out: np.ndarray = edges[self.tail[edges] == node]
        return out


def _way_walk(index: _EdgeIndex, way: int, start: int) -> dict[int, list[int]]:
    """Every node reachable from ``start`` along ``way``'s edges, with the edge path to it."""
    edges = index.edges_of_way(way)
    paths: dict[int, list[int]] = {start: []}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for e in edges[index.tail[edges] == node].tolist():
            nxt = int(index.head[e])
            if nxt not in paths:
                paths[nxt] = [*paths[node], e]
                frontier.append(nxt)
    return paths


def _resolve_via_ways(index: _EdgeIndex, r: Restriction) -> tuple[list[np.ndarray], str]:
    """Edge sequences ``from, via..., to`` of a via-way restriction, or a reason it fails."""
    from_edges = index.edges_of_way(r.from_way)
    if from_edges.size == 0:
        return [], "from way not in the network"
    if any(index.edges_of_way(w).size == 0 for w in r.via_ways):
        return [], "via way not in the network"
    to_edges = index.edges_of_way(r.to_way)
    if to_edges.size == 0:
        return [], "to way not in the network"
    paths: list[np.ndarray] = []
    for e_from in from_edges.tolist():
        # Walk the via ways in order from where the from edge ends.
        chains = [(int(index.head[e_from]), [e_from])]
        for way in r.via_ways:
            longer = []
            for node, chain in chains:
                for end, walk in _way_walk(index, way, node).items():
                    if walk:
                        longer.append((end, chain + walk))
            chains = longer
        for node, chain in chains:
            for e_to in index.out_of(node, r.to_way).tolist():
                if e_to != chain[-1]:
                    paths.append(np.asarray([*chain, e_to], dtype=np.int64))
    if not paths:
        return [], "via ways do not connect the from and to ways"
    # Keep the shortest chains: a via way is traversed end to end, not around.
    shortest = min(p.size for p in paths)
    return [p for p in paths if p.size == shortest], ""


def resolve_restrictions(
    graph: RoadGraph,
    restrictions: Sequence[Restriction],
    *,
    restriction_keys: Sequence[str],
    exceptions: frozenset[str],
) -> ResolvedRestrictions:
    """Map the restrictions binding one profile onto ``graph``'s directed edges.

    Parameters
    ----------
    graph : RoadGraph
        A node-based graph whose ``way_id`` and ``osm_node_id`` come from the same file.
    restrictions : sequence of Restriction
        Output of :func:`parse_relation` over the file.
    restriction_keys, exceptions
        The profile's ``restriction:<mode>`` keys and ``except`` values
        (:mod:`routing.speed_model`).

    Returns
    -------
    ResolvedRestrictions
        Never raises for bad relations: they are skipped with a reason.
    """
    index = _EdgeIndex(graph)
    skipped: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    forbidden: list[tuple[int, int]] = []
    only_exits: dict[int, set[int]] = {}  # in-edge -> the exits an only_* allows
    via_paths: list[tuple[np.ndarray, bool]] = []
    relations = {r.relation_id for r in restrictions}
    # A relation with a mode-specific key for this profile is decided by that key alone.
    specific = {
        r.relation_id for r in restrictions if r.modes & set(restriction_keys) and not r.problem
    }
    for r in restrictions:
        if r.problem:
            skipped[r.problem] += 1
            continue
        if "*" in r.modes and r.relation_id in specific:
            continue
        if r.conditional:
            counts[f"conditional_{r.conditional}"] += 1
        if not r.binds(restriction_keys, exceptions):
            counts["not_binding"] += 1
            continue
        if r.via_ways:
            chains, why = _resolve_via_ways(index, r)
            if why:
                skipped[why] += 1
                continue
            via_paths.extend((chain, r.only) for chain in chains)
            counts["applied"] += 1
            continue
        node = index.node_of.get(r.via_node)
        if node is None:
            skipped["via node not in the network"] += 1
            continue
        ins = index.into(node, r.from_way)
        outs = index.out_of(node, r.to_way)
        if ins.size == 0:
            skipped["from way does not end at the via node"] += 1
            continue
        if outs.size == 0:
            if r.only:
                # The one allowed way on is not part of this network (it leaves the
                # area or the vehicle may not use it): no exit is allowed.
                for e in ins.tolist():
                    only_exits[e] = set()
                counts["applied"] += 1
                counts["only_exit_outside_network"] += 1
            else:
                skipped["to way does not start at the via node"] += 1
            continue
        if r.only:
            clash = False
            for e in ins.tolist():
                allowed = set(outs.tolist())
                if only_exits.get(e) and not (only_exits[e] & allowed):
                    clash = True
                    break
            if clash:
                skipped["contradicts another only_ restriction"] += 1
                continue
            for e in ins.tolist():
                only_exits[e] = only_exits.get(e, set(outs.tolist())) & set(outs.tolist())
        else:
            forbidden.extend((e, f) for e in ins.tolist() for f in outs.tolist())
        counts["applied"] += 1
    first_out = np.asarray(graph.first_out)
    for e, allowed in only_exits.items():
        node = int(index.head[e])
        for f in range(int(first_out[node]), int(first_out[node + 1])):
            if f not in allowed:
                forbidden.append((e, f))
    report: dict[str, object] = {
        "relations": len(relations),
        "applied": counts["applied"],
        "not_binding": counts["not_binding"],
        "conditional_always": counts["conditional_always"],
        "conditional_never": counts["conditional_never"],
        "only_exit_outside_network": counts["only_exit_outside_network"],
        "skipped": dict(skipped),
    }
    arr = np.asarray(forbidden, dtype=np.int64).reshape(-1, 2)
    return ResolvedRestrictions(np.unique(arr, axis=0), via_paths, report)


__all__ = [
    "ResolvedRestrictions",
    "Restriction",
    "parse_relation",
    "resolve_restrictions",
]
