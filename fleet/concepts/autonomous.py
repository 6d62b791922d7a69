"""The streets an autonomous shuttle may use, and its road model restricted to them.

Autonomous shuttles in German trials (e.g. under the 2021 AFGBV permit) run on
approved streets at 15-25 km/h. The approval is a set of OSM ways:

- by default derived from the map: ways whose ``highway`` class is listed in
  ``[autonomous] highway`` (no arterials: the speed gap to traffic is unsafe)
  and whose signed limit is at most ``maxspeed_kmh`` (a way without a signed
  limit counts as ``unsigned_maxspeed_kmh``, the urban 50 km/h of StVO §3);
- or read from ``allowed_ways_file`` (one OSM way id a line, or a CSV with a
  ``way_id`` column): the file is the street set (``ways_file_mode = "only"``)
  or is added to the derived one (``"add"``).

Only the part of those ways inside the operating area (the zone grown by
``area_buffer_m``) is driven. The restriction is built once per worker: every
arc onto a street outside the set is closed (``inf``), the shuttle network's
hierarchy is re-customized for these weights (CCH customization, milliseconds),
and every open segment is driven at most at ``max_speed_kmh``. Of the open
streets only the largest strongly connected part is used; a request whose door
lies on a closed street, or on an allowed street cut off from that part by
closed ones, is refused with that reason (:class:`AutonomousTravel`).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from shapely import contains_xy
from shapely.geometry.base import BaseGeometry

from fleet.online.travel import RoadTravel
from routing.ch import customize
from routing.errors import DataError, SnapError
from routing.profiles import legal_kmh

log = logging.getLogger(__name__)

#: The OSM tags the street rules read.
RULE_KEYS = ("highway", "maxspeed", "maxspeed:conditional", "zone:traffic", "source:maxspeed")


@dataclass(frozen=True, kw_only=True)
class StreetRules:
    """Which ways an autonomous shuttle may use (see module docstring).

    Attributes
    ----------
    highway : tuple of str
        Allowed ``highway`` classes.
    maxspeed_kmh : float
        Highest signed limit of an allowed way.
    unsigned_maxspeed_kmh : float
        The limit of a way with none signed.
    ways_file : Path or None
        Allowed OSM way ids.
    ways_file_mode : str
        ``"only"``: the file is the street set; ``"add"``: added to the rule-derived set.
    """

    highway: tuple[str, ...]
    maxspeed_kmh: float
    unsigned_maxspeed_kmh: float = 50.0
    ways_file: Path | None = None
    ways_file_mode: str = "only"

    def allows(self, tags: dict[str, str]) -> bool:
        """Whether a way with these tags passes the class and speed-limit rules."""
        if tags.get("highway") not in self.highway:
            return False
        limit = legal_kmh(tags)
        return (self.unsigned_maxspeed_kmh if limit is None else limit) <= self.maxspeed_kmh

    @property
    def key(self) -> str:
        """The settings that decide the set (for error messages)."""
        if self.ways_file is not None:
            return "[autonomous] allowed_ways_file"
        return "[autonomous] highway / maxspeed_kmh"


def read_ways_file(path: Path) -> dict[int, int]:
    """Way ids of an allowed-ways file, with the line each is on.

    One id a line (``#`` starts a comment; ``w123``, ``way/123`` and OSM URLs are
    read as 123), or a CSV with a ``way_id`` column.

    Raises
    ------
    DataError
        Missing file, a line that is not a way id, or no id at all (naming the
        key, the file and the line).
    """
    key = "[autonomous] allowed_ways_file"
    if not path.is_file():
        raise DataError(f"{key}: {path} does not exist; give a file of OSM way ids, one a line")
    lines = path.read_text(encoding="utf-8").splitlines()
    out: dict[int, int] = {}
    first = lines[0].strip().lower() if lines else ""
    if "way_id" in first.split(","):
        rows = csv.DictReader(lines)
        items = [(n, (row.get("way_id") or "").strip()) for n, row in enumerate(rows, start=2)]
    else:
        items = [(n, line.split("#", 1)[0].strip()) for n, line in enumerate(lines, start=1)]
    for line_no, text in items:
        if not text:
            continue
        digits = text.rstrip("/").rsplit("/", 1)[-1].lstrip("wW")
        if not digits.isdigit():
            raise DataError(
                f"{key}: {path} line {line_no}: {text!r} is not an OSM way id; write one "
                "number a line (like 4046371)"
            )
        out.setdefault(int(digits), line_no)
    if not out:
        raise DataError(f"{key}: {path} lists no way ids; write one OSM way id a line")
    return out


@dataclass(frozen=True)
class AutonomousNetwork:
    """The shuttle network restricted to the allowed streets (built once, shared by threads).

    Attributes
    ----------
    graph : RoadGraph
        The shuttle graph with the autonomous weights (``inf`` on closed arcs).
    hierarchy : ContractionHierarchy
        Its customized hierarchy.
    way_ids : ndarray of int64
        The allowed OSM ways (sorted).
    segment_open : ndarray of bool
        Per node (a directed road segment): on an allowed way, inside the area.
    usable : ndarray of bool
        Per node: in the largest strongly connected part of the open streets.
    tags : dict
        The rule tags of every way of the graph (for refusal reasons).
    rules : StreetRules
    """

    graph: Any
    hierarchy: Any
    way_ids: np.ndarray
    segment_open: np.ndarray
    usable: np.ndarray
    tags: dict[int, dict[str, str]]
    rules: StreetRules

    def travel(self, manned: RoadTravel) -> AutonomousTravel:
        """A travel model on the allowed streets (one per thread: it keeps search caches)."""
        return AutonomousTravel(self, manned)

    def way_of(self, node: int) -> int:
        """The OSM way of a node's road segment."""
        arcs = np.flatnonzero(self.graph.head == node)
        return int(self.graph.way_id[arcs[0]]) if arcs.size else -1

    def refusal(self, node: int) -> str:
        """Why the autonomous shuttle cannot stop at ``node`` ('' when it can)."""
        if node < 0 or self.usable[node]:
            return ""
        way = self.way_of(node)
        tags = self.tags.get(way, {})
        what = (
            f"way {way} (highway={tags.get('highway', '?')}, maxspeed={tags.get('maxspeed', '-')})"
        )
        if not self.segment_open[node]:
            return (
                f"the door is on {what}, a street the autonomous shuttle may not use "
                f"({self.rules.key}, or outside [autonomous] area_buffer_m)"
            )
        return (
            f"the door is on {what}, which the autonomous shuttle can reach only through "
            "streets it may not use"
        )


def allowed_way_ids(
    graph, tags: dict[int, dict[str, str]], rules: StreetRules
) -> tuple[np.ndarray, str]:
    """The allowed OSM ways of the shuttle graph and where the set comes from.

    Raises
    ------
    DataError
        The ways file names ways that are not streets of the shuttle network.
    """
    graph_ways = np.unique(np.asarray(graph.way_id, dtype=np.int64))
    derived = np.array([w for w in graph_ways.tolist() if rules.allows(tags.get(w, {}))])
    if rules.ways_file is None:
        return derived.astype(np.int64), "rules"
    listed = read_ways_file(rules.ways_file)
    ids = np.fromiter(listed, dtype=np.int64, count=len(listed))
    unknown = ids[~np.isin(ids, graph_ways)]
    if unknown.size:
        shown = ", ".join(f"{w} (line {listed[int(w)]})" for w in unknown[:5])
        raise DataError(
            f"[autonomous] allowed_ways_file: {rules.ways_file}: {unknown.size} of {ids.size} "
            f"way ids are not streets of the shuttle network: {shown}"
            f"{' ...' if unknown.size > 5 else ''}; remove them or check the ids "
            "(OSM way ids, https://www.openstreetmap.org/way/ID, of streets a minibus may drive)"
        )
    if rules.ways_file_mode == "add":
        return np.union1d(derived, ids).astype(np.int64), "rules + file"
    return np.unique(ids), "file"


def build_autonomous_network(
    network,
    tags: dict[int, dict[str, str]],
    *,
    rules: StreetRules,
    area: BaseGeometry | None,
    zone: BaseGeometry | None,
    max_speed_kmh: float,
    min_connected_share: float = 0.8,
) -> AutonomousNetwork:
    """Restrict the shuttle network to the allowed streets (see module docstring).

    Parameters
    ----------
    network : RoadNetwork
        The shuttle network (turn-expanded; a node is a directed road segment).
    tags : dict
        :func:`routing.osm.read_way_tags` of its ways (:data:`RULE_KEYS`).
    area : shapely geometry or None
        The operating area (lon, lat); ``None``: everywhere.
    zone : shapely geometry or None
        The service zone: its allowed streets must be connected.
    min_connected_share : float
        Share of the zone's allowed street length the largest connected part must hold.

    Raises
    ------
    DataError
        No allowed street in the zone, or the allowed streets leave it unconnected
        (naming the key that decides the set and the fix).
    """
    graph = network.graph
    ways, source = allowed_way_ids(graph, tags, rules)
    head = graph.head.astype(np.int64)
    tail = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), np.diff(graph.first_out))
    # arc e drives onto segment head[e] (its way, length and geometry); that segment
    # runs from the end of segment tail[e] to its own end point
    drive_ok = np.isin(graph.way_id, ways)
    if area is not None:
        inside = contains_xy(area, graph.lon, graph.lat)
        drive_ok &= inside[head] & inside[tail]
    segment_open = np.zeros(graph.n_nodes, dtype=bool)
    segment_open[head[drive_ok]] = True
    open_arc = drive_ok & segment_open[tail]
    adj = csr_matrix(
        (np.ones(int(open_arc.sum())), (tail[open_arc], head[open_arc])),
        shape=(graph.n_nodes, graph.n_nodes),
    )
    _, labels = connected_components(adj, directed=True, connection="strong")
    seg_len = np.zeros(graph.n_nodes)
    seg_len[head] = graph.length_m
    in_zone = (
        contains_xy(zone, graph.lon, graph.lat) if zone is not None else np.ones_like(segment_open)
    )
    zone_open = segment_open & in_zone
    if not zone_open.any():
        raise DataError(
            f"{rules.key}: no allowed street lies in the zone [area]; allow more highway "
            "classes or a higher maxspeed_kmh, or list the zone's streets in the file"
        )
    weight = np.bincount(labels[zone_open], weights=seg_len[zone_open])
    main = int(np.argmax(weight))
    share = float(weight[main] / weight.sum())
    if share < min_connected_share:
        parts = int((weight > 0).sum())
        cut = np.flatnonzero(zone_open & (labels != main))
        example = cut[np.argmax(seg_len[cut])]
        ex_way = int(graph.way_id[np.flatnonzero(head == example)[0]])
        raise DataError(
            f"{rules.key}: the allowed streets leave the zone unconnected: they fall into "
            f"{parts} parts, the largest holds {share:.0%} of their length in the zone (at least "
            f"{min_connected_share:.0%} needed, [autonomous] min_connected_share); e.g. way "
            f"{ex_way} near ({graph.lat[example]:.5f}, {graph.lon[example]:.5f}) is cut off: "
            "allow the streets that join the parts"
        )
    usable = labels == main
    turn = graph.turn_cost if graph.turn_cost is not None else np.zeros_like(graph.travel_time)
    drive = np.maximum(graph.travel_time - turn, 1e-9)
    slow = np.maximum(drive, graph.length_m / (max_speed_kmh / 3.6))
    # arcs out of the driven part close too, so the hierarchy never leaves it
    weight_s = np.where(open_arc & usable[tail] & usable[head], turn + slow, np.inf)
    if network.structure is None:
        raise DataError("the shuttle network has no customizable hierarchy; rebuild it")
    restricted = replace(graph, travel_time=weight_s)
    hierarchy = customize(network.structure, graph, weight_s)
    log.info(
        "autonomous streets (%s): %d ways, %d of %d segments open (%.0f%% of the zone's "
        "allowed length connected), top speed %.0f km/h",
        source, ways.size, int(usable.sum()), graph.n_nodes, 100 * share, max_speed_kmh,
    )  # fmt: skip
    return AutonomousNetwork(restricted, hierarchy, ways, segment_open, usable, tags, rules)


class AutonomousTravel(RoadTravel):
    """The road model of the autonomous shuttle: only its allowed streets.

    A point is located where the manned shuttle would stop for it (the nearest
    street of the whole shuttle network: the door), and only if the autonomous
    shuttle can drive there; otherwise :meth:`locate` raises a
    :class:`SnapError` with the reason (the dispatcher refuses the request with
    it) and :meth:`locate_many` gives -1. Stops and the hub, which an operator
    places on an allowed street, use :meth:`locate_nearest`.
    """

    def __init__(self, net: AutonomousNetwork, manned: RoadTravel) -> None:
        super().__init__(net.graph, net.hierarchy, max_snap_m=manned.max_snap_m)
        self.net = net
        self.manned = manned

    def locate_many(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """The door's location per point, -1 where the autonomous shuttle cannot stop."""
        door = self.manned.locate_many(lats, lons)
        ok = door >= 0
        ok[ok] = self.net.usable[door[ok]]
        return np.where(ok, door, -1).astype(np.int64)

    def locate(self, lat: float, lon: float) -> int:
        """The door's location (raises :class:`SnapError` with the reason it is refused)."""
        door = self.manned.locate(lat, lon)
        if not self.net.usable[door]:
            raise SnapError(self.net.refusal(door))
        return door

    def locate_nearest(self, lat: float, lon: float) -> int:
        """The nearest allowed, connected street (for stops and the hub).

        Raises
        ------
        SnapError
            No allowed street within ``max_snap_m``.
        """
        loc = int(RoadTravel.locate_many(self, np.array([lat]), np.array([lon]))[0])
        if loc < 0:
            raise SnapError(
                f"({lat:.6f}, {lon:.6f}) is more than {self.max_snap_m:.0f} m from every "
                "street the autonomous shuttle may use; move it or allow more streets"
            )
        return loc

    def refusal(self, lat: float, lon: float) -> str:
        """Why a point cannot be served ('' when it can)."""
        door = int(self.manned.locate_many(np.array([lat]), np.array([lon]))[0])
        if door < 0:
            return f"no street within {self.manned.max_snap_m:.0f} m"
        return self.net.refusal(door)
