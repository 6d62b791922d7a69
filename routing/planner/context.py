"""Everything :func:`routing.planner.plan` reads: networks, timetable, stations, prices.

A :class:`PlanContext` is built once per region (``load_plan_context``) and
shared by all queries. It also keeps small static tables derived from station
positions, computed on first use and reused by every later query: where each
station or charger lies on the walk/bike/car graphs, the walking times between
every bike box and the transit stops around it, and the car time/distance
matrix between chargers. Live availability is never cached here: it is read
from the stores on every query.

Live road state (:class:`routing.live.LiveState`, attached with
:meth:`PlanContext.attach_live`) makes every network answer under the current
closures and traffic. The static tables above stay valid for the base network;
while live changes are in force, the tables that depend on travel times are
computed under the live weights instead and kept only for exactly those
weights (dropped on every change of the live state, through its ``subscribe``).

Step-free planning uses the ``wheelchair`` network (``networks["wheelchair"]``
or loaded on first use by ``wheelchair_loader``) and a view of the transit
network whose stop links and transfer footpaths are computed on it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from routing.errors import DataError, SnapError
from routing.road import RoadNetwork
from routing.snap import Snap
from routing.stations.model import Charger, Station
from routing.stations.store import ChargerStore, StationStore
from routing.stations.vehicle_store import VehicleStore

if TYPE_CHECKING:
    from routing.live import LiveState, LiveWeights
    from routing.planner.providers import LegProvider
    from routing.transit.door_to_door import TransitNetwork

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Stations / chargers farther than this from a road of a profile are not used with it.
STATION_SNAP_M = 300.0
#: Longest transfer walk between two stops on the step-free network, and when
#: footpaths are recomputed under live closures (as the transit network's default).
WHEELCHAIR_TRANSFER_S = 600.0
#: Live-weight tables kept at most (they are dropped on every live change anyway).
_LIVE_TABLES = 256


@dataclass(frozen=True)
class CostModel:
    """Prices in EUR used for the cost criterion (assumed tariffs; override per region).

    Attributes
    ----------
    transit_fare_eur : float
        One single ticket, whatever the number of changes (zone tariff).
    bike_share_unlock_eur, bike_share_per_min_eur : float
        Bike-share price: unlock fee plus per started minute of riding.
    bike_box_eur : float
        Fee of one bike-box rental (day ticket).
    car_per_km_eur : float
        Running cost of a car per km (fuel and wear).
    car_parking_eur : float
        Parking at the destination (a short stay in the centre); also paid when
        the car is left at a charger.
    ev_per_km_eur : float
        Running cost of an electric car per km (home electricity and wear).
    free_floating_unlock_eur, free_floating_per_min_eur : float
        E-scooter / free-floating bike price: unlock fee plus per started minute.
    public_charging_per_kwh_eur : float
        Price of energy charged at a public charger during a trip.
    """

    transit_fare_eur: float = 2.60
    bike_share_unlock_eur: float = 1.00
    bike_share_per_min_eur: float = 0.10
    bike_box_eur: float = 1.00
    car_per_km_eur: float = 0.25
    car_parking_eur: float = 3.00
    ev_per_km_eur: float = 0.08
    free_floating_unlock_eur: float = 1.00
    free_floating_per_min_eur: float = 0.19
    public_charging_per_kwh_eur: float = 0.49


@dataclass(frozen=True)
class PlannerSettings:
    """Fixed times and search caps (seconds and counts).

    Caps keep queries fast: only the nearest few stations are combined, which
    loses nothing in practice because farther stations mean longer walks.
    """

    park_bike_s: float = 120.0  # lock the bike in a box
    unpark_bike_s: float = 60.0  # take it out again
    rent_bike_s: float = 60.0  # unlock a shared bike
    return_bike_s: float = 60.0  # dock it
    park_car_s: float = 120.0  # park at a charger and plug in
    # A site without (fresh) live data -- OSM parking, a box whose feed is down, a
    # register charger -- is still offered, with this much extra time planned there to
    # find room or move on; it ranks such sites below ones known to have room.
    unknown_availability_s: float = 120.0
    max_box_walk_s: float = 360.0  # box to stop
    max_station_candidates: int = 3  # bike-share pickup and return stations each
    unlock_vehicle_s: float = 30.0  # free-floating: unlock by app
    park_vehicle_s: float = 60.0  # free-floating: park where allowed, end the rental
    max_vehicle_candidates: int = 3  # free-floating vehicles tried
    max_parking_candidates: int = 8  # free-floating parking places near the destination
    max_parking_walk_m: float = 800.0  # ... at most this far (straight line) from it
    max_box_candidates: int = 8
    max_charger_candidates: int = 3  # park & charge
    max_charging_stops: int = 3
    max_snap_m: float = 500.0
    arrive_by_window_s: float = 7200.0  # arrive-by transit: departures this long before


@dataclass(frozen=True)
class ChargePoint:
    """The best connector a vehicle can use at one charger, for a query."""

    charger: Charger
    evse_uid: str
    standard: str
    power_kw: float  # effective: connector power capped by the car
    live: bool  # status AVAILABLE from live data (else unknown: register data)


@dataclass
class PlanContext:
    """Networks, timetable, stations and prices for planning in one region.

    Parameters
    ----------
    networks : dict of str to RoadNetwork
        ``walk``, ``bike`` and ``car`` networks (graph, snapper, CH).
    transit : TransitNetwork, optional
        Timetable with footpaths and stop links on the walk graph (None: no transit).
    stations : StationStore, optional
        Bike-share stations, bike boxes, bike parking.
    chargers : ChargerStore, optional
        Charging locations.
    vehicles : VehicleStore, optional
        Free-floating e-scooters and bikes (GBFS), with their geofencing zones.
    costs : CostModel
    settings : PlannerSettings
    providers : list of LegProvider
        Extra access/egress providers (e.g. the on-demand shuttle), by ``mode``.
    live : LiveState, optional
        Road closures and traffic to respect (attached to every network; see
        :meth:`attach_live`). Its graphs should include ``wheelchair`` for
        closures to reach step-free trips.
    wheelchair_loader : callable, optional
        Returns the step-free walking network (``load_wheelchair_network``);
        called on the first wheelchair request when ``networks`` has no
        ``wheelchair`` entry.
    """

    networks: dict[str, RoadNetwork]
    transit: TransitNetwork | None = None
    stations: StationStore | None = None
    chargers: ChargerStore | None = None
    vehicles: VehicleStore | None = None
    costs: CostModel = field(default_factory=CostModel)
    settings: PlannerSettings = field(default_factory=PlannerSettings)
    providers: list[LegProvider] = field(default_factory=list)
    live: LiveState | None = None
    wheelchair_loader: Callable[[], RoadNetwork] | None = field(default=None, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _snaps: dict[tuple[str, str], Snap | None] = field(default_factory=dict, repr=False)
    _by_point: dict[tuple[str, float, float], Snap] = field(default_factory=dict, repr=False)
    _box_walks: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )
    _charger_nodes: dict[str, int] = field(default_factory=dict, repr=False)
    _stop_snaps: dict[str, dict[tuple[float, float], Snap]] = field(
        default_factory=dict, repr=False
    )
    _charger_matrix: tuple[tuple[str, ...], np.ndarray, np.ndarray] | None = field(
        default=None, repr=False
    )
    _wheelchair_transit: tuple[Any, TransitNetwork] | None = field(default=None, repr=False)
    _wheelchair_failed: str | None = field(default=None, repr=False)
    _live_tables: dict[tuple[Any, ...], tuple[Any, Any]] = field(default_factory=dict, repr=False)
    _subscribed: set[int] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        missing = [p for p in ("walk", "bike", "car") if p not in self.networks]
        if missing:
            raise DataError(
                f"plan context lacks road network(s) {', '.join(missing)}; load all three"
            )
        transit_graph = self.transit.graph if self.transit is not None else None
        walk_nodes = self.networks["walk"].graph.n_nodes
        if transit_graph is not None and transit_graph.n_nodes != walk_nodes:
            raise DataError(
                "the transit network's walk graph differs from the walk road network; "
                "load both from the same region and cache"
            )
        if self.live is not None:
            self.attach_live(self.live)

    # ------------------------------------------------------------------ live state
    def attach_live(self, live: LiveState | None) -> None:
        """Make every network (and later-loaded ones) answer under ``live``; None detaches.

        Cached tables computed under live weights are dropped on every change
        of the state (``live.subscribe``); queries right after a change see it.
        """
        with self._lock:
            self.live = live
            self.networks = {p: n.with_live(live) for p, n in self.networks.items()}
            self._live_tables.clear()
            if live is not None and id(live) not in self._subscribed:
                ref = weakref.ref(self)

                def changed(version: int, ref: weakref.ref[PlanContext] = ref) -> None:
                    ctx = ref()
                    if ctx is not None:
                        ctx.live_changed(version)

                live.subscribe(changed)
                self._subscribed.add(id(live))

    def live_changed(self, version: int | None = None) -> None:
        """Drop the tables computed under live weights (called by the live state)."""
        with self._lock:
            self._live_tables.clear()
        log.debug("plan context: live state changed (version %s), live tables dropped", version)

    def _live_table(self, key: tuple[Any, ...], weights: Any, compute: Callable[[], _T]) -> _T:
        """``compute()`` for ``weights``, kept while those exact weights are current."""
        with self._lock:
            hit = self._live_tables.get(key)
        if hit is not None and hit[0] is weights:
            cached: _T = hit[1]
            return cached
        value = compute()
        with self._lock:
            if len(self._live_tables) >= _LIVE_TABLES:
                self._live_tables.clear()
            self._live_tables[key] = (weights, value)
        return value

    # ------------------------------------------------------------------ step-free
    def wheelchair_network(self) -> RoadNetwork | None:
        """The step-free walking network (loaded on first use), or None when unavailable."""
        net = self.networks.get("wheelchair")
        if net is not None or self.wheelchair_loader is None or self._wheelchair_failed:
            return net
        with self._lock:
            net = self.networks.get("wheelchair")
            if net is None:
                try:
                    net = self.wheelchair_loader().with_live(self.live)
                except (DataError, OSError) as exc:
                    self._wheelchair_failed = str(exc)
                    log.warning("step-free network unavailable: %s", exc)
                    return None
                self.networks = {**self.networks, "wheelchair": net}
        return net

    def wheelchair_missing(self) -> str:
        """Why step-free planning is unavailable (for reasons)."""
        why = f" ({self._wheelchair_failed})" if self._wheelchair_failed else ""
        return (
            "no step-free (wheelchair) walking network is loaded on this planner" + why + "; "
            "load the plan context with wheelchair=True"
        )

    def transit_for(
        self, wheelchair: bool, weights: LiveWeights | None = None
    ) -> TransitNetwork | None:
        """The transit network, or for ``wheelchair`` its step-free view.

        The view shares the timetable; stop links and transfer footpaths are
        computed on the wheelchair network once per context (and reused when
        the timetable is replaced by a realtime update with the same stops).
        With live walking ``weights`` (closures of footways), the transfer
        footpaths are recomputed on them, kept while those weights are current.
        """
        base = self._transit_view(wheelchair)
        if weights is None or base is None or base.links is None:
            return base
        return self._live_table(
            ("footpaths", wheelchair, id(base)), weights, lambda: self._live_view(base, weights)
        )

    def _live_view(self, base: TransitNetwork, weights: LiveWeights) -> TransitNetwork:
        from routing.transit.footpaths import walk_graph_footpaths

        assert base.links is not None
        fp = walk_graph_footpaths(
            base.timetable, weights.graph, base.links, max_walk_s=WHEELCHAIR_TRANSFER_S
        )
        log.info("transfer footpaths under live closures: %d", fp.n_paths)
        return replace(base, footpaths=fp)

    def _transit_view(self, wheelchair: bool) -> TransitNetwork | None:
        src = self.transit
        if not wheelchair or src is None:
            return src
        net = self.wheelchair_network()
        if net is None:
            return None
        with self._lock:
            cached = self._wheelchair_transit
            if cached is not None and cached[0] is src:
                return cached[1]
            if cached is not None and _same_stops(cached[1].timetable, src.timetable):
                view = replace(cached[1], timetable=src.timetable)
            else:
                from routing.transit.footpaths import link_stops, walk_graph_footpaths

                links = link_stops(src.timetable, net.snapper)
                fp = walk_graph_footpaths(
                    src.timetable, net.graph, links, max_walk_s=WHEELCHAIR_TRANSFER_S
                )
                view = replace(src, footpaths=fp, graph=net.graph, snapper=net.snapper, links=links)
                log.info("step-free transit view: %d footpaths", fp.n_paths)
            self._wheelchair_transit = (src, view)
            return view

    # ------------------------------------------------------------------ providers
    def provider(self, mode: str) -> LegProvider | None:
        """The registered extra provider for ``mode`` (e.g. ``shuttle``), or None."""
        return next((p for p in self.providers if p.mode == mode), None)

    def add_provider(self, provider: LegProvider) -> None:
        """Register an access/egress leg provider (replaces one with the same mode)."""
        with self._lock:
            self.providers = [p for p in self.providers if p.mode != provider.mode] + [provider]

    # ------------------------------------------------------------------ static tables
    def stop_snaps(self, profile: str = "walk") -> dict[tuple[float, float], Snap]:
        """Snaps of the transit stops by (lat, lon) on the ``walk`` (or ``wheelchair``) graph."""
        hit = self._stop_snaps.get(profile)
        if hit is None:
            snaps: dict[tuple[float, float], Snap] = {}
            transit = self.transit_for(profile == "wheelchair")
            if transit is not None and transit.links is not None:
                tt = transit.timetable
                for i, snap in enumerate(transit.links.snaps):
                    if snap is not None:
                        snaps[(float(tt.stop_lat[i]), float(tt.stop_lon[i]))] = snap
            hit = self._stop_snaps[profile] = snaps
        return hit

    def place_snap(
        self, profile: str, key: str, lat: float, lon: float, *, cache: bool = True
    ) -> Snap | None:
        """Snap of a fixed place (station, charger) on a profile's graph; None when too far."""
        k = (profile, key)
        if cache:
            with self._lock:
                if k in self._snaps:
                    return self._snaps[k]
        try:
            snap: Snap | None = self.networks[profile].snap(lat, lon, max_distance_m=STATION_SNAP_M)
        except SnapError:
            snap = None
        if cache:
            with self._lock:
                self._snaps[k] = snap
                if snap is not None:
                    self._by_point[(profile, float(lat), float(lon))] = snap
        return snap

    def known_snap(self, profile: str, lat: float, lon: float) -> Snap | None:
        """A cached snap of a station/charger/stop at exactly (lat, lon), if any."""
        with self._lock:
            snap = self._by_point.get((profile, lat, lon))
        if snap is None and profile in ("walk", "wheelchair"):
            snap = self.stop_snaps(profile).get((lat, lon))
        return snap

    def box_stop_walks(
        self,
        station: Station,
        *,
        to_stops: bool,
        cache: bool = True,
        weights: LiveWeights | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stops within ``max_box_walk_s`` of a bike box and the walking seconds.

        ``to_stops`` True: box -> stop (parking on the way out); False: stop -> box
        (picking the bike up on the way home). ``weights``: live walking times
        in force (the table is then kept only while they are).
        """
        if weights is not None and not cache:
            return self._box_walks_on(station, to_stops, cache, weights)
        if weights is not None:
            return self._live_table(
                ("box", station.id, to_stops),
                weights,
                lambda: self._box_walks_on(station, to_stops, cache, weights),
            )
        k = (station.id, to_stops)
        if cache:
            with self._lock:
                if k in self._box_walks:
                    return self._box_walks[k]
        out = self._box_walks_on(station, to_stops, cache, None)
        if cache:
            with self._lock:
                self._box_walks[k] = out
        return out

    def _box_walks_on(
        self, station: Station, to_stops: bool, cache: bool, weights: LiveWeights | None
    ) -> tuple[np.ndarray, np.ndarray]:
        from routing.search import dijkstra_bounded
        from routing.transit.footpaths import WALK_SPEED_MPS, walk_from_stops, walk_to_stops

        empty = (np.zeros(0, np.int64), np.zeros(0))
        snap = self.place_snap("walk", station.id, station.lat, station.lon, cache=cache)
        if snap is None or self.transit is None or self.transit.links is None:
            return empty
        graph = self.networks["walk"].graph if weights is None else weights.graph
        w = None if weights is None else weights.travel_time
        off = snap.distance_m / WALK_SPEED_MPS
        budget = self.settings.max_box_walk_s if cache else math.inf
        if to_stops:
            n, c = _finite(*snap.source_seeds(w))
            if not n.size:
                return empty
            dist = dijkstra_bounded(graph, n, c + off, budget)
            secs = walk_to_stops(self.transit.links, dist)
        else:
            n, c = _finite(*snap.target_seeds(w))
            if not n.size:
                return empty
            dist = dijkstra_bounded(graph, n, c + off, budget, reverse=True)
            secs = walk_from_stops(self.transit.links, dist)
        stops = np.flatnonzero(secs <= self.settings.max_box_walk_s)
        return (stops.astype(np.int64), secs[stops])

    def charger_node(self, charger: Charger) -> int:
        """Nearest car-graph node of a charger (-1 when farther than the snap limit)."""
        with self._lock:
            node = self._charger_nodes.get(charger.id)
        if node is None:
            nodes, _ = self.networks["car"].snapper.snap_many(
                np.array([charger.lat]), np.array([charger.lon]), STATION_SNAP_M
            )
            node = int(nodes[0])
            with self._lock:
                self._charger_nodes[charger.id] = node
        return node

    def charger_matrix(
        self,
        chargers: list[Charger],
        *,
        cache: bool = True,
        weights: LiveWeights | None = None,
        at: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Car seconds and metres between the car nodes of ``chargers`` (all pairs).

        Cached for the full set of chargers of the store (positions never move);
        a query uses the rows of the chargers usable right now. With live car
        ``weights`` in force at unix time ``at``, the matrix is the exact one
        under them (:meth:`RoadNetwork.matrix`), kept while they are current.
        """
        from routing.matrix import travel_matrices

        car = self.networks["car"]
        if not cache:
            nodes = np.array([self.charger_node(c) for c in chargers], np.int64)
            graph = car.graph if weights is None else weights.graph
            return travel_matrices(graph, nodes, nodes)
        ids = tuple(c.id for c in chargers)
        cached: Any
        if weights is not None:
            cached = self._live_table(
                ("chargers", ids), weights, lambda: (ids, *self._all_pairs(chargers, at))
            )
        else:
            with self._lock:
                cached = self._charger_matrix
            if cached is None or not set(ids) <= set(cached[0]):
                every = self.chargers.snapshot() if self.chargers is not None else []
                every = [c for c in every if self.charger_node(c) >= 0]
                all_ids = tuple(c.id for c in every)
                nodes = np.array([self.charger_node(c) for c in every], np.int64)
                secs, metres = (
                    travel_matrices(car.hierarchy, nodes, nodes)
                    if nodes.size
                    else (np.zeros((0, 0)), np.zeros((0, 0)))
                )
                cached = (all_ids, secs, metres)
                with self._lock:
                    self._charger_matrix = cached
                log.info("charger car matrix: %d chargers", len(all_ids))
        pos = {cid: i for i, cid in enumerate(cached[0])}
        idx = np.array([pos[i] for i in ids], np.int64)
        return cached[1][np.ix_(idx, idx)], cached[2][np.ix_(idx, idx)]

    def _all_pairs(
        self, chargers: list[Charger], at: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        nodes = np.array([self.charger_node(c) for c in chargers], np.int64)
        if not nodes.size:
            return np.zeros((0, 0)), np.zeros((0, 0))
        return self.networks["car"].matrix(nodes, nodes, at=at)


def _finite(nodes: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seeds without the ones behind a closed edge."""
    keep = np.isfinite(costs)
    return nodes[keep], costs[keep]


def _same_stops(a: Any, b: Any) -> bool:
    return a.n_stops == b.n_stops and bool(
        np.array_equal(a.stop_lat, b.stop_lat) and np.array_equal(a.stop_lon, b.stop_lon)
    )


def load_plan_context(
    region: Any,
    *,
    date: str | dt.date | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    transit: bool = True,
    stations: StationStore | None = None,
    chargers: ChargerStore | None = None,
    vehicles: VehicleStore | None = None,
    costs: CostModel | None = None,
    wheelchair: bool = False,
    live: LiveState | None = None,
) -> PlanContext:
    """Load everything the planner needs for a region (roads, timetable, stations, chargers).

    Parameters
    ----------
    region : Region or str
    date : str or date, optional
        Timetable day (default: the region's ``default_date``).
    data_dir, cache_dir : Path, optional
        Source and build-cache directories.
    transit : bool
        Load the timetable (False: road modes only).
    stations, chargers, vehicles : store, optional
        Use these instead of loading the region's station / charger /
        free-floating sources.
    costs : CostModel, optional
        Prices (default :class:`CostModel`).
    wheelchair : bool
        Load the step-free walking network now (otherwise it is loaded on the
        first wheelchair request).
    live : LiveState, optional
        Closures and traffic to respect (see :meth:`PlanContext.attach_live`).

    Raises
    ------
    DataError
        A source file is missing or unreadable.
    """
    from routing.regions import load_region
    from routing.road import load_road_networks
    from routing.stations.loader import load_chargers, load_stations, load_vehicles

    region = load_region(region) if isinstance(region, str) else region
    networks = load_road_networks(region, data_dir=data_dir, cache_dir=cache_dir)
    network = None
    if transit:
        from routing.transit.door_to_door import load_transit_network

        network = load_transit_network(region, date, data_dir=data_dir, cache_dir=cache_dir)
    if stations is None:
        stations = load_stations(region, data_dir, skip_missing=True)
    if chargers is None:
        chargers = load_chargers(region, data_dir, skip_missing=True)
    if vehicles is None:
        vehicles = load_vehicles(region, data_dir, skip_missing=True)

    def step_free() -> RoadNetwork:
        from routing.road import load_wheelchair_network

        return load_wheelchair_network(region, data_dir=data_dir, cache_dir=cache_dir)

    if wheelchair:
        networks["wheelchair"] = step_free()
    return PlanContext(
        networks=networks,
        transit=network,
        stations=stations,
        chargers=chargers,
        vehicles=vehicles,
        costs=costs or CostModel(),
        live=live,
        wheelchair_loader=step_free,
    )
