"""The region, loaded once per process: road networks, timetable, stations, bookings, planner.

:func:`load_state` is called from the app's lifespan. Each domain is a
*component*; a component whose core module is not part of this build is
recorded as unavailable (its endpoints answer 503 saying so), while a broken
input file is an error that stops the startup with the file named.

The loaded pieces are the core's own objects (:class:`routing.road.RoadNetwork`
per profile, :class:`routing.transit.door_to_door.TransitNetwork`, the live
station and charger stores), and the one :class:`routing.planner.PlanContext`
that ``/plan`` uses is assembled from them, so live availability updates made
through the API are what the planner reads.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from api.settings import Settings
from api.storage import BookingStore
from routing.errors import ElsterError, RegionError
from routing.regions import Region, load_region

logger = logging.getLogger(__name__)


@dataclass
class Component:
    """Whether a domain is ready, and why not."""

    name: str
    ready: bool
    detail: str
    seconds: float = 0.0


@dataclass
class RegionState:
    """Everything the routers read; built once, then only read (bookings aside).

    Attributes
    ----------
    region : Region
        The served region.
    settings : Settings
        The process settings.
    networks : dict
        :class:`routing.road.RoadNetwork` (graph, snapper, hierarchy) per profile.
    graphs, snappers, hierarchies : dict
        The networks' parts per profile (read by matrix, isochrone and map layers).
    transit : TransitNetwork or None
        The loaded timetable with its walk graph, footpaths and stop links.
    stations, chargers : object or None
        Live stores of bike stations and charging points.
    vehicles : VehicleStore or None
        Free-floating e-scooters and bikes (GBFS) with their geofencing zones.
    planner : PlanContext or None
        The multimodal planner's context (needs the walk, bike and car networks);
        extra access/egress providers (the shuttle) register on it.
    bookings : BookingStore
        Durable shuttle bookings and dispatcher state.
    shuttle : BookingService
        Bookings over the dispatcher, in step with the other worker processes.
    booking_batcher : BookingBatcher
        Group commit of the booking creations that arrive together.
    dispatcher : ShuttleDispatcher or None
        The shuttle dispatcher (None: no shuttle in this build).
    live : LiveSync or None
        Road closures and traffic (:class:`api.services.live_sync.LiveSync`), attached
        to the served networks and the planner.
    realtime : LiveFeeds or None
        The region's polled live feeds and the current realtime snapshot
        (:class:`api.live.feeds.LiveFeeds`); requests read ``realtime.current()``.
    components : dict
        Readiness of each domain (shown by ``/api/v1/health``).
    cache : dict
        Rendered responses that never change while the process runs (map layers).
    """

    region: Region
    settings: Settings
    bookings: BookingStore
    networks: dict[str, Any] = field(default_factory=dict)
    graphs: dict[str, Any] = field(default_factory=dict)
    snappers: dict[str, Any] = field(default_factory=dict)
    hierarchies: dict[str, Any] = field(default_factory=dict)
    transit: Any = None
    stations: Any = None
    chargers: Any = None
    vehicles: Any = None
    planner: Any = None
    shuttle: Any = None
    booking_batcher: Any = None
    dispatcher: Any = None
    live: Any = None
    realtime: Any = None
    components: dict[str, Component] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)

    def component(self, name: str) -> Component:
        """Return a component's status (unknown names are unavailable)."""
        return self.components.get(name) or Component(name, False, "not part of this build")


#: Permission bits of the data files the server creates (bookings, token secret, live state).
PRIVATE_MODE = 0o600


def private_database_file(url: str) -> None:
    """Create an SQLite database file readable by its owner only (or tighten an existing one).

    The bookings database holds passengers' trips (and, without
    ``ELSTER_TOKEN_SECRET``, the secret that signs their tokens). SQLite gives
    its ``-wal`` and ``-shm`` files the database file's permissions, so creating
    the file 0600 before SQLite opens it keeps all three private. Other URLs
    (``:memory:``, PostgreSQL) are left alone.
    """
    import os
    import stat
    from pathlib import Path

    from api.storage.db import sqlite_path

    if not url.startswith("sqlite"):
        return
    path = sqlite_path(url)
    if path == ":memory:" or path.startswith("file:"):
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The database, and the lock file the store flocks beside it (created here first).
    for file in (target, target.with_name(target.name + ".lock")):
        fd = os.open(file, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
        try:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o077:
                logger.warning("%s was readable by others (mode %o); making it %o",
                               file, mode, PRIVATE_MODE)  # fmt: skip
                os.fchmod(fd, PRIVATE_MODE)
        finally:
            os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = target.with_name(target.name + suffix)
        if side.exists() and stat.S_IMODE(side.stat().st_mode) & 0o077:
            side.chmod(PRIVATE_MODE)


def _timed(state: RegionState, name: str, loader: Any) -> None:
    start = time.perf_counter()
    try:
        detail = loader(state)
    except ImportError as exc:
        state.components[name] = Component(name, False, f"not part of this build ({exc.name})")
        logger.warning("%s: not available in this build (%s)", name, exc)
        return
    except (FileNotFoundError, RegionError) as exc:
        state.components[name] = Component(name, False, f"no data: {exc}")
        logger.warning("%s: no data for region %s: %s", name, state.region.name, exc)
        return
    seconds = time.perf_counter() - start
    state.components[name] = Component(name, True, detail or "ready", seconds)
    logger.info("%s ready in %.1f s: %s", name, seconds, detail)


def _load_road(state: RegionState) -> str:
    from routing.road import load_road_networks

    profiles = tuple(state.settings.profile_list())
    if not profiles:
        raise ImportError("no road profiles configured (ELSTER_PROFILES is empty)", name="road")
    state.networks = load_road_networks(
        state.region,
        profiles,
        data_dir=state.settings.data_dir,
        cache_dir=state.settings.cache_dir,
    )
    for profile, network in state.networks.items():
        state.graphs[profile] = network.graph
        state.snappers[profile] = network.snapper
        state.hierarchies[profile] = network.hierarchy
    return "; ".join(
        f"{p} {n.graph.n_nodes:,} nodes/{n.graph.n_edges:,} edges"
        for p, n in state.networks.items()
    )


def _load_transit(state: RegionState) -> str:
    if not state.settings.transit:
        raise ImportError("transit disabled by ELSTER_TRANSIT=false", name="transit")
    if not state.region.has_source("gtfs"):
        raise FileNotFoundError(f"region {state.region.name} has no gtfs source")
    from routing.transit.door_to_door import load_transit_network

    state.transit = load_transit_network(
        state.region, data_dir=state.settings.data_dir, cache_dir=state.settings.cache_dir
    )
    tt = state.transit.timetable
    return f"{tt.n_stops} stops, {tt.n_trips} trips on {tt.date}"


def _load_stations(state: RegionState) -> str:
    from api.services.stations_adapter import load_stations

    state.stations = load_stations(state)
    return f"{len(state.stations)} stations"


def _load_chargers(state: RegionState) -> str:
    from api.services.stations_adapter import load_chargers

    state.chargers = load_chargers(state)
    return f"{len(state.chargers)} charging sites"


def _load_vehicles(state: RegionState) -> str:
    from api.services.stations_adapter import load_vehicles

    state.vehicles = load_vehicles(state)
    systems = len(state.vehicles.systems())
    return f"{len(state.vehicles)} free-floating vehicles in {systems} system(s)"


def _load_wheelchair(state: RegionState) -> str:
    from routing.road import load_wheelchair_network

    if "walk" not in state.networks:
        raise ImportError("step-free routing needs the walk profile", name="wheelchair")
    network = load_wheelchair_network(
        state.region, data_dir=state.settings.data_dir, cache_dir=state.settings.cache_dir
    )
    state.cache["wheelchair_network"] = network
    return f"{network.graph.n_nodes:,} nodes/{network.graph.n_edges:,} edges"


def _load_planner(state: RegionState) -> str:
    from routing.planner import PlanContext

    missing = [p for p in ("walk", "bike", "car") if p not in state.networks]
    if missing:
        raise ImportError(
            f"the planner needs the walk, bike and car networks; not loaded: {', '.join(missing)}",
            name="planner",
        )
    networks = dict(state.networks)
    if "wheelchair_network" in state.cache:
        networks["wheelchair"] = state.cache["wheelchair_network"]
    state.planner = PlanContext(
        networks=networks,
        transit=state.transit,
        stations=state.stations,
        chargers=state.chargers,
        vehicles=state.vehicles,
    )
    return "modes " + ", ".join(planner_modes(state))


def _load_live(state: RegionState) -> str:
    """Closures and traffic on every served network and in the planner (see LiveSync)."""
    from api.services.live_sync import LiveSync

    if not state.networks:
        raise ImportError("live road state needs the road networks", name="live")
    static = dict(state.networks)
    graphs = {p: n.graph for p, n in static.items()}
    if "wheelchair_network" in state.cache:
        graphs["wheelchair"] = state.cache["wheelchair_network"].graph

    def attach(live: Any) -> None:
        state.networks = {p: n.with_live(live) for p, n in static.items()}
        if state.planner is not None:
            state.planner.attach_live(live)

    state.live = LiveSync(
        graphs,
        state.settings.resolved_live_path(state.region.name),
        timezone=state.region.timezone,
        snapper=state.snappers.get("car"),
        on_attach=attach,
    )
    live = state.live.live
    return f"{len(live.closures())} closure(s), {len(live.traffic())} traffic reading(s)"


def _load_realtime(state: RegionState) -> str:
    """The region's ``[live.KEY]`` feeds (GTFS-RT, GBFS, ParkAPI, OCPI); polled once started."""
    from api.live.feeds import LiveFeeds

    sources = state.region.live
    for source in sources.values():
        source.headers()  # an auth variable that is not set: a clear error now, not at 3 am
    state.realtime = LiveFeeds(
        sources,
        spool_dir=state.settings.data_dir / "live" / "feeds" / state.region.name,
        transit=state.transit,
        stations=state.stations,
        chargers=state.chargers,
        vehicles=state.vehicles,
        bbox=state.region.bbox,
    )
    if not sources:
        return "no live feeds in the region file (add [live.KEY] tables)"
    return ", ".join(f"{k} ({s.kind}, every {s.interval_s:g} s)" for k, s in sources.items())


def planner_modes(state: RegionState) -> list[str]:
    """Plan modes this server can answer (transit-based ones need the timetable)."""
    from routing.planner import MODES

    if state.planner is None:
        return []
    timetable = state.transit is not None
    return [m for m in MODES if timetable or m not in TIMETABLE_MODES]


#: Plan modes that ride public transport (they need the timetable).
TIMETABLE_MODES = frozenset({"transit", "bike_ride", "shuttle"})


def _load_dispatcher(state: RegionState) -> str:
    from api.services.fleet_adapter import load_dispatcher

    state.dispatcher = load_dispatcher(
        state.settings,
        networks=state.networks,
        timezone=state.region.timezone,
        chargers=state.chargers,
    )
    return "online dispatcher ready"


def _warm_up(state: RegionState) -> None:
    """Call every numba kernel a request can reach once, so none compiles on the event loop.

    Runs in the lifespan, before the worker listens (:mod:`api.workers` binds
    its socket only after startup): road routes, matrices and isochrones on
    every profile, one plan with every mode, one with a departure window
    (range RAPTOR), an arrive-by plan, and a shuttle quote. Compiled kernels
    are cached under ``NUMBA_CACHE_DIR`` (see :mod:`routing`), so a restart
    loads them instead of compiling again.
    """
    if not state.region.sample_queries:
        return
    from routing.planner import EvSpec, PlanRequest, plan

    (o_lat, o_lon), (d_lat, d_lon) = state.region.sample_queries[0]
    origin, destination = (float(o_lat), float(o_lon)), (float(d_lat), float(d_lon))
    start = time.perf_counter()
    when = (
        state.transit.timetable.to_datetime(8 * 3600)
        if state.transit is not None
        else datetime.now(ZoneInfo(state.region.timezone))
    )
    steps: list[tuple[str, Any]] = []

    def polyline() -> None:  # every answer with a leg geometry encodes one
        import numpy as np

        from routing.polyline import decode_polyline, encode_polyline

        decode_polyline(encode_polyline(np.array([o_lat, d_lat]), np.array([o_lon, d_lon]), 6), 6)

    steps.append(("polyline", polyline))
    for profile, network in state.networks.items():
        steps.append((f"{profile} route", lambda n=network: n.route(origin, destination)))
        steps.append((f"{profile} matrix", lambda n=network: _warm_matrix(n, origin, destination)))
        steps.append((f"{profile} isochrone", lambda n=network: _warm_isochrone(n, origin)))
    if state.planner is not None:
        modes = frozenset(planner_modes(state)) - {"shuttle"}
        ev = EvSpec(capacity_kwh=50.0, battery_percent=60.0)
        for label, extra in (
            ("plan", {}),
            ("plan with a window", {"window_s": 1800.0}),
            ("arrive-by plan", {"arrive_by": True}),
        ):
            request = PlanRequest(origin=origin, destination=destination, depart_at=when,
                                  modes=modes, ev=ev, timezone=state.region.timezone,
                                  **extra)  # fmt: skip
            steps.append((label, lambda r=request: plan(r, state.planner)))
    for label, step in steps:
        try:
            step()
        except ElsterError as exc:
            logger.warning("warm-up %s did not run (%s); its first request may be slow",
                           label, exc)  # fmt: skip
    logger.info("warm-up queries done in %.1f s", time.perf_counter() - start)


def _warm_isochrone(network: Any, origin: tuple[float, float]) -> None:
    """A 2-minute isochrone drawn as ``/isochrone`` draws it (imports and warms GEOS too)."""
    from api.services.isochrone_shape import isochrone_geometry

    reached = network.isochrone_edges(origin, 120.0)
    isochrone_geometry(network.current_graph(), reached.edges, reached.fraction)


def _warm_matrix(
    network: Any, origin: tuple[float, float], destination: tuple[float, float]
) -> None:
    """A 2 x 1 matrix between snapped nodes, as ``/matrix`` computes it."""
    import numpy as np

    lats = np.array([origin[0], destination[0]])
    lons = np.array([origin[1], destination[1]])
    nodes, _ = network.snapper.snap_many(lats, lons, max_distance_m=5000.0)
    if (nodes >= 0).all():
        network.matrix(nodes, nodes[1:])


def _warm_up_shuttle(state: RegionState) -> None:
    """One shuttle quote (changes no plan): the dispatcher's kernels compile now."""
    if state.dispatcher is None or not state.region.sample_queries:
        return
    from fleet.online.protocol import ShuttleRequest

    (o_lat, o_lon), (d_lat, d_lon) = state.region.sample_queries[0]
    request = ShuttleRequest((float(o_lat), float(o_lon)), (float(d_lat), float(d_lon)),
                             earliest_pickup=time.time() + 1800.0)  # fmt: skip
    try:
        state.shuttle.quote(request)
    except ElsterError as exc:
        logger.warning("warm-up shuttle quote did not run (%s); the first may be slow", exc)


def _add_shuttle_provider(state: RegionState) -> None:
    """Let /plan offer "shuttle to the tram stop" legs quoted by the dispatcher."""
    from fleet.online.service import OnlineShuttle

    shuttle = state.dispatcher
    if state.planner is None or state.transit is None or not isinstance(shuttle, OnlineShuttle):
        return
    state.planner.add_provider(shuttle.leg_provider(state.shuttle.log.lock))
    logger.info("planner: shuttle legs to and from transit stops offered")


def load_state(settings: Settings, *, dispatcher: Any = None) -> RegionState:
    """Load the configured region and every available component.

    Parameters
    ----------
    settings : Settings
        Process settings.
    dispatcher : ShuttleDispatcher, optional
        Use this dispatcher instead of the fleet's (tests, simulations).

    Raises
    ------
    ElsterError
        The region is unknown or one of its input files is malformed.
    """
    from api.services.booking_batch import BookingBatcher
    from api.services.shuttle import BookingService

    region = load_region(settings.region)
    url = settings.resolved_database_url(region.name)
    private_database_file(url)
    if not settings.token_secret:
        logger.warning(
            "ELSTER_TOKEN_SECRET is not set: passenger tokens are signed with a secret kept in "
            "the bookings database, so whoever can read the database can forge tokens; set "
            "ELSTER_TOKEN_SECRET (32+ random characters, the same for every worker and host)"
        )
    bookings = BookingStore(url, token_secret=settings.token_secret)
    state = RegionState(region=region, settings=settings, bookings=bookings)
    _timed(state, "road", _load_road)
    _timed(state, "transit", _load_transit)
    _timed(state, "stations", _load_stations)
    _timed(state, "chargers", _load_chargers)
    _timed(state, "vehicles", _load_vehicles)
    if state.settings.wheelchair:
        _timed(state, "wheelchair", _load_wheelchair)
    _timed(state, "planner", _load_planner)
    _timed(state, "live", _load_live)
    _timed(state, "realtime", _load_realtime)
    if dispatcher is not None:
        state.dispatcher = dispatcher
        state.components["shuttle"] = Component("shuttle", True, "dispatcher given by caller")
    else:
        _timed(state, "shuttle", _load_dispatcher)
    _warm_up(state)
    try:
        state.shuttle = BookingService(bookings, state.dispatcher, timezone=region.timezone)
        state.booking_batcher = BookingBatcher(state.shuttle)
    except ElsterError:
        bookings.close()
        raise
    _warm_up_shuttle(state)
    _add_shuttle_provider(state)
    ready = [c.name for c in state.components.values() if c.ready]
    logger.info("region %s loaded: %s ready", region.name, ", ".join(ready) or "nothing")
    return state
