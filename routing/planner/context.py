"""Everything :func:`routing.planner.plan` reads: networks, timetable, stations, prices.

A :class:`PlanContext` is built once per region (``load_plan_context``) and
shared by all queries. It also keeps small static tables derived from station
positions, computed on first use and reused by every later query: where each
station or charger lies on the walk/bike/car graphs, the walking times between
every bike box and the transit stops around it, and the car time/distance
matrix between chargers. Live availability is never cached here: it is read
from the stores on every query.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from routing.errors import DataError, SnapError
from routing.road import RoadNetwork
from routing.snap import Snap
from routing.stations.model import Charger, Station
from routing.stations.store import ChargerStore, StationStore

if TYPE_CHECKING:
    from routing.planner.providers import LegProvider
    from routing.transit.door_to_door import TransitNetwork

log = logging.getLogger(__name__)

#: Stations / chargers farther than this from a road of a profile are not used with it.
STATION_SNAP_M = 300.0


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
    max_box_walk_s: float = 360.0  # box to stop
    max_station_candidates: int = 3  # bike-share pickup and return stations each
    max_box_candidates: int = 8
    max_charger_candidates: int = 3  # park & charge
    max_charging_stops: int = 3
    max_snap_m: float = 500.0


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
    costs : CostModel
    settings : PlannerSettings
    providers : list of LegProvider
        Extra access/egress providers (e.g. the on-demand shuttle), by ``mode``.
    """

    networks: dict[str, RoadNetwork]
    transit: TransitNetwork | None = None
    stations: StationStore | None = None
    chargers: ChargerStore | None = None
    costs: CostModel = field(default_factory=CostModel)
    settings: PlannerSettings = field(default_factory=PlannerSettings)
    providers: list[LegProvider] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _snaps: dict[tuple[str, str], Snap | None] = field(default_factory=dict, repr=False)
    _by_point: dict[tuple[str, float, float], Snap] = field(default_factory=dict, repr=False)
    _box_walks: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )
    _charger_nodes: dict[str, int] = field(default_factory=dict, repr=False)
    _stop_snaps: dict[tuple[float, float], Snap] | None = field(default=None, repr=False)
    _charger_matrix: tuple[tuple[str, ...], np.ndarray, np.ndarray] | None = field(
        default=None, repr=False
    )

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

    # ------------------------------------------------------------------ providers
    def provider(self, mode: str) -> LegProvider | None:
        """The registered extra provider for ``mode`` (e.g. ``shuttle``), or None."""
        return next((p for p in self.providers if p.mode == mode), None)

    def add_provider(self, provider: LegProvider) -> None:
        """Register an access/egress leg provider (replaces one with the same mode)."""
        with self._lock:
            self.providers = [p for p in self.providers if p.mode != provider.mode] + [provider]

    # ------------------------------------------------------------------ static tables
    def stop_snaps(self) -> dict[tuple[float, float], Snap]:
        """Walk-graph snaps of the transit stops by (lat, lon): walks are drawn without snapping."""
        if self._stop_snaps is None:
            snaps: dict[tuple[float, float], Snap] = {}
            if self.transit is not None and self.transit.links is not None:
                tt = self.transit.timetable
                for i, snap in enumerate(self.transit.links.snaps):
                    if snap is not None:
                        snaps[(float(tt.stop_lat[i]), float(tt.stop_lon[i]))] = snap
            self._stop_snaps = snaps
        return self._stop_snaps

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
        if snap is None and profile == "walk":
            snap = self.stop_snaps().get((lat, lon))
        return snap

    def box_stop_walks(
        self, station: Station, *, to_stops: bool, cache: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stops within ``max_box_walk_s`` of a bike box and the walking seconds.

        ``to_stops`` True: box -> stop (parking on the way out); False: stop -> box
        (picking the bike up on the way home).
        """
        from routing.search import dijkstra_bounded
        from routing.transit.footpaths import WALK_SPEED_MPS, walk_from_stops, walk_to_stops

        k = (station.id, to_stops)
        if cache:
            with self._lock:
                if k in self._box_walks:
                    return self._box_walks[k]
        empty = (np.zeros(0, np.int64), np.zeros(0))
        snap = self.place_snap("walk", station.id, station.lat, station.lon, cache=cache)
        out = empty
        if snap is not None and self.transit is not None and self.transit.links is not None:
            graph = self.networks["walk"].graph
            off = snap.distance_m / WALK_SPEED_MPS
            budget = self.settings.max_box_walk_s if cache else math.inf
            if to_stops:
                n, c = snap.source_seeds()
                dist = dijkstra_bounded(graph, n, c + off, budget)
                secs = walk_to_stops(self.transit.links, dist)
            else:
                n, c = snap.target_seeds()
                dist = dijkstra_bounded(graph, n, c + off, budget, reverse=True)
                secs = walk_from_stops(self.transit.links, dist)
            stops = np.flatnonzero(secs <= self.settings.max_box_walk_s)
            out = (stops.astype(np.int64), secs[stops])
        if cache:
            with self._lock:
                self._box_walks[k] = out
        return out

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
        self, chargers: list[Charger], *, cache: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Car seconds and metres between the car nodes of ``chargers`` (all pairs).

        Cached for the full set of chargers of the store (positions never move);
        a query uses the rows of the chargers usable right now.
        """
        from routing.matrix import travel_matrices

        car = self.networks["car"]
        if not cache:
            nodes = np.array([self.charger_node(c) for c in chargers], np.int64)
            return travel_matrices(car.graph, nodes, nodes)
        with self._lock:
            cached = self._charger_matrix
        ids = tuple(c.id for c in chargers)
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


def load_plan_context(
    region: Any,
    *,
    date: str | dt.date | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    transit: bool = True,
    stations: StationStore | None = None,
    chargers: ChargerStore | None = None,
    costs: CostModel | None = None,
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
    stations, chargers : store, optional
        Use these instead of loading the region's station / charger sources.
    costs : CostModel, optional
        Prices (default :class:`CostModel`).

    Raises
    ------
    DataError
        A source file is missing or unreadable.
    """
    from routing.regions import load_region
    from routing.road import load_road_networks
    from routing.stations.loader import load_chargers, load_stations

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
    return PlanContext(
        networks=networks,
        transit=network,
        stations=stations,
        chargers=chargers,
        costs=costs or CostModel(),
    )
