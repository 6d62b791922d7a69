"""The region, loaded once per process: road networks, timetable, stations, bookings, planner.

:func:`load_state` is called from the app's lifespan. Each domain is a
*component*. Whether a component is wanted is decided from the settings and
the region's data, never from what happens to import: a component the
settings turn off, or whose prerequisite is not loaded, raises
:class:`FeatureDisabled` with the reason and the fix, and its endpoints answer
503 saying so (``/api/v1/health`` lists them). A source file the region does
not have is "no data". Everything else stops the startup: a malformed input
file names the file, and an ``ImportError`` is a bug in this build, never
a disabled feature.

The loaded pieces are the core's own objects (:class:`routing.road.RoadNetwork`
per profile, :class:`routing.transit.door_to_door.TransitNetwork`, the live
station and charger stores), and the one :class:`routing.planner.PlanContext`
that ``/plan`` uses is assembled from them, so live availability updates made
through the API are what the planner reads. The adapters that load them take
settings and explicit dependencies, never this state (nothing they import
imports this module back).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

from api.clock import make_clock
from api.live.feeds import LiveFeeds
from api.services.booking_batch import BookingBatcher
from api.services.fleet_adapter import load_dispatcher
from api.services.live_sync import LiveSync
from api.services.shuttle import BookingService
from api.services.stations_adapter import load_chargers, load_stations, load_vehicles
from api.settings import Settings
from api.storage import BookingStore
from fleet.online.protocol import ShuttleDispatcher, ShuttleRequest
from routing.errors import ElsterError, RegionError
from routing.live import LiveState
from routing.planner import MODES, EvSpec, PlanContext, PlanRequest, plan
from routing.regions import Region, load_region
from routing.road import RoadNetwork, load_road_networks, load_wheelchair_network
from routing.stations import ChargerStore, StationStore, VehicleStore
from routing.transit.door_to_door import TransitNetwork, load_transit_network

logger = logging.getLogger(__name__)

T = TypeVar("T")


class FeatureDisabled(Exception):  # noqa: N818 (a signal, not an error: nothing went wrong)
    """A component this server does not provide, by its settings or its region's data.

    Raised by a component loader *before* it loads anything, from settings and
    data presence only. :func:`load_state` records the component as not ready
    with ``reason`` and ``fix``; its endpoints answer 503 with both.

    Parameters
    ----------
    reason : str
        Why the component is off, naming the setting (``ELSTER_TRANSIT=false``).
    fix : str
        What to change to turn it on.
    """

    def __init__(self, reason: str, *, fix: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


@dataclass
class Component:
    """Whether a domain is ready, and why not.

    Attributes
    ----------
    name : str
        The domain (``road``, ``transit``, ``shuttle``, ...).
    ready : bool
        Whether its endpoints can answer.
    detail : str
        What was loaded, or why not (``disabled: ...``, ``no data: ...``).
    seconds : float
        Time its loading took.
    fix : str
        How to turn it on when it is not ready (empty when unknown).
    """

    name: str
    ready: bool
    detail: str
    seconds: float = 0.0
    fix: str = ""


@dataclass
class RegionState:
    """Everything the routers read; built once, then only read (bookings aside).

    Attributes
    ----------
    region : Region
        The served region.
    settings : Settings
        The process settings.
    bookings : BookingStore
        Durable shuttle bookings and dispatcher state.
    shuttle : BookingService
        Bookings over the dispatcher, in step with the other worker processes.
    booking_batcher : BookingBatcher
        Group commit of the booking creations that arrive together.
    networks : dict of str to RoadNetwork
        The road network (graph, snapper, hierarchy) of each served profile,
        under the current live state (:func:`build_live_sync` re-attaches it).
    wheelchair : RoadNetwork or None
        The step-free walking network (also in the planner).
    transit : TransitNetwork or None
        The loaded timetable with its walk graph, footpaths and stop links.
    stations : StationStore or None
        Bike stations, bike boxes and parking, with live availability.
    chargers : ChargerStore or None
        Charging points with live EVSE status.
    vehicles : VehicleStore or None
        Free-floating e-scooters and bikes (GBFS) with their geofencing zones.
    planner : PlanContext or None
        The multimodal planner's context (needs the walk, bike and car networks);
        extra access/egress providers (the shuttle) register on it.
    dispatcher : ShuttleDispatcher or None
        The shuttle dispatcher (None: no shuttle on this server).
    live : LiveSync or None
        Road closures and traffic, attached to the served networks and the planner.
    realtime : LiveFeeds or None
        The region's polled live feeds and the current realtime snapshot; requests
        read ``realtime.current()``.
    components : dict of str to Component
        Readiness of each domain (shown by ``/api/v1/health``).
    cache : dict of str to bytes
        Rendered responses that never change while the process runs (map layers).
    started_at : float
        Unix time the state was created.
    clock : callable
        UNIX seconds now for the shuttle stack (``ELSTER_CLOCK_FILE`` or the system clock).
    """

    region: Region
    settings: Settings
    bookings: BookingStore
    shuttle: BookingService
    booking_batcher: BookingBatcher
    networks: dict[str, RoadNetwork] = field(default_factory=dict)
    wheelchair: RoadNetwork | None = None
    transit: TransitNetwork | None = None
    stations: StationStore | None = None
    chargers: ChargerStore | None = None
    vehicles: VehicleStore | None = None
    planner: PlanContext | None = None
    dispatcher: ShuttleDispatcher | None = None
    live: LiveSync | None = None
    realtime: LiveFeeds | None = None
    components: dict[str, Component] = field(default_factory=dict)
    cache: dict[str, bytes] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    clock: Callable[[], float] = time.time

    def component(self, name: str) -> Component:
        """Return a component's status (a name never loaded is not ready)."""
        return self.components.get(name) or Component(
            name, False, "not loaded on this server", fix="see /api/v1/health"
        )


#: Permission bits of the data files the server creates (bookings, token secret, live state).
PRIVATE_MODE = 0o600


def private_database_file(url: str) -> None:
    """Create an SQLite database file readable by its owner only (or tighten an existing one).

    The bookings database holds passengers' trips (and, without
    ``ELSTER_TOKEN_SECRET``, the secret that signs their tokens). SQLite gives
    its ``-wal`` and ``-shm`` files the database file's permissions, so creating
    the file 0600 before SQLite opens it keeps all three private. Other URLs
    (``:memory:``, PostgreSQL) are left alone.

    Parameters
    ----------
    url : str
        The bookings database URL.
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


class ComponentLoader:
    """Loads components one by one and records how each went.

    Parameters
    ----------
    region : Region
        The region being loaded (named in log lines).
    """

    def __init__(self, region: Region) -> None:
        self.region = region
        self.components: dict[str, Component] = {}

    def load(self, name: str, loader: Callable[[], T], describe: Callable[[T], str]) -> T | None:
        """Run ``loader``; return its value, or None when the component is off.

        Parameters
        ----------
        name : str
            The component.
        loader : callable
            Loads it; raises :class:`FeatureDisabled` when it is not wanted, or
            ``FileNotFoundError`` / :class:`RegionError` when the region has no
            data for it. Every other exception (an ``ImportError`` included)
            propagates and stops the startup.
        describe : callable
            One line about the loaded value, for ``/health`` and the log.
        """
        start = time.perf_counter()
        try:
            value = loader()
        except FeatureDisabled as exc:
            self.components[name] = Component(name, False, f"disabled: {exc.reason}", fix=exc.fix)
            logger.warning("%s: disabled (%s)", name, exc.reason)
            return None
        except (FileNotFoundError, RegionError) as exc:
            fix = "fetch the region's sources (elster fetch) or add the source to its region file"
            self.components[name] = Component(name, False, f"no data: {exc}", fix=fix)
            logger.warning("%s: no data for region %s: %s", name, self.region.name, exc)
            return None
        seconds = time.perf_counter() - start
        detail = describe(value)
        self.components[name] = Component(name, True, detail or "ready", seconds)
        logger.info("%s ready in %.1f s: %s", name, seconds, detail)
        return value

    def disabled(self, name: str, reason: str, *, fix: str = "") -> None:
        """Record a component that was not attempted (its reason decided by the caller)."""
        self.components[name] = Component(name, False, f"disabled: {reason}", fix=fix)
        logger.warning("%s: disabled (%s)", name, reason)


# -- component loaders: settings and explicit dependencies in, a core object out ----------------


def _load_road(region: Region, settings: Settings) -> dict[str, RoadNetwork]:
    profiles = tuple(settings.profile_list())
    if not profiles:
        raise FeatureDisabled(
            "no road profiles configured (ELSTER_PROFILES is empty)",
            fix="set ELSTER_PROFILES, e.g. walk,bike,car,shuttle",
        )
    return load_road_networks(
        region, profiles, data_dir=settings.data_dir, cache_dir=settings.cache_dir
    )


def _describe_road(networks: dict[str, RoadNetwork]) -> str:
    return "; ".join(
        f"{p} {n.graph.n_nodes:,} nodes/{n.graph.n_edges:,} edges" for p, n in networks.items()
    )


def _load_transit(region: Region, settings: Settings) -> TransitNetwork:
    if not settings.transit:
        raise FeatureDisabled("ELSTER_TRANSIT=false", fix="start with ELSTER_TRANSIT=true")
    if not region.has_source("gtfs"):
        raise FileNotFoundError(f"region {region.name} has no gtfs source")
    return load_transit_network(region, data_dir=settings.data_dir, cache_dir=settings.cache_dir)


def _describe_transit(transit: TransitNetwork) -> str:
    tt = transit.timetable
    return f"{tt.n_stops} stops, {tt.n_trips} trips on {tt.date}"


def _load_wheelchair(
    region: Region, settings: Settings, networks: dict[str, RoadNetwork]
) -> RoadNetwork:
    if "walk" not in networks:
        raise FeatureDisabled(
            "step-free routing needs the walk profile", fix="add walk to ELSTER_PROFILES"
        )
    return load_wheelchair_network(region, data_dir=settings.data_dir, cache_dir=settings.cache_dir)


def _describe_network(network: RoadNetwork) -> str:
    return f"{network.graph.n_nodes:,} nodes/{network.graph.n_edges:,} edges"


def _load_planner(
    networks: dict[str, RoadNetwork],
    *,
    wheelchair: RoadNetwork | None,
    transit: TransitNetwork | None,
    stations: StationStore | None,
    chargers: ChargerStore | None,
    vehicles: VehicleStore | None,
) -> PlanContext:
    missing = [p for p in ("walk", "bike", "car") if p not in networks]
    if missing:
        raise FeatureDisabled(
            f"the planner needs the walk, bike and car networks; not loaded: {', '.join(missing)}",
            fix="add walk, bike and car to ELSTER_PROFILES",
        )
    planned = dict(networks)
    if wheelchair is not None:
        planned["wheelchair"] = wheelchair
    return PlanContext(
        networks=planned, transit=transit, stations=stations, chargers=chargers, vehicles=vehicles
    )


def build_live_sync(
    region: Region,
    settings: Settings,
    networks: dict[str, RoadNetwork],
    *,
    wheelchair: RoadNetwork | None = None,
    planner: PlanContext | None = None,
) -> LiveSync:
    """The one place that builds the server's live road state (closures and traffic).

    Every state :class:`LiveSync` loads (at startup, and when another worker
    changed the shared file) is attached to the served networks and the planner,
    so routes, matrices, isochrones and plans respect a change at once.

    Parameters
    ----------
    region : Region
        The served region (its zone reads naive timestamps).
    settings : Settings
        Where the shared live-state file is (``ELSTER_LIVE_PATH``).
    networks : dict of str to RoadNetwork
        The served networks; updated in place with each attached live view, so
        every holder of this dict (the state and its copies) answers under it.
    wheelchair : RoadNetwork, optional
        The step-free network (closures resolve on its graph too).
    planner : PlanContext, optional
        The planner to attach each live state to.

    Raises
    ------
    FeatureDisabled
        No road networks are loaded.
    """
    if not networks:
        raise FeatureDisabled("live road state needs the road networks", fix="set ELSTER_PROFILES")
    static = dict(networks)
    graphs = {p: n.graph for p, n in static.items()}
    if wheelchair is not None:
        graphs["wheelchair"] = wheelchair.graph

    def attach(live: LiveState) -> None:
        networks.update({p: n.with_live(live) for p, n in static.items()})
        if planner is not None:
            planner.attach_live(live)

    car = static.get("car")
    return LiveSync(
        graphs,
        settings.resolved_live_path(region.name),
        timezone=region.timezone,
        snapper=car.snapper if car is not None else None,
        on_attach=attach,
    )


def _describe_live(sync: LiveSync) -> str:
    live = sync.live
    return f"{len(live.closures())} closure(s), {len(live.traffic())} traffic reading(s)"


def _load_realtime(
    region: Region,
    settings: Settings,
    *,
    transit: TransitNetwork | None,
    stations: StationStore | None,
    chargers: ChargerStore | None,
    vehicles: VehicleStore | None,
) -> LiveFeeds:
    """The region's ``[live.KEY]`` feeds (GTFS-RT, GBFS, ParkAPI, OCPI); polled once started."""
    sources = region.live
    for source in sources.values():
        source.headers()  # an auth variable that is not set: a clear error now, not at 3 am
    return LiveFeeds(
        sources,
        spool_dir=settings.data_dir / "live" / "feeds" / region.name,
        transit=transit,
        stations=stations,
        chargers=chargers,
        vehicles=vehicles,
        bbox=region.bbox,
    )


def _describe_realtime(feeds: LiveFeeds) -> str:
    if not feeds.sources:
        return "no live feeds in the region file (add [live.KEY] tables)"
    return ", ".join(f"{k} ({s.kind}, every {s.interval_s:g} s)" for k, s in feeds.sources.items())


#: Plan modes that ride public transport (they need the timetable).
TIMETABLE_MODES = frozenset({"transit", "bike_ride", "shuttle"})


def available_modes(planner: PlanContext | None, transit: TransitNetwork | None) -> list[str]:
    """Plan modes a planner can answer (transit-based ones need the timetable).

    Parameters
    ----------
    planner : PlanContext or None
        The loaded planner (None: no modes).
    transit : TransitNetwork or None
        The loaded timetable.
    """
    if planner is None:
        return []
    return [m for m in MODES if transit is not None or m not in TIMETABLE_MODES]


def planner_modes(state: RegionState) -> list[str]:
    """Plan modes this server can answer (transit-based ones need the timetable).

    Parameters
    ----------
    state : RegionState
        The loaded region.
    """
    return available_modes(state.planner, state.transit)


# -- warm-up -----------------------------------------------------------------------------------


def _warm_up(
    region: Region,
    networks: dict[str, RoadNetwork],
    planner: PlanContext | None,
    transit: TransitNetwork | None,
) -> None:
    """Call every numba kernel a request can reach once, so none compiles on the event loop.

    Runs in the lifespan, before the worker listens (:mod:`api.workers` binds
    its socket only after startup): road routes, matrices and isochrones on
    every profile, one plan with every mode, one with a departure window
    (range RAPTOR), an arrive-by plan (the shuttle quote is warmed by
    :func:`_warm_up_shuttle`). Compiled kernels are cached under
    ``NUMBA_CACHE_DIR`` (see :mod:`routing`), so a restart loads them instead
    of compiling again.
    """
    if not region.sample_queries:
        return
    (o_lat, o_lon), (d_lat, d_lon) = region.sample_queries[0]
    origin, destination = (float(o_lat), float(o_lon)), (float(d_lat), float(d_lon))
    start = time.perf_counter()
    when = (
        transit.timetable.to_datetime(8 * 3600)
        if transit is not None
        else datetime.now(ZoneInfo(region.timezone))
    )
    steps: list[tuple[str, Callable[[], object]]] = []

    def polyline() -> None:  # every answer with a leg geometry encodes one
        import numpy as np

        from routing.polyline import decode_polyline, encode_polyline

        decode_polyline(encode_polyline(np.array([o_lat, d_lat]), np.array([o_lon, d_lon]), 6), 6)

    steps.append(("polyline", polyline))
    for profile, network in networks.items():
        steps.append((f"{profile} route", partial(network.route, origin, destination)))
        steps.append((f"{profile} matrix", partial(_warm_matrix, network, origin, destination)))
        steps.append((f"{profile} isochrone", partial(_warm_isochrone, network, origin)))
    if planner is not None:
        modes = frozenset(available_modes(planner, transit)) - {"shuttle"}
        ev = EvSpec(capacity_kwh=50.0, battery_percent=60.0)
        for label, extra in (
            ("plan", {}),
            ("plan with a window", {"window_s": 1800.0}),
            ("arrive-by plan", {"arrive_by": True}),
        ):
            request = PlanRequest(origin=origin, destination=destination, depart_at=when,
                                  modes=modes, ev=ev, timezone=region.timezone,
                                  **extra)  # fmt: skip
            steps.append((label, partial(plan, request, planner)))
    for label, step in steps:
        try:
            step()
        except ElsterError as exc:
            logger.warning("warm-up %s did not run (%s); its first request may be slow",
                           label, exc)  # fmt: skip
    logger.info("warm-up queries done in %.1f s", time.perf_counter() - start)


def _warm_isochrone(network: RoadNetwork, origin: tuple[float, float]) -> None:
    """A 2-minute isochrone drawn as ``/isochrone`` draws it (imports and warms GEOS too)."""
    from api.services.isochrone_shape import isochrone_geometry

    reached = network.isochrone_edges(origin, 120.0)
    isochrone_geometry(network.current_graph(), reached.edges, reached.fraction)


def _warm_matrix(
    network: RoadNetwork, origin: tuple[float, float], destination: tuple[float, float]
) -> None:
    """A 2 x 1 matrix between snapped nodes, as ``/matrix`` computes it."""
    import numpy as np

    lats = np.array([origin[0], destination[0]])
    lons = np.array([origin[1], destination[1]])
    nodes, _ = network.snapper.snap_many(lats, lons, max_distance_m=5000.0)
    if (nodes >= 0).all():
        network.matrix(nodes, nodes[1:])


# -- shuttle stack: every line that builds it is in this block ---------------------------------
# (the dispatcher from api.services.fleet_adapter, the booking service and batcher over it
# from api.services.shuttle and booking_batch, its warm-up and its planner legs;
# _load_components calls _load_shuttle and _start_shuttle, then the two below)


def _load_shuttle(
    region: Region,
    settings: Settings,
    networks: dict[str, RoadNetwork],
    chargers: ChargerStore | None,
    clock: Callable[[], float],
) -> ShuttleDispatcher:
    """The online dispatcher on the ``shuttle`` road network (off by settings otherwise)."""
    if settings.shuttle_vehicles == 0:
        raise FeatureDisabled(
            "ELSTER_SHUTTLE_VEHICLES=0", fix="set ELSTER_SHUTTLE_VEHICLES to the fleet size"
        )
    if "shuttle" not in networks:
        raise FeatureDisabled(
            "the shuttle needs the shuttle road profile", fix="add shuttle to ELSTER_PROFILES"
        )
    return load_dispatcher(
        settings,
        network=networks["shuttle"],
        timezone=region.timezone,
        chargers=chargers,
        clock=clock,
    )


def _start_shuttle(
    region: Region,
    bookings: BookingStore,
    dispatcher: ShuttleDispatcher | None,
    clock: Callable[[], float],
) -> tuple[BookingService, BookingBatcher]:
    """The booking service over ``dispatcher`` (joins the dispatch log) and its batcher."""
    shuttle = BookingService(bookings, dispatcher, timezone=region.timezone, clock=clock)
    return shuttle, BookingBatcher(shuttle)


def _warm_up_shuttle(state: RegionState) -> None:
    """One shuttle quote (changes no plan): the dispatcher's kernels compile now."""
    if state.dispatcher is None or not state.region.sample_queries:
        return
    (o_lat, o_lon), (d_lat, d_lon) = state.region.sample_queries[0]
    request = ShuttleRequest((float(o_lat), float(o_lon)), (float(d_lat), float(d_lon)),
                             earliest_pickup=state.clock() + 1800.0)  # fmt: skip
    try:
        state.shuttle.quote(request)
    except ElsterError as exc:
        logger.warning("warm-up shuttle quote did not run (%s); the first may be slow", exc)


def _add_shuttle_provider(state: RegionState) -> None:
    """Let /plan offer "shuttle to the tram stop" legs quoted by the dispatcher."""
    from fleet.online.service import OnlineShuttle

    shuttle = state.dispatcher
    log = state.shuttle.log
    if (
        state.planner is None
        or state.transit is None
        or log is None
        or not isinstance(shuttle, OnlineShuttle)
    ):
        return
    state.planner.add_provider(shuttle.leg_provider(log.lock))
    logger.info("planner: shuttle legs to and from transit stops offered")


# -- end of the shuttle stack block ------------------------------------------------------------


def load_state(settings: Settings, *, dispatcher: ShuttleDispatcher | None = None) -> RegionState:
    """Load the configured region and every component its settings and data provide.

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
    ImportError
        A module of this build is broken (a bug: never reported as a disabled feature).
    """
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
    try:
        return _load_components(region, settings, bookings, dispatcher)
    except BaseException:
        bookings.close()
        raise


def _load_components(
    region: Region,
    settings: Settings,
    bookings: BookingStore,
    given_dispatcher: ShuttleDispatcher | None,
) -> RegionState:
    """Every component in dependency order, then the state that holds them.

    Each loader gets the settings and the pieces it needs, nothing else; the
    state is assembled once everything it holds exists.
    """
    loader = ComponentLoader(region)
    clock = make_clock(settings.clock_file)
    networks = loader.load("road", lambda: _load_road(region, settings), _describe_road) or {}
    transit = loader.load("transit", lambda: _load_transit(region, settings), _describe_transit)
    stations = loader.load(
        "stations", lambda: load_stations(region, settings), lambda s: f"{len(s)} stations"
    )
    chargers = loader.load(
        "chargers", lambda: load_chargers(region, settings), lambda c: f"{len(c)} charging sites"
    )
    vehicles = loader.load(
        "vehicles",
        lambda: load_vehicles(region, settings),
        lambda v: f"{len(v)} free-floating vehicles in {len(v.systems())} system(s)",
    )
    wheelchair = None
    if settings.wheelchair:
        wheelchair = loader.load(
            "wheelchair",
            lambda: _load_wheelchair(region, settings, networks),
            _describe_network,
        )
    else:
        loader.disabled("wheelchair", "ELSTER_WHEELCHAIR=false", fix="set ELSTER_WHEELCHAIR=true")
    planner = loader.load(
        "planner",
        lambda: _load_planner(
            networks,
            wheelchair=wheelchair,
            transit=transit,
            stations=stations,
            chargers=chargers,
            vehicles=vehicles,
        ),
        lambda p: "modes " + ", ".join(available_modes(p, transit)),
    )
    live = loader.load(
        "live",
        lambda: build_live_sync(region, settings, networks, wheelchair=wheelchair, planner=planner),
        _describe_live,
    )
    realtime = loader.load(
        "realtime",
        lambda: _load_realtime(
            region,
            settings,
            transit=transit,
            stations=stations,
            chargers=chargers,
            vehicles=vehicles,
        ),
        _describe_realtime,
    )
    # The shuttle's dispatcher plans on the live view of the shuttle network attached above.
    if given_dispatcher is not None:
        dispatcher: ShuttleDispatcher | None = given_dispatcher
        loader.components["shuttle"] = Component("shuttle", True, "dispatcher given by caller")
    else:
        dispatcher = loader.load(
            "shuttle",
            lambda: _load_shuttle(region, settings, networks, chargers, clock),
            lambda _: "online dispatcher ready",
        )
    _warm_up(region, networks, planner, transit)
    shuttle, booking_batcher = _start_shuttle(region, bookings, dispatcher, clock)
    state = RegionState(
        region=region,
        settings=settings,
        bookings=bookings,
        shuttle=shuttle,
        booking_batcher=booking_batcher,
        networks=networks,
        wheelchair=wheelchair,
        transit=transit,
        stations=stations,
        chargers=chargers,
        vehicles=vehicles,
        planner=planner,
        dispatcher=dispatcher,
        live=live,
        realtime=realtime,
        components=loader.components,
        clock=clock,
    )
    _warm_up_shuttle(state)
    _add_shuttle_provider(state)
    ready = [c.name for c in state.components.values() if c.ready]
    logger.info("region %s loaded: %s ready", region.name, ", ".join(ready) or "nothing")
    return state
