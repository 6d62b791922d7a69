"""An independent turn-restriction oracle: read restriction relations, check routes against them.

Shared by the tests (``tests/routing/test_restrictions_*.py``) and the
forbidden-turn audit of ``benchmarks.road``; never imported by the library. It
shares no code with the project's importer (``routing/osm.py``
and friends): it reads the OSM file itself with pyosmium and applies the OSM
wiki's semantics of ``type=restriction`` relations, so that a test can check
routes of the road core against the map rather than against the importer's own
reading of it.

What is read
------------
* Relations with ``type=restriction`` or ``type=restriction:<mode>`` (the old
  form, where a plain ``restriction`` tag then means ``restriction:<mode>``).
* Members ``from`` (way), ``via`` (one node, or one or more ways forming a
  chain) and ``to`` (way). Several ``from`` ways (``no_entry``) or ``to`` ways
  (``no_exit``) are accepted. Other roles (``location_hint``) are ignored.
* The value (``no_*`` or ``only_*``) of ``restriction`` and of the
  mode-specific keys ``restriction:<mode>``; ``except=`` (a ``;`` list); and
  ``restriction[:<mode>]:conditional=<value> @ (<condition>)[; ...]``.

Which restrictions apply to a mode
----------------------------------
=========  ==========================================  =====================================
mode       keys, most specific first (then plain)      exempt by ``except`` containing
=========  ==========================================  =====================================
car        motorcar, motor_vehicle, vehicle            motorcar, motor_vehicle, vehicle
shuttle    bus, psv, motor_vehicle, vehicle            bus, psv, motor_vehicle, vehicle
bike       bicycle, vehicle                            bicycle, vehicle
=========  ==========================================  =====================================

For each mode, the most specific key of the relation that the mode knows wins
(``restriction:bus`` over ``restriction`` for the shuttle); keys of other
modes (``restriction:hgv``, ``restriction:motorcar`` for the shuttle) do not
apply to it. The car keys are those of OSRM's ``car.lua``. Conditional
restrictions are kept apart (:attr:`Restriction.condition`): the oracle does
not evaluate opening-hours conditions; :func:`violations` ignores them unless
asked (``conditional=True`` checks them as if always in force), and each
:class:`Violation` says whether it came from one.

Route model and semantics
-------------------------
A route is a sequence of directed edges ``(way_id, from_osm_node,
to_osm_node)``; consecutive edges share a node, and a way may be split into
several consecutive edges (or an edge may span several nodes of its way: edges
on ways that a restriction names are expanded node by node using the ways'
node lists read from the file).

* Via node N, ``no_*`` from F to T: violated where the route arrives at N on F
  and leaves N on T. When F == T the forbidden move is a U-turn (leaving N back
  along F, the way it came) for ``no_u_turn``, and going on along F for other
  kinds (``no_straight_on`` through a node inside the way).
* Via node N, ``only_*`` from F to T: violated where the route arrives at N on
  F and leaves N on anything but that move onto T (going on along F counts as a
  violation, a U-turn back along F too unless it is the allowed move).
* Via way(s) V1..Vk: the route arrives on F at the node J0 that F shares with
  V1, follows V1 to the node J1 it shares with V2 (or with T), ... and then at
  Jk leaves on T (``no_*``: violated) or on anything but T (``only_*``:
  violated). A route that turns off the via chain before Jk is not bound by the
  restriction.
* The from way may be driven only in part (the route may start anywhere on
  it); a route that starts or ends at the decision node makes no turn there.

A from or to way that passes through the via node (instead of starting or
ending there, as the wiki asks) counts in both directions.

Unusable relations (missing members, members outside the file, a via node not
on the from or to way, via ways that do not connect, an unknown value, two
``only_*`` rules demanding different moves from the same way at the same node)
are not raised as errors: they are returned with :attr:`Restriction.problem`
set and never checked.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import osmium

#: A directed route edge: OSM way id, OSM node id it leaves, OSM node id it reaches.
Edge = tuple[int, int, int]

#: Restriction keys per mode, most specific first (the plain ``restriction`` comes last).
MODE_KEYS: dict[str, tuple[str, ...]] = {
    "car": ("motorcar", "motor_vehicle", "vehicle"),
    "shuttle": ("bus", "psv", "motor_vehicle", "vehicle"),
    "bike": ("bicycle", "vehicle"),
}
#: ``except=`` values that exempt each mode.
MODE_EXEMPT: dict[str, frozenset[str]] = {
    "car": frozenset({"motorcar", "motor_vehicle", "vehicle"}),
    "shuttle": frozenset({"bus", "psv", "motor_vehicle", "vehicle"}),
    "bike": frozenset({"bicycle", "vehicle"}),
}
MODES = tuple(MODE_KEYS)

_KEY = re.compile(r"^restriction(?::(?!conditional$)(?P<mode>[a-z_]+?))?(?P<cond>:conditional)?$")
_VALUE = re.compile(r"^(no|only)_[a-z_]+$")


@dataclass(frozen=True)
class Restriction:
    """One restriction rule of one relation (a relation may carry several: per key, per condition).

    Attributes
    ----------
    relation_id : int
        OSM id of the relation.
    key : str
        The tag key the value came from, without ``:conditional`` (``"restriction"``,
        ``"restriction:bus"``).
    kind : str
        The value (``"no_left_turn"``, ``"only_straight_on"``; ``"none"`` lifts a restriction
        under a condition); empty when the relation has no restriction value at all.
    from_ways, to_ways : tuple of int
        Way ids of the ``from`` and ``to`` members.
    via_node : int or None
        The via node (None for via ways).
    via_ways : tuple of int
        The via ways in chain order from the from way (empty for a via node).
    exceptions : frozenset of str
        The ``except=`` values.
    condition : str or None
        The condition of a ``:conditional`` rule (``"Mo-Fr 07:00-19:00"``), else None.
    modes : frozenset of str
        Which of ``car``, ``shuttle``, ``bike`` it binds (after key specificity and ``except``).
    problem : str or None
        Why the relation cannot be used (then it is never checked), else None.
    way_nodes : Mapping
        Node lists of the from, via and to ways (those found in the file).
    """

    relation_id: int
    key: str
    kind: str
    from_ways: tuple[int, ...]
    via_node: int | None
    via_ways: tuple[int, ...]
    to_ways: tuple[int, ...]
    exceptions: frozenset[str] = frozenset()
    condition: str | None = None
    modes: frozenset[str] = frozenset()
    problem: str | None = None
    way_nodes: Mapping[int, tuple[int, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def usable(self) -> bool:
        """True unless the relation is broken."""
        return self.problem is None

    @property
    def prohibitive(self) -> bool:
        """True for ``no_*``, False for ``only_*``."""
        return self.kind.startswith("no_")

    @property
    def mandatory(self) -> bool:
        """True for ``only_*``."""
        return self.kind.startswith("only_")

    @property
    def conditional(self) -> bool:
        """True when it holds only under :attr:`condition`."""
        return self.condition is not None

    @property
    def via(self) -> str:
        """``"node"`` or ``"way"``."""
        return "way" if self.via_ways else "node"

    def applies_to(self, mode: str) -> bool:
        """True when it binds ``mode`` (and is usable and a ``no_``/``only_`` rule)."""
        return self.usable and mode in self.modes and (self.prohibitive or self.mandatory)


@dataclass(frozen=True)
class Violation:
    """A route breaking a restriction.

    Attributes
    ----------
    restriction : Restriction
        The restriction broken.
    edge_index : int
        Index (in the route's edges) of the edge that leaves the decision node.
    node : int
        The decision node: the via node, or the last node of the via-way chain.
    from_way, to_way : int
        The way the route arrived on and the way it left on.
    conditional : bool
        True when the restriction is a conditional one.
    """

    restriction: Restriction
    edge_index: int
    node: int
    from_way: int
    to_way: int
    conditional: bool


# ----------------------------------------------------------------------------- reading


@dataclass
class _Relation:
    id: int
    tags: dict[str, str]
    members: list[tuple[str, int, str]]  # (type, ref, role)


def _split_conditional(value: str) -> list[tuple[str, str]]:
    """``"no_left_turn @ (Mo-Fr 07:00-09:00); none @ (Sa)"`` -> [(value, condition), ...]."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in value:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == ";" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    out = []
    for part in parts:
        if "@" not in part:
            out.append((part.strip(), ""))
            continue
        rule, cond = part.split("@", 1)
        cond = cond.strip()
        if cond.startswith("(") and cond.endswith(")"):
            cond = cond[1:-1].strip()
        out.append((rule.strip(), cond))
    return out


def _shared_node(a: tuple[int, ...], b: tuple[int, ...]) -> int | None:
    """The node two ways share, preferring a node that ends both; None if none or ambiguous."""
    common = set(a) & set(b)
    if not common:
        return None
    if len(common) == 1:
        return next(iter(common))
    ends = common & {a[0], a[-1]} & {b[0], b[-1]}
    return next(iter(ends)) if len(ends) == 1 else None


def _geometry_problem(
    from_ways: tuple[int, ...],
    via_node: int | None,
    via_ways: tuple[int, ...],
    to_ways: tuple[int, ...],
    nodes: Mapping[int, tuple[int, ...]],
) -> tuple[str | None, tuple[int, ...]]:
    """Why the members do not fit together (or None), and the via ways in chain order."""
    for role, ways in (("from", from_ways), ("via", via_ways), ("to", to_ways)):
        for way in ways:
            if way not in nodes:
                return f"{role} way {way} is not in the file", via_ways
    if via_node is not None:
        for role, ways in (("from", from_ways), ("to", to_ways)):
            for way in ways:
                if via_node not in nodes[way]:
                    return f"via node {via_node} is not on {role} way {way}", via_ways
        return None, via_ways
    if len(from_ways) != 1 or len(to_ways) != 1:
        return "a via-way restriction needs exactly one from and one to way", via_ways
    # Order the via ways into a chain starting at the from way.
    remaining = list(via_ways)
    chain: list[int] = []
    current = from_ways[0]
    while remaining:
        nxt = [w for w in remaining if _shared_node(nodes[current], nodes[w]) is not None]
        if len(nxt) != 1:
            return "via ways do not form a chain from the from way", via_ways
        chain.append(nxt[0])
        remaining.remove(nxt[0])
        current = nxt[0]
    if _shared_node(nodes[chain[-1]], nodes[to_ways[0]]) is None:
        return "the last via way does not meet the to way", tuple(chain)
    return None, tuple(chain)


def _modes_for(keys: Iterable[str], exceptions: frozenset[str]) -> dict[str, set[str]]:
    """For each key of a relation, the modes it binds (most specific key per mode)."""
    present = set(keys)
    out: dict[str, set[str]] = {k: set() for k in present}
    for mode, specific in MODE_KEYS.items():
        if exceptions & MODE_EXEMPT[mode]:
            continue
        for suffix in specific:
            key = f"restriction:{suffix}"
            if key in present:
                out[key].add(mode)
                break
        else:
            if "restriction" in present:
                out["restriction"].add(mode)
    return out


def _restrictions_of(rel: _Relation, nodes: Mapping[int, tuple[int, ...]]) -> list[Restriction]:
    """The restriction rules of one relation (at least one, maybe marked broken)."""
    rel_type = rel.tags.get("type", "")
    type_mode = rel_type.split(":", 1)[1] if ":" in rel_type else None
    plain: dict[str, str] = {}
    conditional: dict[str, list[tuple[str, str]]] = {}
    for key, value in rel.tags.items():
        m = _KEY.match(key)
        if m is None:
            continue
        mode = m.group("mode") or type_mode
        norm = f"restriction:{mode}" if mode else "restriction"
        if m.group("cond"):
            conditional.setdefault(norm, []).extend(_split_conditional(value))
        else:
            plain[norm] = value.strip()
    exceptions = frozenset(
        v.strip() for v in rel.tags.get("except", "").split(";") if v.strip()
    )  # fmt: skip

    from_ways = tuple(ref for t, ref, role in rel.members if role == "from" and t == "w")
    to_ways = tuple(ref for t, ref, role in rel.members if role == "to" and t == "w")
    via_nodes = [ref for t, ref, role in rel.members if role == "via" and t == "n"]
    via_ways_raw = tuple(ref for t, ref, role in rel.members if role == "via" and t == "w")
    wrong_type = [
        (t, role) for t, _, role in rel.members
        if (role in ("from", "to") and t != "w") or (role == "via" and t not in ("n", "w"))
    ]  # fmt: skip

    problem: str | None = None
    via_ways = via_ways_raw
    if not plain and not conditional:
        problem = "no restriction tag"
    elif wrong_type:
        problem = (
            f"{wrong_type[0][1]} member is a {'node' if wrong_type[0][0] == 'n' else 'relation'}"
        )
    elif not from_ways:
        problem = "no from way"
    elif not to_ways:
        problem = "no to way"
    elif not via_nodes and not via_ways_raw:
        problem = "no via member"
    elif via_nodes and via_ways_raw:
        problem = "both via node and via ways"
    elif len(via_nodes) > 1:
        problem = "several via nodes"
    else:
        problem, via_ways = _geometry_problem(
            from_ways, via_nodes[0] if via_nodes else None, via_ways_raw, to_ways, nodes
        )
    via_node = via_nodes[0] if len(via_nodes) == 1 and not via_ways_raw else None
    way_nodes = {w: nodes[w] for w in (*from_ways, *via_ways, *to_ways) if w in nodes}

    def make(key: str, kind: str, condition: str | None, modes: set[str]) -> Restriction:
        bad = problem
        if bad is None and kind != "none" and not _VALUE.match(kind):
            bad = f"unknown restriction value {kind!r}"
        return Restriction(
            relation_id=rel.id, key=key, kind=kind, from_ways=from_ways, via_node=via_node,
            via_ways=via_ways, to_ways=to_ways, exceptions=exceptions, condition=condition,
            modes=frozenset(modes) if bad is None and kind != "none" else frozenset(),
            problem=bad, way_nodes=way_nodes,
        )  # fmt: skip

    out = []
    plain_modes = _modes_for(plain, exceptions)
    for key, kind in sorted(plain.items()):
        out.append(make(key, kind, None, plain_modes[key]))
    cond_modes = _modes_for(conditional, exceptions)
    for key, rules in sorted(conditional.items()):
        for kind, cond in rules:
            out.append(make(key, kind, cond, cond_modes[key]))
    if not out:
        out.append(make("restriction", "", None, set()))
    return out


def load_restrictions(pbf: Path | str) -> list[Restriction]:
    """Every restriction rule of the OSM file's ``type=restriction[:<mode>]`` relations.

    Parameters
    ----------
    pbf : Path
        An OSM file pyosmium reads (``.osm.pbf``, ``.osm`` XML, ...).

    Returns
    -------
    list of Restriction
        In relation id order; broken relations are included with :attr:`Restriction.problem`.
    """
    relations: list[_Relation] = []
    relation_objects = cast(
        "Iterable[osmium.osm.Relation]", osmium.FileProcessor(str(pbf), osmium.osm.RELATION)
    )
    for obj in relation_objects:
        rel_type = obj.tags.get("type") or ""
        if rel_type != "restriction" and not rel_type.startswith("restriction:"):
            continue
        relations.append(
            _Relation(
                id=obj.id,
                tags={t.k: t.v for t in obj.tags},
                members=[(m.type, m.ref, m.role) for m in obj.members],
            )
        )
    wanted = {ref for rel in relations for t, ref, _ in rel.members if t == "w"}
    nodes: dict[int, tuple[int, ...]] = {}
    if wanted:
        ways = cast("Iterable[osmium.osm.Way]", osmium.FileProcessor(str(pbf), osmium.osm.WAY))
        for way in ways:
            if way.id in wanted:
                nodes[way.id] = tuple(n.ref for n in way.nodes)
    out: list[Restriction] = []
    for rel in sorted(relations, key=lambda r: r.id):
        out.extend(_restrictions_of(rel, nodes))
    return _mark_contradictions(out)


def _mark_contradictions(restrictions: list[Restriction]) -> list[Restriction]:
    """Mark ``only_*`` rules that demand different moves from one way at one via node.

    Two unconditional ``only_*`` via-node rules binding a common mode, with a common
    from way and via node but different to ways, leave no legal move: both are marked
    broken (``"contradicts only_* relation <id>"``). Duplicates (same to way) are fine.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for index, r in enumerate(restrictions):
        if r.usable and r.mandatory and not r.conditional and r.via_node is not None:
            for way in r.from_ways:
                groups.setdefault((way, r.via_node), []).append(index)
    problems: dict[int, str] = {}
    for members in groups.values():
        for i, j in itertools.combinations(members, 2):
            a, b = restrictions[i], restrictions[j]
            if a.modes & b.modes and set(a.to_ways) != set(b.to_ways):
                problems.setdefault(i, f"contradicts only_* relation {b.relation_id}")
                problems.setdefault(j, f"contradicts only_* relation {a.relation_id}")
    return [
        replace(r, problem=problems[i], modes=frozenset()) if i in problems else r
        for i, r in enumerate(restrictions)
    ]


def summarize(restrictions: Sequence[Restriction]) -> dict[str, int]:
    """Counts by kind: relations, rules, via node/way, no/only, mode-specific, conditional, broken.

    Counts of rules are over usable, unconditional rules unless the name says otherwise.
    """
    relations = {r.relation_id for r in restrictions}
    broken = {r.relation_id for r in restrictions if not r.usable}
    usable = [r for r in restrictions if r.usable]
    plain = [r for r in usable if not r.conditional]
    counts: Counter[str] = Counter(
        relations=len(relations),
        rules=len(restrictions),
        broken_relations=len(broken),
        usable_rules=len(usable),
        via_node=sum(r.via == "node" for r in plain),
        via_way=sum(r.via == "way" for r in plain),
        no=sum(r.prohibitive for r in plain),
        only=sum(r.mandatory for r in plain),
        mode_specific=sum(r.key != "restriction" for r in plain),
        with_except=sum(bool(r.exceptions) for r in plain),
        conditional=sum(r.conditional for r in usable),
    )
    for mode in MODES:
        counts[f"binding_{mode}"] = sum(r.applies_to(mode) for r in plain)
    for r in plain:
        counts[f"kind:{r.kind}"] += 1
    for r in restrictions:
        if not r.usable:
            counts[f"problem:{r.problem}"] += 1
    return dict(counts)


# ----------------------------------------------------------------------------- checking


def _segments(
    route_edges: Sequence[Edge], way_nodes: Mapping[int, tuple[int, ...]]
) -> list[tuple[int, int, int, int]]:
    """Route as node-to-node steps ``(way, from, to, edge_index)``.

    Edges on ways with a known node list are expanded into one step per pair of
    consecutive way nodes, so a decision node inside an edge is seen.
    """
    steps: list[tuple[int, int, int, int]] = []
    for index, (way, u, v) in enumerate(route_edges):
        seq = way_nodes.get(way)
        if seq is not None and u in seq and v in seq and u != v:
            # The shortest stretch of the way from u to v (either direction; closed ways wrap).
            best: list[int] | None = None
            for i in (k for k, n in enumerate(seq) if n == u):
                for j in (k for k, n in enumerate(seq) if n == v):
                    part = list(seq[i : j + 1]) if i < j else list(reversed(seq[j : i + 1]))
                    if best is None or len(part) < len(best):
                        best = part
            assert best is not None
            steps.extend((way, a, b, index) for a, b in itertools.pairwise(best))
        else:
            steps.append((way, u, v, index))
    return steps


def _check_route_shape(route_edges: Sequence[Edge]) -> None:
    for i in range(len(route_edges) - 1):
        if route_edges[i][2] != route_edges[i + 1][1]:
            raise ValueError(
                f"route edges {i} and {i + 1} do not meet: {route_edges[i]} then "
                f"{route_edges[i + 1]} (each edge must start where the previous one ends)"
            )


def _move_matches(
    restriction: Restriction, arrive: tuple[int, int, int, int], leave: tuple[int, int, int, int]
) -> bool:
    """Whether leaving on ``leave`` after ``arrive`` is the move the restriction names."""
    if leave[0] not in restriction.to_ways:
        return False
    if arrive[0] != leave[0]:
        return True
    # From and to are the same way: the move is a U-turn for *_u_turn, else going on.
    u_turn = leave[2] == arrive[1]
    return u_turn if restriction.kind.endswith("u_turn") else not u_turn


def violations(
    restrictions: Sequence[Restriction],
    route_edges: Sequence[Edge],
    mode: str,
    *,
    conditional: bool = False,
) -> list[Violation]:
    """The restrictions a route breaks.

    Parameters
    ----------
    restrictions : sequence of Restriction
        From :func:`load_restrictions`; broken ones and those not binding ``mode`` are skipped.
    route_edges : sequence of (way_id, from_node, to_node)
        The route as directed edges with OSM ids, in driving order.
    mode : {"car", "shuttle", "bike"}
        The vehicle.
    conditional : bool
        Also check conditional restrictions, as if their conditions held (default: ignore
        them: the oracle does not evaluate opening hours).

    Returns
    -------
    list of Violation
        In route order.

    Raises
    ------
    ValueError
        For an unknown mode or edges that do not meet.
    """
    if mode not in MODE_KEYS:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    _check_route_shape(route_edges)
    binding = [
        r for r in restrictions
        if r.applies_to(mode) and (conditional or not r.conditional)
    ]  # fmt: skip
    if not binding or len(route_edges) < 2:
        return []
    way_nodes: dict[int, tuple[int, ...]] = {}
    by_via_node: dict[int, list[Restriction]] = {}
    by_entry: dict[tuple[int, int], list[Restriction]] = {}  # (from way, first via way)
    for r in binding:
        way_nodes.update(r.way_nodes)
        if r.via_node is not None:
            by_via_node.setdefault(r.via_node, []).append(r)
        else:
            by_entry.setdefault((r.from_ways[0], r.via_ways[0]), []).append(r)
    steps = _segments(route_edges, way_nodes)

    found: list[Violation] = []
    for i in range(len(steps) - 1):
        arrive, leave = steps[i], steps[i + 1]
        node = arrive[2]
        for r in by_via_node.get(node, ()):
            if arrive[0] not in r.from_ways:
                continue
            named = _move_matches(r, arrive, leave)
            if named == r.prohibitive:  # no_: made the named move; only_: made another
                found.append(Violation(r, leave[3], node, arrive[0], leave[0], r.conditional))
        for r in by_entry.get((arrive[0], leave[0]), ()):
            hit = _via_way_outcome(r, steps, i)
            if hit is not None:
                found.append(hit)
    found.sort(key=lambda v: v.edge_index)
    return found


def _via_way_outcome(r: Restriction, steps: list[tuple[int, int, int, int]], i: int):
    """Violation of via-way restriction ``r`` by the route entering its via chain after step i."""
    nodes = r.way_nodes
    chain = (r.from_ways[0], *r.via_ways, r.to_ways[0])
    joints = [_shared_node(nodes[a], nodes[b]) for a, b in itertools.pairwise(chain)]
    if steps[i][2] != joints[0]:
        return None  # arrived on F at another node than where F meets the via chain
    k = i + 1
    for via_index, via_way in enumerate(r.via_ways):
        target = joints[via_index + 1]
        previous = None
        while True:
            if k >= len(steps):
                return None  # the route ends on the via chain: no decision made
            way, a, b, _ = steps[k]
            if way != via_way or (previous is not None and b == previous):
                return None  # turned off (or back) before the end of this via way
            previous = a
            k += 1
            if b == target:
                break
    if k >= len(steps):
        return None  # the route ends at the decision node
    last_via = steps[k - 1]
    leave = steps[k]
    named = leave[0] == r.to_ways[0] and not (leave[0] == last_via[0] and leave[2] == last_via[1])
    if named == r.prohibitive:
        # the chain's joints exist: only usable restrictions (connected via ways) get here
        node = cast(int, joints[-1])
        return Violation(r, leave[3], node, r.from_ways[0], leave[0], r.conditional)
    return None


# ----------------------------------------------------------------------------- node paths


def segment_ways(
    pbf: Path | str, *, highways: Iterable[str] | None = None
) -> dict[tuple[int, int], tuple[int, ...]]:
    """Which ways run between two consecutive OSM nodes, in either direction.

    Parameters
    ----------
    pbf : Path
        The OSM file.
    highways : iterable of str, optional
        Only ways with one of these ``highway`` values (default: every ``highway`` way).

    Returns
    -------
    dict
        ``(node_a, node_b) -> way ids`` (sorted), for both orders of each pair.
    """
    keep = set(highways) if highways is not None else None
    out: dict[tuple[int, int], set[int]] = {}
    ways = cast("Iterable[osmium.osm.Way]", osmium.FileProcessor(str(pbf), osmium.osm.WAY))
    for way in ways:
        value = way.tags.get("highway")
        if value is None or (keep is not None and value not in keep):
            continue
        refs = [n.ref for n in way.nodes]
        for a, b in itertools.pairwise(refs):
            out.setdefault((a, b), set()).add(way.id)
            out.setdefault((b, a), set()).add(way.id)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def edges_from_nodes(
    nodes: Sequence[int], segments: Mapping[tuple[int, int], tuple[int, ...]]
) -> list[Edge]:
    """A route given as OSM node ids (e.g. OSRM's ``annotations=nodes``) as route edges.

    Where two ways share a segment, the way the route is already on is kept, else the
    way it goes on with, else the lowest id.

    Raises
    ------
    ValueError
        When two consecutive nodes are not joined by any way of ``segments``.
    """
    edges: list[Edge] = []
    pairs = list(itertools.pairwise(nodes))
    for i, (a, b) in enumerate(pairs):
        ways = segments.get((a, b))
        if not ways:
            raise ValueError(f"no way joins nodes {a} and {b} (step {i} of the node path)")
        way = ways[0]
        if len(ways) > 1:
            nxt = set(segments.get(pairs[i + 1], ())) if i + 1 < len(pairs) else set()
            if edges and edges[-1][0] in ways:
                way = edges[-1][0]
            elif nxt & set(ways):
                way = min(nxt & set(ways))
        edges.append((way, a, b))
    return edges
