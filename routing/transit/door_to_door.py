"""Door-to-door walk + transit planning on a :class:`TransitNetwork`.

A query snaps the origin and destination onto the walk graph, runs one bounded
Dijkstra forward from the origin (access times to every stop within the walking
limit) and one backward from the destination (egress times), runs (range)
RAPTOR between those stop sets, and turns the Pareto journeys into itineraries
whose walks follow the walk graph. Walking all the way is offered too when it
fits the walking limit, and transit itineraries slower than that walk are
dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from routing.errors import DataError, NoRouteError, RequestError
from routing.geo import haversine_m
from routing.graph import RoadGraph
from routing.regions import Region, load_region
from routing.transit.footpaths import (
    WALK_SPEED_MPS,
    StopLinks,
    link_stops,
    straight_line_footpaths,
    walk_from_stops,
    walk_graph_footpaths,
    walk_to_stops,
)
from routing.transit.gtfs import feed_filters_from_options, parse_date
from routing.transit.itinerary import Itinerary, Leg, Place
from routing.transit.journeys import Journey, decode_journeys, journey_legs, pareto_journeys
from routing.transit.raptor import Footpaths, run_raptor, timetable_args
from routing.transit.timetable import Timetable, load_timetable

log = logging.getLogger(__name__)

DEFAULT_TRANSFER_WALK_S = 600.0
MAX_SNAP_M = 1000.0


@dataclass
class TransitNetwork:
    """Everything a transit query needs, loaded once: timetable, footpaths, walk graph, snapper.

    ``graph``/``snapper``/``links`` are ``None`` for a timetable-only network
    (stop-to-stop queries, tests); door-to-door queries need them.
    """

    timetable: Timetable
    footpaths: Footpaths
    graph: RoadGraph | None = None
    snapper: Any = None
    links: StopLinks | None = None
    region_name: str = ""
    _args: tuple[np.ndarray, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        self._args = timetable_args(self.timetable, self.footpaths)

    @property
    def args(self) -> tuple[np.ndarray, ...]:
        """Kernel arguments of the timetable and footpaths (prepared once)."""
        return self._args

    def with_timetable(self, timetable: Timetable) -> TransitNetwork:
        """The same network with another timetable of the same stops (after realtime updates)."""
        if timetable.n_stops != self.timetable.n_stops:
            raise DataError("the new timetable has different stops; rebuild the network")
        return replace(self, timetable=timetable)

    def seconds(self, when: dt.datetime | str) -> int:
        """Timetable seconds of a time (naive = region local), checked against the day."""
        if isinstance(when, str):
            try:
                when = dt.datetime.fromisoformat(when)
            except ValueError:
                raise RequestError(f"time {when!r} is not ISO 8601 like 2022-09-14T08:00") from None
        t = self.timetable.to_seconds(when)
        if not -6 * 3600 <= t < 30 * 3600:
            raise RequestError(
                f"{when.isoformat()} is not on the loaded timetable day {self.timetable.date}; "
                "load the network for that date"
            )
        return t


def load_transit_network(
    region: Region | str,
    date: str | dt.date | None = None,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    max_transfer_walk_s: float = DEFAULT_TRANSFER_WALK_S,
    walk_graph: bool = True,
) -> TransitNetwork:
    """Load a region's timetable for ``date`` plus its walk graph, snapper and footpaths.

    Parameters
    ----------
    region : Region or str
        The region; its ``gtfs`` source (with ``agencies``/``routes``/
        ``clip_to_bbox`` options) and ``osm`` source are used.
    date : str or date, optional
        Service date; default the region's ``default_date`` or today.
    data_dir, cache_dir : Path, optional
        Where the sources and the build cache live.
    max_transfer_walk_s : float
        Longest walk between two stops when changing.
    walk_graph : bool
        With ``False``, footpaths are straight lines and door-to-door queries
        are unavailable (no OSM needed).
    """
    t0 = time.perf_counter()
    region = load_region(region) if isinstance(region, str) else region
    date = parse_date(date or region.default_date or dt.date.today())
    source = region.source("gtfs")
    path = region.source_file("gtfs", data_dir)
    if not path.exists():
        raise DataError(
            f"GTFS feed of region {region.name} not found at {path}; "
            f"run `elster fetch {region.name}`"
        )
    filters = feed_filters_from_options(source.options, region.bbox)
    from routing.regions import default_cache_dir

    cache_dir = cache_dir or default_cache_dir()
    tt = load_timetable(path, date, timezone=region.timezone, filters=filters, cache_dir=cache_dir)
    if not walk_graph:
        fp = straight_line_footpaths(tt, max_walk_s=max_transfer_walk_s)
        return TransitNetwork(tt, fp, region_name=region.name)
    from routing.build import road_graph
    from routing.snap import Snapper

    graph = road_graph(region, "walk", data_dir=data_dir, cache_dir=cache_dir)
    snapper = Snapper(graph)
    links = link_stops(tt, snapper)
    fp = walk_graph_footpaths(tt, graph, links, max_walk_s=max_transfer_walk_s)
    log.info(
        "loaded transit network of %s for %s: %d stops, %d trips, %d footpaths in %.2f s",
        region.name,
        date,
        tt.n_stops,
        tt.n_trips,
        fp.n_paths,
        time.perf_counter() - t0,
    )
    return TransitNetwork(tt, fp, graph, snapper, links, region.name)


def _check_point(name: str, point: Any) -> tuple[float, float]:
    try:
        lat, lon = float(point[0]), float(point[1])
    except (TypeError, ValueError, IndexError):
        raise RequestError(f"{name} must be (lat, lon) in degrees, got {point!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise RequestError(f"{name} ({lat}, {lon}) is not a WGS84 coordinate (lat, lon)")
    return lat, lon


class _WalkDrawer:
    """Draws walks on the walk graph between snapped places (stops, origin, destination)."""

    def __init__(self, network: TransitNetwork, extra: dict[tuple[float, float], object]) -> None:
        self.network = network
        self.snaps = dict(extra)
        links = network.links
        tt = network.timetable
        self._stop_snaps = {
            (float(tt.stop_lat[s]), float(tt.stop_lon[s])): links.snaps[s]
            for s in range(tt.n_stops)
            if links is not None and links.snaps[s] is not None
        }

    def _snap(self, place: Place) -> Any:
        key = (place.lat, place.lon)
        return self.snaps.get(key) or self._stop_snaps.get(key)

    def __call__(self, a: Place, b: Place, seconds: float) -> tuple[np.ndarray, np.ndarray, float]:
        from routing.paths import path_polyline
        from routing.search import shortest_path

        sa, sb = self._snap(a), self._snap(b)
        graph = self.network.graph
        if sa is None or sb is None or graph is None:
            lats, lons = np.array([a.lat, b.lat]), np.array([a.lon, b.lon])
            return lats, lons, float(haversine_m(a.lat, a.lon, b.lat, b.lon))
        if sa.edge == sb.edge and math.isfinite(sa.direct_cost_to(sb)):
            lats = np.array([a.lat, sa.lat, sb.lat, b.lat])
            lons = np.array([a.lon, sa.lon, sb.lon, b.lon])
        else:
            sn, sc = sa.source_seeds()
            tn, tc = sb.target_seeds()
            try:
                path = shortest_path(graph, sn, sc, tn, tc)
                plat, plon = (
                    path_polyline(graph, path.edges)
                    if path.edges.size
                    else (graph.lat[path.nodes], graph.lon[path.nodes])
                )
            except NoRouteError:
                plat, plon = np.zeros(0), np.zeros(0)
            lats = np.concatenate(([a.lat, sa.lat], plat, [sb.lat, b.lat]))
            lons = np.concatenate(([a.lon, sa.lon], plon, [sb.lon, b.lon]))
        keep = np.ones(lats.size, dtype=bool)
        keep[1:] = (np.diff(lats) != 0) | (np.diff(lons) != 0)
        lats, lons = lats[keep], lons[keep]
        metres = (
            float(np.sum(haversine_m(lats[:-1], lons[:-1], lats[1:], lons[1:])))
            if lats.size > 1
            else 0.0
        )
        return lats, lons, metres


def plan_transit(
    network: TransitNetwork,
    origin: tuple[float, float],
    destination: tuple[float, float],
    depart_at: dt.datetime | str,
    *,
    window_min: float = 0,
    max_transfers: int = 5,
    max_walk_s: float = 900,
    direct_walk: bool = True,
) -> list[Itinerary]:
    """Pareto-optimal walk + transit itineraries between two coordinates.

    Parameters
    ----------
    network : TransitNetwork
        From :func:`load_transit_network` (with a walk graph).
    origin, destination : (lat, lon)
        WGS84 degrees.
    depart_at : datetime or str
        Earliest departure (naive = the region's local time).
    window_min : float
        Also consider departures up to this many minutes later (range RAPTOR):
        every itinerary not beaten in departure, arrival and transfers is returned.
    max_transfers : int
        Maximum number of changes.
    max_walk_s : float
        Longest access, egress and direct walk.
    direct_walk : bool
        Offer walking all the way when it fits ``max_walk_s``.

    Returns
    -------
    list of Itinerary
        Ordered by departure, then arrival; the direct walk (if any) first.

    Raises
    ------
    SnapError
        A point is too far from any walkable road.
    RequestError
        Malformed coordinates, time or options.
    NoRouteError
        Neither transit nor walking connects the points.
    """
    if network.graph is None or network.snapper is None or network.links is None:
        raise RequestError("this transit network has no walk graph; load it with walk_graph=True")
    if max_transfers < 0 or window_min < 0 or max_walk_s <= 0:
        raise RequestError("max_transfers and window_min must be >= 0 and max_walk_s > 0")
    from routing.search import dijkstra_bounded

    tt = network.timetable
    o_lat, o_lon = _check_point("origin", origin)
    d_lat, d_lon = _check_point("destination", destination)
    depart = network.seconds(depart_at)
    snap_o = network.snapper.snap(o_lat, o_lon, max_distance_m=MAX_SNAP_M)
    snap_d = network.snapper.snap(d_lat, d_lon, max_distance_m=MAX_SNAP_M)
    off_o = snap_o.distance_m / WALK_SPEED_MPS
    off_d = snap_d.distance_m / WALK_SPEED_MPS
    sn, sc = snap_o.source_seeds()
    dist_o = dijkstra_bounded(network.graph, sn, sc + off_o, max_walk_s)
    tn, tc = snap_d.target_seeds()
    dist_d = dijkstra_bounded(network.graph, tn, tc + off_d, max_walk_s, reverse=True)
    access = walk_to_stops(network.links, dist_o)
    egress = walk_from_stops(network.links, dist_d)
    walk_s = min(
        float(np.min(dist_o[tn] + tc)) + off_d,
        snap_o.direct_cost_to(snap_d) + off_o + off_d,
    )
    src = np.flatnonzero(access <= max_walk_s)
    dst = np.flatnonzero(egress <= max_walk_s)
    origin_place = Place("Origin", o_lat, o_lon)
    dest_place = Place("Destination", d_lat, d_lon)
    drawer = _WalkDrawer(network, {(o_lat, o_lon): snap_o, (d_lat, d_lon): snap_d})
    itineraries: list[Itinerary] = []
    if src.size and dst.size:
        acc = np.ceil(access[src]).astype(np.int64)
        egr = np.ceil(egress[dst]).astype(np.int64)
        info, rides = run_raptor(
            tt,
            network.footpaths,
            src,
            acc,
            dst,
            egr,
            depart,
            window_s=int(window_min * 60),
            max_transfers=max_transfers,
            args=network.args,
        )
        journeys = decode_journeys(
            tt,
            network.footpaths,
            info,
            rides,
            dict(zip(src.tolist(), acc.tolist(), strict=True)),
            dict(zip(dst.tolist(), egr.tolist(), strict=True)),
        )
        for j in pareto_journeys(journeys):
            if direct_walk and walk_s <= max_walk_s and j.duration_s >= walk_s:
                continue  # walking is as fast and needs no vehicle
            itineraries.append(Itinerary(journey_legs(tt, j, origin_place, dest_place, drawer)))
    if direct_walk and walk_s <= max_walk_s:
        lats, lons, metres = drawer(origin_place, dest_place, walk_s)
        start = tt.to_datetime(depart)
        leg = Leg(
            "WALK",
            origin_place,
            dest_place,
            start,
            start + dt.timedelta(seconds=math.ceil(walk_s)),
            metres,
            lats,
            lons,
        )
        itineraries.insert(0, Itinerary([leg]))
    if not itineraries:
        why = (
            "no stop within walking distance of the origin"
            if not src.size
            else "no stop within walking distance of the destination"
            if not dst.size
            else f"no connection departing from {tt.to_datetime(depart):%H:%M} on {tt.date}"
        )
        raise NoRouteError(
            f"no transit itinerary from ({o_lat:.5f}, {o_lon:.5f}) to ({d_lat:.5f}, {d_lon:.5f}): "
            f"{why}; try a later time, a wider window, or a larger max_walk_s"
        )
    return itineraries


def plan_stops(
    network: TransitNetwork,
    from_stops: list[int] | np.ndarray,
    to_stops: list[int] | np.ndarray,
    depart_at: dt.datetime | str | int,
    *,
    window_min: float = 0,
    max_transfers: int = 5,
) -> list[Journey]:
    """Pareto journeys between stop sets (indices), no access or egress walking."""
    depart = depart_at if isinstance(depart_at, int) else network.seconds(depart_at)
    src = np.asarray(from_stops, np.int64)
    dst = np.asarray(to_stops, np.int64)
    info, rides = run_raptor(
        network.timetable,
        network.footpaths,
        src,
        np.zeros(src.size, np.int64),
        dst,
        np.zeros(dst.size, np.int64),
        depart,
        window_s=int(window_min * 60),
        max_transfers=max_transfers,
        args=network.args,
    )
    zero_a = dict.fromkeys(src.tolist(), 0)
    zero_e = dict.fromkeys(dst.tolist(), 0)
    return pareto_journeys(
        decode_journeys(network.timetable, network.footpaths, info, rides, zero_a, zero_e)
    )


def local_time(network: TransitNetwork, when: str) -> dt.datetime:
    """Parse an ISO time as local time of the network's timezone."""
    value = dt.datetime.fromisoformat(when)
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(network.timetable.timezone))
