"""A two-way feeder line between a transit hub and the far end of its zone, and its timetable.

The line serves stops ``hub = s0, s1, ..., sk`` (``sk`` the far end) out and
back: a vehicle's round is ``s0 -> s1 -> ... -> sk`` (direction 0, outbound)
then ``sk -> ... -> s1 -> s0`` (direction 1, towards the hub), each stop served
from the street side of its direction. Run times are the road model's times
between consecutive positions of the round; the timetable pads them by
``slack_share`` (the slack a flex route spends on deviations), rounds up to
whole seconds, adds a dwell at every intermediate stop and a layover at each
end. The cycle time is both directions' run times plus both layovers, so a
headway ``h`` needs ``ceil(cycle / h)`` vehicles; vehicle ``v`` runs rounds
``v, v + n, v + 2n, ...``. Rounds start early enough that the first trip
towards the hub leaves the far end within one headway of the service start.

A generated line is a trunk (:func:`generate_trunk`): the fastest road path
from the hub to the far end whose stops, every ``stop_spacing_m`` along it,
are within a walk of the most residents. A line from a file gives its stops
in order from the hub outwards.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from fleet.concepts.autonomous import AutonomousTravel
from fleet.concepts.walking import WalkModel
from routing.errors import DataError, SnapError
from routing.geo import LocalPlane

#: Farthest from a stop a street side may be served from (both sides of a street).
SIDE_RADIUS_M = 30.0


@dataclass(frozen=True)
class FeederLine:
    """Stops of a two-way line (stop 0 is the hub, the last the far end) with road run times.

    A round visits the positions ``0 .. 2k`` (``k = n_stops - 1``): position
    ``p <= k`` is stop ``p`` outbound, position ``p >= k`` is stop ``2k - p``
    towards the hub; position ``k`` (the far end) is both.

    Attributes
    ----------
    stop_ids, stop_names : tuple of str
    lat, lon : ndarray
        Stop coordinates (the point riders walk to).
    loc : ndarray of int64, shape (2k + 1,)
        Travel-model location of each position (the street side of its direction).
    run_s, run_m : ndarray, shape (2k,)
        Road time and distance from position ``p`` to ``p + 1``.
    dwell_s, slack_share, layover_s : float
        Timetable allowances (the layover at each end).
    """

    stop_ids: tuple[str, ...]
    stop_names: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    loc: np.ndarray
    run_s: np.ndarray
    run_m: np.ndarray
    dwell_s: float
    slack_share: float
    layover_s: float

    @property
    def n_stops(self) -> int:
        """Stops including the hub."""
        return len(self.stop_ids)

    @property
    def far(self) -> int:
        """Position (and stop index) of the far end."""
        return self.n_stops - 1

    @property
    def n_segments(self) -> int:
        """Segments of a round (positions ``0 .. n_segments``)."""
        return 2 * self.far

    def stop_at(self, p: int) -> int:
        """The stop served at position ``p``."""
        return p if p <= self.far else self.n_segments - p

    def ride(self, a: int, b: int) -> tuple[int, int]:
        """Positions of a ride from stop ``a`` to ``b`` (outbound if ``b`` lies farther out)."""
        if b > a:
            return a, b
        return self.n_segments - a, self.n_segments - b

    @property
    def sched_run_s(self) -> np.ndarray:
        """Scheduled run time per segment: road time padded by the slack, whole seconds."""
        return np.ceil(self.run_s * (1.0 + self.slack_share))

    def offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """Scheduled (arrival, departure) offsets of the positions ``0 .. 2k`` of a round.

        A dwell at every stop between the ends, the layover at the far end.
        """
        n = self.n_segments
        arr = np.zeros(n + 1)
        dep = np.zeros(n + 1)
        run = self.sched_run_s
        for p in range(1, n + 1):
            arr[p] = dep[p - 1] + run[p - 1]
            hold = self.layover_s if p == self.far else self.dwell_s
            dep[p] = arr[p] + (hold if p < n else 0.0)
        return arr, dep

    @property
    def out_s(self) -> float:
        """Scheduled time from leaving the hub to arriving at the far end."""
        return float(self.offsets()[0][self.far])

    @property
    def in_s(self) -> float:
        """Scheduled time from leaving the far end to arriving at the hub."""
        arr, dep = self.offsets()
        return float(arr[-1] - dep[self.far])

    @property
    def cycle_s(self) -> float:
        """Both directions' run times plus a layover at each end."""
        return self.out_s + self.in_s + 2 * self.layover_s

    @property
    def length_m(self) -> float:
        """Driven length of one round (both directions)."""
        return float(self.run_m.sum())

    def position_loc(self, p: int) -> int:
        """Location of position ``p``."""
        return int(self.loc[p])


@dataclass(frozen=True)
class LineTimetable:
    """Rounds of a line through the service hours.

    Attributes
    ----------
    line : FeederLine
    headway_s : float
    departures : ndarray
        Hub departures of the rounds (direction 0), seconds after local midnight;
        direction 1 leaves the far end ``line.offsets()[1][line.far]`` later.
    n_vehicles : int
    """

    line: FeederLine
    headway_s: float
    departures: np.ndarray
    n_vehicles: int

    @property
    def n_trips(self) -> int:
        """Number of rounds (one trip each way)."""
        return int(self.departures.size)

    def vehicle_of(self, trip: int) -> int:
        """The vehicle that runs round ``trip``."""
        return trip % self.n_vehicles

    def times(self, trip: int) -> tuple[np.ndarray, np.ndarray]:
        """Scheduled (arrival, departure) of every position of round ``trip``."""
        arr, dep = self.line.offsets()
        t0 = float(self.departures[trip])
        return t0 + arr, t0 + dep

    def direction(self, trip: int, direction: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(stops, arrivals, departures) of one direction's trip of round ``trip``.

        Direction 0 runs the positions ``0 .. k`` (hub to far end), direction 1
        ``k .. 2k``; the far end's arrival ends the one and its departure, after
        the layover, starts the other.
        """
        line = self.line
        arr, dep = self.times(trip)
        k = line.far
        pos = np.arange(0, k + 1) if direction == 0 else np.arange(k, 2 * k + 1)
        a, d = arr[pos].copy(), dep[pos].copy()
        if direction == 0:
            d[-1] = a[-1]
        else:
            a[0] = d[0]
        return np.array([line.stop_at(int(p)) for p in pos]), a, d


def vehicles_needed(cycle_s: float, headway_s: float) -> int:
    """Vehicles a headway needs for a cycle time."""
    return max(1, math.ceil(cycle_s / headway_s - 1e-9))


def build_timetable(
    line: FeederLine,
    *,
    headway_s: float,
    start_s: float,
    end_s: float,
    n_vehicles: int | None = None,
) -> LineTimetable:
    """Rounds every ``headway_s``: both directions leave their end from ``start_s`` on.

    Hub departures run from ``start_s`` while before ``end_s``; rounds that
    leave the hub before ``start_s`` (as many whole headways as fit in the
    outbound run plus the layover) bring vehicles to the far end for the
    first trips towards the hub.

    Raises
    ------
    DataError
        ``n_vehicles`` cannot run the headway on this cycle (the message gives
        the vehicles needed and the shortest headway the given vehicles allow).
    """
    if headway_s <= 0:
        raise DataError("[line] headway_min must be > 0; give minutes like 15")
    need = vehicles_needed(line.cycle_s, headway_s)
    if n_vehicles is not None and n_vehicles < need:
        shortest = math.ceil(line.cycle_s / n_vehicles / 60.0)
        raise DataError(
            f"[line] headway_min = {headway_s / 60:g} with vehicles = {n_vehicles}: a round "
            f"takes {line.cycle_s / 60:.1f} min (out {line.out_s / 60:.1f} + back "
            f"{line.in_s / 60:.1f} + 2 layovers of {line.layover_s / 60:.1f}), so this headway "
            f"needs {need} vehicles; set vehicles >= {need} or headway_min >= {shortest}"
        )
    lead = math.floor((line.out_s + line.layover_s) / headway_s + 1e-9)
    n = math.floor((end_s - start_s) / headway_s - 1e-9) + 1
    rounds = np.arange(-lead, n, dtype=float) if n > 0 else np.zeros(0)
    departures = start_s + headway_s * rounds
    return LineTimetable(line, float(headway_s), departures, n_vehicles or need)


def read_stops_file(path: Path) -> list[tuple[str, str, float, float]]:
    """Stops in line order from a CSV (``stop_id,stop_name,stop_lat,stop_lon``) or GeoJSON.

    Raises
    ------
    DataError
        Missing file, columns or coordinates (naming ``[line] stops_file``).
    """
    if not path.is_file():
        raise DataError(f"[line] stops_file: {path} does not exist; give a CSV or GeoJSON path")
    out: list[tuple[str, str, float, float]] = []
    if path.suffix.lower() in (".geojson", ".json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for i, f in enumerate(data.get("features", [])):
            geom = f.get("geometry") or {}
            if geom.get("type") != "Point":
                raise DataError(f"[line] stops_file {path}: feature {i} is not a Point")
            lon, lat = geom["coordinates"][:2]
            props = f.get("properties") or {}
            sid = str(props.get("stop_id", f"S{i + 1}"))
            out.append((sid, str(props.get("name", sid)), float(lat), float(lon)))
    else:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"stop_id", "stop_lat", "stop_lon"}
            if not need <= set(reader.fieldnames or ()):
                raise DataError(
                    f"[line] stops_file {path}: needs columns stop_id, stop_lat, stop_lon "
                    f"(and optional stop_name); has {reader.fieldnames}"
                )
            for line_no, row in enumerate(reader, start=2):
                try:
                    lat, lon = float(row["stop_lat"]), float(row["stop_lon"])
                except ValueError:
                    raise DataError(
                        f"[line] stops_file {path}, line {line_no}: stop_lat/stop_lon must be "
                        "numbers"
                    ) from None
                out.append((row["stop_id"], row.get("stop_name") or row["stop_id"], lat, lon))
    if not out:
        raise DataError(f"[line] stops_file {path} holds no stops; list them in line order")
    return out


def locate_stop(travel, lat: float, lon: float) -> int:
    """Location of a stop or the hub: where a vehicle of ``travel`` can serve it.

    The autonomous shuttle serves it from the nearest street it may use (an
    operator puts the stop there); everyone else from the nearest street.

    Raises
    ------
    SnapError
        No such street within the model's snapping distance.
    """
    if isinstance(travel, AutonomousTravel):
        return travel.locate_nearest(lat, lon)
    return travel.locate(lat, lon)


def choose_sides(travel, hub_loc: int, options: list[np.ndarray]) -> np.ndarray:
    """The street side serving every position of a round, for the fastest round.

    On a turn-expanded graph a location is one direction of a street, so a
    stop is served from a side per direction. ``options[i]`` are the
    locations that may serve stop ``i + 1`` (the far end is the last); the
    round ``hub, 1 .. k .. 1, hub`` picks one per position so that the sum of
    consecutive road times is least (a shortest path through the layers of
    options, exact).

    Returns
    -------
    ndarray of int64, shape (2k + 1,)
        Location per position.
    """
    k = len(options)
    layers = [np.array([hub_loc], dtype=np.int64)]
    layers += [np.asarray(options[i], dtype=np.int64) for i in range(k)]
    layers += [np.asarray(options[i], dtype=np.int64) for i in range(k - 2, -1, -1)]
    layers.append(np.array([hub_loc], dtype=np.int64))
    flat = np.unique(np.concatenate(layers))
    index = {int(v): i for i, v in enumerate(flat)}
    sec, _ = travel.matrix(flat, flat)
    cost = np.zeros(1)
    back: list[np.ndarray] = []
    for prev, here in itertools.pairwise(layers):
        step = sec[np.ix_([index[int(v)] for v in prev], [index[int(v)] for v in here])]
        step[prev[:, None] == here[None, :]] = np.inf  # two stops never share a street point
        total = cost[:, None] + step
        back.append(np.argmin(total, axis=0))
        cost = total[back[-1], np.arange(here.size)]
    if not np.isfinite(cost[0]):
        raise DataError("[line]: two consecutive stops are not connected on the shuttle network")
    pick = [0]
    for b in reversed(back):
        pick.append(int(b[pick[-1]]))
    pick.reverse()
    return np.array([int(layer[i]) for layer, i in zip(layers, pick, strict=True)], dtype=np.int64)


def far_end_candidates(travel, zone: BaseGeometry, cell_m: float) -> np.ndarray:
    """Usable street locations spread over the zone: per grid cell the one nearest its centre.

    Parameters
    ----------
    travel : RoadTravel
        Its usable locations (the connected streets it drives) are the candidates.
    zone : shapely geometry (lon, lat)
    cell_m : float
        Grid cell size.
    """
    from shapely import contains_xy

    nodes = np.asarray(travel.usable, dtype=np.int64)
    lat, lon = travel.graph.lat[nodes], travel.graph.lon[nodes]
    keep = contains_xy(zone, lon, lat)
    nodes, lat, lon = nodes[keep], lat[keep], lon[keep]
    if nodes.size == 0:
        raise DataError("[area]: no street of the shuttle network lies in the zone")
    x, y = LocalPlane(float(lat.mean())).to_xy(lat, lon)
    cx, cy = np.floor(x / cell_m), np.floor(y / cell_m)
    off = np.hypot(x - (cx + 0.5) * cell_m, y - (cy + 0.5) * cell_m)
    order = np.lexsort((nodes, off, cy, cx))  # per cell: nearest the centre, then lowest id
    cell = np.column_stack((cx, cy))[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = (cell[1:] != cell[:-1]).any(axis=1)
    return np.sort(nodes[order[first]])


def generate_trunk(
    travel,
    *,
    hub_loc: int,
    far_ends: np.ndarray,
    resident_lat: np.ndarray,
    resident_lon: np.ndarray,
    walks: WalkModel,
    walk_m: float,
    spacing_m: float,
    zone: BaseGeometry,
) -> tuple[list[tuple[str, str, float, float]], np.ndarray]:
    """Stops of a trunk line from the hub to the far end that serves the most residents.

    For every candidate far end the fastest road path from the hub is cut
    into stops every ``spacing_m`` (inside the zone; the far end is always
    one); the candidate whose stops are within ``walk_m`` of the most
    resident points wins (ties: the shorter run, then the lower location).

    Parameters
    ----------
    far_ends : ndarray of int64
        Candidate far-end locations (e.g. the virtual stops of the zone).
    walks : WalkModel
        How walks are measured (:mod:`fleet.concepts.walking`).
    zone : shapely geometry (lon, lat)

    Returns
    -------
    stops : list of (id, name, lat, lon)
        In order from the hub outwards (the hub excluded).
    locs : ndarray of int64
        Their locations on the outbound path.

    Raises
    ------
    DataError
        No candidate far end is reachable from the hub.
    """
    from shapely import contains_xy

    best: tuple[int, float, int] | None = None
    chosen: list[int] = []
    for far in np.unique(np.asarray(far_ends, dtype=np.int64)).tolist():
        if far == hub_loc or not math.isfinite(travel.time(hub_loc, far)):
            continue
        path = travel.path(hub_loc, far)
        nodes = path.locations.tolist()
        coords = np.array([travel.coords(int(v)) for v in nodes])
        inside = contains_xy(zone, coords[:, 1], coords[:, 0])
        stops: list[int] = []
        last = 0.0
        for i in range(1, len(nodes) - 1):
            if inside[i] and path.metres[i] - last >= spacing_m:
                stops.append(i)
                last = float(path.metres[i])
        if stops and path.metres[-1] - last < spacing_m / 2:
            stops.pop()  # the far end stands in for a stop just before it
        stops.append(len(nodes) - 1)
        near = walks.within(resident_lat, resident_lon, coords[stops, 0], coords[stops, 1], walk_m)
        score = (sum(len(x) > 0 for x in near), -float(path.seconds[-1]), -far)
        if best is None or score > best:
            best = score
            chosen = [int(nodes[i]) for i in stops]
    if best is None:
        raise DataError(
            "[line]: no street of the zone is reachable from the hub on the shuttle network; "
            "check [hub] location"
        )
    locs = np.array(chosen, dtype=np.int64)
    stops_out = [(f"V{i + 1}", f"Stop {i + 1}", *travel.coords(int(v))) for i, v in enumerate(locs)]
    return stops_out, locs


def build_line(
    travel,
    *,
    hub: tuple[float, float],
    stops: list[tuple[str, str, float, float]],
    zone: BaseGeometry,
    dwell_s: float,
    slack_share: float,
    layover_s: float,
    max_snap_m: float,
    zone_tolerance_m: float,
    keep_inside: bool,
    hub_name: str = "Hub",
    locs: np.ndarray | None = None,
) -> FeederLine:
    """A two-way feeder line through ``stops`` (in order from the hub outwards).

    Parameters
    ----------
    hub : (lat, lon)
        The transit hub; rounds start and end there.
    stops : list of (id, name, lat, lon)
    locs : ndarray of int, optional
        The stops' network locations when known (generated stops).
    zone : shapely geometry (lon, lat)
        The service zone; stops must lie within ``zone_tolerance_m`` of it, and
        so must the driven road of a given line (``keep_inside``) in both
        directions, the hub's approach excepted.

    Raises
    ------
    DataError
        The hub or a stop is off the network, a stop or the road leaves the zone.
    """
    try:
        hub_loc = locate_stop(travel, *hub)
    except SnapError as exc:
        raise DataError(f"[hub] location: {exc}") from None
    if not stops:
        raise DataError("[line]: the line has no stops besides the hub; give at least one")
    plane = LocalPlane(float(hub[0]))
    ring = np.asarray(zone.exterior.coords)
    zx, zy = plane.to_xy(ring[:, 1], ring[:, 0])
    zone_m = Polygon(np.column_stack((zx, zy)))
    hx, hy = plane.to_xy(np.array([hub[0]]), np.array([hub[1]]))
    hub_m = Point(float(hx[0]), float(hy[0]))
    lat = np.array([s[2] for s in stops])
    lon = np.array([s[3] for s in stops])
    # generated stops come with their network location; file stops are located here
    located_here = locs is None
    locs = travel.locate_many(lat, lon) if locs is None else np.asarray(locs, dtype=np.int64)
    for i, (sid, name, la, lo) in enumerate(stops):
        x, y = plane.to_xy(np.array([la]), np.array([lo]))
        outside = zone_m.distance(Point(float(x[0]), float(y[0])))
        if outside > zone_tolerance_m:
            raise DataError(
                f"[line] stops_file: stop {sid!r} ({name}) at ({la:.5f}, {lo:.5f}) lies "
                f"{outside:.0f} m outside the zone [area]; move it inside or widen "
                f"[line] zone_tolerance_m (now {zone_tolerance_m:g})"
            )
        if not located_here:
            continue  # a network location already: its point is a junction of the network
        if locs[i] < 0:
            why = (
                travel.refusal(la, lo)
                if isinstance(travel, AutonomousTravel)
                else f"no street within {travel.max_snap_m:.0f} m"
            )
            raise DataError(
                f"[line] stops_file: stop {sid!r} ({name}) at ({la:.5f}, {lo:.5f}) is not on "
                f"the shuttle network ({why}); move it onto a street"
            )
        off = float(travel.snap_metres(np.array([la]), np.array([lo]))[0])
        if off > max_snap_m:
            raise DataError(
                f"[line] stops_file: stop {sid!r} ({name}) is {off:.0f} m from the nearest "
                f"shuttle street (max {max_snap_m:g} m, [line] max_snap_m); move it onto a street"
            )
    near = getattr(travel, "nearby_locations", None)
    options = [
        np.unique(np.concatenate(([locs[i]], near(lat[i], lon[i], SIDE_RADIUS_M) if near else [])))
        for i in range(locs.size)
    ]
    pos_loc = choose_sides(travel, hub_loc, options)
    pairs = list(itertools.pairwise(pos_loc.tolist()))
    run_s = np.array([travel.time(a, b) for a, b in pairs])
    run_m = np.array([travel.distance(a, b) for a, b in pairs])
    allowed = zone_m.buffer(zone_tolerance_m).union(hub_m.buffer(max(zone_tolerance_m, 1500.0)))
    # a given line must stay in the zone both ways; a generated trunk takes the fastest
    # roads between its stops (a short cut outside the zone is how a driver would go)
    for a, b in pairs if keep_inside else ():
        path = travel.path(int(a), int(b))
        plat = np.array([travel.coords(int(v))[0] for v in path.locations])
        plon = np.array([travel.coords(int(v))[1] for v in path.locations])
        px, py = plane.to_xy(plat, plon)
        for j in range(plat.size):
            if not allowed.contains(Point(float(px[j]), float(py[j]))):
                raise DataError(
                    f"[line] stops_file: the road between two stops leaves the zone at "
                    f"({plat[j]:.5f}, {plon[j]:.5f}); add a stop that keeps the line inside, "
                    f"or widen [line] zone_tolerance_m (now {zone_tolerance_m:g})"
                )
    return FeederLine(
        stop_ids=("hub", *(s[0] for s in stops)),
        stop_names=(hub_name, *(s[1] for s in stops)),
        lat=np.array([hub[0], *(s[2] for s in stops)]),
        lon=np.array([hub[1], *(s[3] for s in stops)]),
        loc=pos_loc,
        run_s=run_s,
        run_m=run_m,
        dwell_s=float(dwell_s),
        slack_share=float(slack_share),
        layover_s=float(layover_s),
    )
