"""The region, loaded once per process: graphs, hierarchies, timetable, stations, bookings.

:func:`load_state` is called from the app's lifespan. Each domain is a
*component*; a component whose core module is not part of this build is
recorded as unavailable (its endpoints answer 503 saying so), while a broken
input file is an error that stops the startup with the file named.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

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
    graphs : dict
        Road graph per profile (``walk``, ``bike``, ``car``).
    snappers : dict
        Coordinate snapper per profile.
    hierarchies : dict
        Contraction hierarchy per profile (fast point-to-point and matrices).
    transit : object or None
        The loaded transit network.
    stations, chargers : object or None
        Live stores of bike stations and charging points.
    bookings : BookingStore
        Durable shuttle bookings and dispatcher state.
    components : dict
        Readiness of each domain (shown by ``/api/v1/health``).
    cache : dict
        Rendered responses that never change while the process runs (map layers).
    """

    region: Region
    settings: Settings
    bookings: BookingStore
    graphs: dict[str, Any] = field(default_factory=dict)
    snappers: dict[str, Any] = field(default_factory=dict)
    hierarchies: dict[str, Any] = field(default_factory=dict)
    transit: Any = None
    stations: Any = None
    chargers: Any = None
    shuttle: Any = None
    dispatcher: Any = None
    components: dict[str, Component] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)

    def component(self, name: str) -> Component:
        """Return a component's status (unknown names are unavailable)."""
        return self.components.get(name) or Component(name, False, "not part of this build")


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
    from routing.build import road_graph
    from routing.snap import Snapper

    ch_module: Any
    try:
        from routing import ch as ch_module
    except ImportError:
        ch_module = None
    parts = []
    if not state.settings.profile_list():
        raise ImportError("no road profiles configured (ELSTER_PROFILES is empty)", name="road")
    for profile in state.settings.profile_list():
        graph = road_graph(
            state.region,
            profile,
            data_dir=state.settings.data_dir,
            cache_dir=state.settings.cache_dir,
        )
        state.graphs[profile] = graph
        state.snappers[profile] = Snapper(graph)
        if ch_module is not None:
            state.hierarchies[profile] = ch_module.contraction_hierarchy(
                graph, cache_dir=state.settings.cache_dir
            )
        parts.append(f"{profile} {graph.n_nodes:,} nodes/{graph.n_edges:,} edges")
    return "; ".join(parts)


def _load_transit(state: RegionState) -> str:
    if not state.settings.transit:
        raise ImportError("transit disabled by ELSTER_TRANSIT=false", name="transit")
    from api.services.transit_adapter import load_transit

    state.transit = load_transit(state)
    return str(getattr(state.transit, "summary", lambda: "loaded")())


def _load_stations(state: RegionState) -> str:
    from api.services.stations_adapter import load_stations

    state.stations = load_stations(state)
    return f"{len(state.stations)} stations"


def _load_chargers(state: RegionState) -> str:
    from api.services.stations_adapter import load_chargers

    state.chargers = load_chargers(state)
    return f"{len(state.chargers)} charging sites"


def _load_dispatcher(state: RegionState) -> str:
    from api.services.fleet_adapter import load_dispatcher

    state.dispatcher = load_dispatcher(state)
    return "online dispatcher ready"


def _warm_up(state: RegionState) -> None:
    """Run one sample query per component so the first user does not wait for JIT compiling."""
    if not state.region.sample_queries:
        return
    origin, destination = state.region.sample_queries[0]
    start = time.perf_counter()
    try:
        if state.graphs:
            from api.services.road import route

            for profile in state.graphs:
                route(state, profile, origin, destination)
        if state.transit is not None:
            from api.services.planner import PlanRequest
            from api.services.transit_adapter import plan_transit_itineraries, service_window

            when = service_window(state)[0].replace(hour=8)
            request = PlanRequest(origin, destination, when, False, ("walk", "transit"), 1)
            plan_transit_itineraries(state, request)
    except ElsterError as exc:
        logger.warning("warm-up query failed (%s); first requests may be slow", exc)
        return
    logger.info("warm-up queries done in %.1f s", time.perf_counter() - start)


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
    from api.services.shuttle import BookingService

    region = load_region(settings.region)
    bookings = BookingStore(
        settings.resolved_database_url(region.name), token_secret=settings.token_secret
    )
    state = RegionState(region=region, settings=settings, bookings=bookings)
    _timed(state, "road", _load_road)
    _timed(state, "transit", _load_transit)
    _timed(state, "stations", _load_stations)
    _timed(state, "chargers", _load_chargers)
    if dispatcher is not None:
        state.dispatcher = dispatcher
        state.components["shuttle"] = Component("shuttle", True, "dispatcher given by caller")
    else:
        _timed(state, "shuttle", _load_dispatcher)
    _warm_up(state)
    try:
        state.shuttle = BookingService(bookings, state.dispatcher)
    except ElsterError:
        bookings.close()
        raise
    ready = [c.name for c in state.components.values() if c.ready]
    logger.info("region %s loaded: %s ready", region.name, ", ".join(ready) or "nothing")
    return state
