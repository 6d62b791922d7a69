"""One comparison run: a (concept, variant, demand level, seed, fleet size or headway).

Per worker process the demand model and the shuttle network are loaded once
(:func:`fleet.scenarios.simulate.load_simulation_context`); what each concept
builds from them (virtual stops, the feeder line, the autonomous road model,
tram departures at the hub) is built on first use and kept
(:class:`ConceptContext`). A run draws the seed's request stream (shared by
every concept: the same riders meet every concept), sends the hub share of
them to the hub, serves them with the concept and returns
:func:`fleet.concepts.kpis.concept_kpis`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fleet.concepts.kpis import KPI_NAMES, concept_kpis
from fleet.concepts.settings import ComparisonSettings
from fleet.concepts.walking import (
    BIKE_MPS,
    WALK_MPS,
    CrowFlyWalks,
    RoutedWalks,
    StopSet,
    WalkModel,
    virtual_stops,
    walk_metres,
)
from fleet.scenarios.runner import Backend
from fleet.scenarios.simulate import (
    SimulationContext,
    _seconds,
    _window,
    load_simulation_context,
    simulation_config,
)
from fleet.scenarios.spec import RunSpec, Scenario
from routing.errors import DataError, SnapError
from routing.geo import LocalPlane

log = logging.getLogger(__name__)


def buffered(geom, metres: float):
    """``geom`` (lon, lat) grown by ``metres`` (buffered in a local metric plane)."""
    import shapely

    if metres <= 0:
        return geom
    plane = LocalPlane(float(geom.centroid.y))

    def to_m(c: np.ndarray) -> np.ndarray:
        return np.column_stack(plane.to_xy(c[:, 1], c[:, 0]))

    def back(c: np.ndarray) -> np.ndarray:
        lat, lon = plane.to_latlon(c[:, 0], c[:, 1])
        return np.column_stack((lon, lat))

    return shapely.transform(shapely.transform(geom, to_m).buffer(metres), back)


@dataclass
class ConceptContext:
    """The simulation context plus what the concepts build from it (lazily, per settings)."""

    sim: SimulationContext
    scenario: Scenario
    data_dir: Path | None
    cache_dir: Path | None
    _built: dict[tuple, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def _get(self, key: tuple, make):
        with self._lock:
            if key not in self._built:
                self._built[key] = make()
            return self._built[key]

    @property
    def zone(self):
        """The service area geometry (lon, lat)."""
        return self.sim.model.area.geometry

    def travel(self, s: ComparisonSettings, autonomous: bool):
        """The road model of the manned shuttle, or of the autonomous one (per thread)."""
        if not autonomous:
            return self.sim.travel()
        key = ("av-travel", s.autonomous.model_dump_json(), threading.get_ident())
        return self._get(key, lambda: self.autonomous_network(s).travel(self.sim.travel()))

    def autonomous_network(self, s: ComparisonSettings):
        """The shuttle network restricted to the autonomous streets (built once per settings)."""
        from fleet.concepts.autonomous import StreetRules, build_autonomous_network

        a = s.autonomous

        def make():
            rules = StreetRules(
                highway=a.highway,
                maxspeed_kmh=a.maxspeed_kmh,
                unsigned_maxspeed_kmh=a.unsigned_maxspeed_kmh,
                ways_file=Path(a.allowed_ways_file) if a.allowed_ways_file else None,
                ways_file_mode=a.ways_file_mode,
            )
            return build_autonomous_network(
                self.sim.network,
                self.way_tags(),
                rules=rules,
                area=buffered(self.zone, a.area_buffer_m),
                zone=self.zone,
                max_speed_kmh=a.max_speed_kmh,
                min_connected_share=a.min_connected_share,
            )

        return self._get(("av-network", a.model_dump_json()), make)

    def way_tags(self) -> dict[int, dict[str, str]]:
        """The street-rule tags of the shuttle network's ways (read once from the OSM file)."""
        from fleet.concepts.autonomous import RULE_KEYS
        from routing.osm import read_way_tags
        from routing.regions import load_region

        def make():
            region = load_region(self.scenario.region)
            osm = region.source_file("osm", self.data_dir)
            return read_way_tags(osm, self.sim.network.graph.way_id, RULE_KEYS, region=region.name)

        return self._get(("way-tags",), make)

    def zone_travel(self, s: ComparisonSettings):
        """The manned shuttle on the zone's streets only (+ ``[line] zone_tolerance_m``).

        A generated trunk is laid out on it, so that its stops serve the zone
        rather than a fast road around it.
        """
        from fleet.concepts.autonomous import StreetRules, build_autonomous_network
        from fleet.concepts.settings import SHUTTLE_HIGHWAYS

        tol = s.line.zone_tolerance_m

        def make():
            every_street = StreetRules(highway=SHUTTLE_HIGHWAYS, maxspeed_kmh=math.inf)
            return build_autonomous_network(
                self.sim.network,
                self.way_tags(),
                rules=every_street,
                area=buffered(self.zone, tol),
                zone=self.zone,
                max_speed_kmh=math.inf,
                min_connected_share=0.0,
            )

        net = self._get(("zone-network", tol), make)
        return self._get(
            ("zone-travel", tol, threading.get_ident()), lambda: net.travel(self.sim.travel())
        )

    def residents(self) -> tuple[np.ndarray, np.ndarray]:
        """Where requests start and end: the demand model's walk nodes inside the area."""
        snap = self.sim.model.walk_snapper
        if snap is None or snap.lat.size == 0:
            raise DataError("[area]: the zone holds no walkable resident locations")
        return snap.lat, snap.lon

    def walks(self, s: ComparisonSettings) -> WalkModel:
        """Walks routed on the region's walk network, or crow-fly x circuity without a map.

        The demand model has a walk snapper exactly when the region has a map
        (its riders start and end on walk nodes).
        """
        if self.sim.model.walk_snapper is None:
            return CrowFlyWalks(s.stops.circuity)
        radius = max(s.stops.walk_m, s.line.walk_m, s.line.flex_walk_m)

        def make() -> RoutedWalks:
            from routing.regions import load_region
            from routing.road import load_road_networks

            walk = load_road_networks(
                load_region(self.scenario.region),
                ("walk",),
                data_dir=self.data_dir,
                cache_dir=self.cache_dir,
            )["walk"]
            return RoutedWalks.build(walk.graph, walk.hierarchy, self.zone, radius_m=radius)

        return self._get(("walks", radius), make)

    def bike_seconds(self, origin: np.ndarray, destination: np.ndarray) -> np.ndarray | None:
        """Cycling seconds of each trip on the region's bike network, or None without a map.

        The bike profile's own times (speeds by surface and slope, turn rules);
        the few metres from a point to its bike street are pushed at walking
        pace. A point more than 500 m from any bike street gets NaN.

        Parameters
        ----------
        origin, destination : ndarray, shape (trips, 2)
            (lat, lon) of each trip's ends.
        """
        if self.sim.model.walk_snapper is None:
            return None

        def make() -> Any:
            from routing.regions import load_region
            from routing.road import load_road_networks

            return load_road_networks(
                load_region(self.scenario.region),
                ("bike",),
                data_dir=self.data_dir,
                cache_dir=self.cache_dir,
            )["bike"]

        bike = self._get(("bike",), make)
        out = np.full(len(origin), math.nan)
        if len(origin) == 0:
            return out
        a, off_a = bike.snapper.snap_many(origin[:, 0], origin[:, 1])
        b, off_b = bike.snapper.snap_many(destination[:, 0], destination[:, 1])
        ok = (a >= 0) & (b >= 0)
        if ok.any():
            ua, ia = np.unique(a[ok], return_inverse=True)
            ub, ib = np.unique(b[ok], return_inverse=True)
            seconds, _ = bike.matrix(ua, ub)
            out[ok] = seconds[ia.ravel(), ib.ravel()] + (off_a[ok] + off_b[ok]) / WALK_MPS
        return out

    def virtual_stops(self, s: ComparisonSettings, autonomous: bool, walk_m: float) -> StopSet:
        """Stops within a ``walk_m`` walk of every resident, on the (autonomous) shuttle network."""
        key = ("stops", walk_m, s.stops.model_dump_json(), autonomous, s.autonomous)
        return self._get(
            key,
            lambda: virtual_stops(
                self.travel(s, autonomous),
                *self.residents(),
                walk_m=walk_m,
                walks=self.walks(s),
                max_uncovered_share=s.stops.max_uncovered_share,
                area=self.zone,
            ),
        )

    def stops(self, s: ComparisonSettings, autonomous: bool) -> StopSet:
        """Virtual stops of the stop-based service."""
        return self.virtual_stops(s, autonomous, s.stops.walk_m)

    def line(self, s: ComparisonSettings, autonomous: bool, flex: bool):
        """The feeder line (from the stops file, or generated as a trunk to the far end)."""
        from fleet.concepts.line import (
            build_line,
            far_end_candidates,
            generate_trunk,
            locate_stop,
            read_stops_file,
        )

        hub = hub_point(s)
        travel = self.travel(s, autonomous)
        lw = s.line

        def make():
            if lw.stops_file:
                stops = read_stops_file(Path(lw.stops_file))
                keep_inside, locs = True, None
            else:
                # laid out on the zone's streets (the autonomous ones are inside already)
                inner = travel if autonomous else self.zone_travel(s)
                try:
                    hub_loc = locate_stop(inner, *hub)
                except SnapError as exc:
                    raise DataError(f"[hub] location: {exc}") from None
                stops, locs = generate_trunk(
                    inner,
                    hub_loc=hub_loc,
                    far_ends=far_end_candidates(inner, self.zone, lw.stop_spacing_m),
                    resident_lat=self.residents()[0],
                    resident_lon=self.residents()[1],
                    walks=self.walks(s),
                    walk_m=lw.walk_m,
                    spacing_m=lw.stop_spacing_m,
                    zone=buffered(self.zone, lw.zone_tolerance_m),  # as a given stop may
                )
                keep_inside = False
            return build_line(
                travel,
                hub=hub,
                stops=stops,
                zone=self.zone,
                dwell_s=lw.dwell_s,
                slack_share=lw.flex_slack_share if flex else lw.slack_share,
                layover_s=lw.layover_min * 60.0,
                max_snap_m=lw.max_snap_m,
                zone_tolerance_m=lw.zone_tolerance_m,
                keep_inside=keep_inside,
                hub_name=s.hub.name,
                locs=locs,
            )

        key: tuple[Any, ...] = (
            "line",
            lw.model_dump_json(),
            s.hub.model_dump_json(),
            autonomous,
            flex,
        )
        if autonomous:
            key += (s.autonomous.model_dump_json(),)
        return self._get(key, make)

    def tram_departures(self, s: ComparisonSettings) -> np.ndarray:
        """Departure seconds of trams within ``tram_radius_m`` of the hub on the scenario day."""

        def make() -> np.ndarray:
            return tram_departures_near(
                self.scenario, hub_point(s), s.hub.tram_radius_m, self.data_dir, self.cache_dir
            )

        return self._get(("trams", s.hub.model_dump_json()), make)


def hub_point(s: ComparisonSettings) -> tuple[float, float]:
    """(lat, lon) of the hub, or a DataError naming the key."""
    if s.hub.location is None:
        raise DataError(
            "[hub] location is missing; give the tram stop as location = [lon, lat] "
            "(the line concepts start and end there)"
        )
    lon, lat = s.hub.location
    return float(lat), float(lon)


def tram_departures_near(
    scenario: Scenario, hub: tuple[float, float], radius_m: float, data_dir, cache_dir
) -> np.ndarray:
    """Seconds after local midnight of every tram departure at stops near ``hub``."""
    from routing.geo import haversine_m
    from routing.transit.door_to_door import load_transit_network

    try:
        net = load_transit_network(
            scenario.region,
            scenario.day,
            data_dir=data_dir,
            cache_dir=cache_dir,
            walk_graph=False,
        )
    except DataError as exc:
        log.warning("no tram departures for the hub: %s", exc)
        return np.zeros(0)
    tt = net.timetable
    near = haversine_m(tt.stop_lat, tt.stop_lon, hub[0], hub[1]) <= radius_m
    deps: list[float] = []
    for slot in range(tt.n_trips):
        if tt.slot_mode(slot) != "TRAM":
            continue
        stops, _, dep = tt.slot_times(slot)
        for k in range(len(stops) - 1):  # the last stop has no departure
            if near[stops[k]]:
                deps.append(float(dep[k]))
    return np.unique(np.asarray(deps, dtype=float))


def load_concept_context(
    scenario: Scenario, *, data_dir: Path | None = None, cache_dir: Path | None = None
) -> ConceptContext:
    """The worker context of a comparison (see module docstring)."""
    sim = load_simulation_context(scenario, data_dir=data_dir, cache_dir=cache_dir)
    return ConceptContext(sim, scenario, data_dir, cache_dir)


def _stream(run: RunSpec, ctx: ConceptContext, s: ComparisonSettings, travel):
    """The seed's riders in simulation seconds, the hub share sent to the hub."""
    from fleet.simulation.events import TripStream, trips_from_frame

    p = run.params
    frame = ctx.sim.requests(
        day=date.fromisoformat(p["date"]),
        window=_window(p["window"]),
        n_requests=p["requests"],
        seed=int(p["seed"]),
    )
    stream = trips_from_frame(frame, travel)
    trips = list(stream.trips)
    hub_bound = np.zeros(len(trips), dtype=bool)
    if s.hub.location is not None and s.hub.share > 0 and trips:
        hub = hub_point(s)
        from fleet.concepts.line import locate_stop

        try:
            hub_loc = locate_stop(travel, *hub)  # the autonomous shuttle: its nearest street
        except SnapError:
            hub_loc = -1
        # its own generator: the same riders go to the hub for every concept
        rng = np.random.default_rng([int(p["seed"]), 16])
        hub_bound = rng.random(len(trips)) < s.hub.share
        for i in np.flatnonzero(hub_bound):
            trips[i] = replace(trips[i], destination=hub, destination_loc=hub_loc)
    return TripStream(trips, stream.origin_unix, stream.timezone, stream.purposes), hub_bound


def _benchmarks(trips, ctx: ConceptContext, s: ComparisonSettings) -> pd.DataFrame:
    """Walking (the comparison's walk model), cycling (routed on the bike network with a
    map, else crow-fly x circuity) and driving (the manned road model) the same trips."""
    car = ctx.sim.travel()
    o = np.array([t.origin for t in trips]).reshape(-1, 2)
    d = np.array([t.destination for t in trips]).reshape(-1, 2)
    walk_m = ctx.walks(s).pairs(o[:, 0], o[:, 1], d[:, 0], d[:, 1])
    bike_s = ctx.bike_seconds(o, d)
    if bike_s is None:
        bike_s = walk_metres(o[:, 0], o[:, 1], d[:, 0], d[:, 1], s.stops.circuity) / BIKE_MPS
    o_loc = car.locate_many(o[:, 0], o[:, 1])
    d_loc = car.locate_many(d[:, 0], d[:, 1])
    car_s = np.array(
        [
            car.time(int(a), int(b)) if a >= 0 and b >= 0 else math.nan
            for a, b in zip(o_loc, d_loc, strict=True)
        ]
    )
    return pd.DataFrame(
        {
            "walk_only_s": walk_m / WALK_MPS,
            "bike_s": bike_s,
            "car_s": car_s + s.compare.car_access_min * 60.0,
        }
    )


def _on_demand(run, ctx, s, travel, trips, autonomous: bool, stop_based: bool):
    """Door-to-door or stop-based on-demand riders (through the online dispatcher)."""
    from fleet.online.promises import Trip
    from fleet.simulation import run_simulation
    from fleet.simulation.events import TripStream

    p = run.params
    n = len(trips.trips)
    access_m = np.zeros(n)
    egress_m = np.zeros(n)
    status = np.array(["pending"] * n, dtype=object)
    ride_trips: list[Trip] = []
    index: list[int] = []
    if stop_based:
        stops = ctx.stops(s, autonomous)
        o = np.array([t.origin for t in trips.trips]).reshape(-1, 2)
        d = np.array([t.destination for t in trips.trips]).reshape(-1, 2)
        so, access_m = stops.nearest(o[:, 0], o[:, 1])
        sd, egress_m = stops.nearest(d[:, 0], d[:, 1])
        for i, t in enumerate(trips.trips):
            if access_m[i] > stops.walk_m or egress_m[i] > stops.walk_m:
                status[i] = "unserved"  # a point outside the covered zone
            elif so[i] == sd[i]:
                status[i] = "walk"
            else:
                a, b = int(so[i]), int(sd[i])
                ride_trips.append(
                    replace(
                        t,
                        origin=(float(stops.lat[a]), float(stops.lon[a])),
                        destination=(float(stops.lat[b]), float(stops.lon[b])),
                        origin_loc=int(stops.loc[a]),
                        destination_loc=int(stops.loc[b]),
                        earliest_pickup=t.earliest_pickup + access_m[i] / WALK_MPS,
                    )
                )
                index.append(i)
    else:
        ride_trips = list(trips.trips)
        index = list(range(n))
    depots = tuple(tuple(x) for x in json.loads(p["depots"])) if p["depots"] else ()
    config = simulation_config(run, depots, _window(p["shift"]))
    if autonomous and s.autonomous.capacity:
        config = replace(config, capacity=s.autonomous.capacity)
    if ride_trips:
        stream = TripStream(ride_trips, trips.origin_unix, trips.timezone, [""] * len(ride_trips))
        result = run_simulation(stream, config=config, travel=travel)
        req = result.requests.set_index("request_id")
        legs = result.legs
        vehicle_hours = result.kpis["vehicle_hours"]
    else:
        result, req, legs, vehicle_hours = None, pd.DataFrame(), pd.DataFrame(), 0.0
    rows = []
    for i, t in enumerate(trips.trips):
        row = {"status": status[i], "door": False}
        if i in set(index) and t.id in req.index:
            x = req.loc[t.id]
            if x["status"] == "done":
                row.update(
                    status="served",
                    wait_s=x["pickup_time"] - x["earliest_pickup"],
                    ride_s=x["dropoff_time"] - x["pickup_depart"],
                    arrive_s=x["dropoff_time"] + egress_m[i] / WALK_MPS,
                )
            else:
                row["status"] = "unserved"
        rows.append(row)
    return pd.DataFrame(rows), access_m, egress_m, legs, config.n_vehicles, vehicle_hours, result


def _on_line(run, ctx, s, travel, trips, autonomous: bool, flex: bool):
    """Fixed or flex line riders (timetabled simulation)."""
    from fleet.concepts.line import build_timetable
    from fleet.concepts.timetabled import LineRules, simulate_line

    p = run.params
    line = ctx.line(s, autonomous, flex)
    window = _window(p["window"])
    if window is None:
        raise DataError("[demand] window is needed for the line concepts (the service hours)")
    start, end = _seconds(window[0]), _seconds(window[1]) + s.line.service_after_min * 60
    headway = float(p["headway_min"]) * 60.0
    tt = build_timetable(
        line, headway_s=headway, start_s=start, end_s=end, n_vehicles=s.line.vehicles
    )
    cap = s.line.capacity or int(p["capacity"])
    if autonomous and s.autonomous.capacity:
        cap = s.autonomous.capacity
    rules = LineRules(
        capacity=cap,
        wheelchair_places=int(p["wheelchair_places"]),
        walk_m=s.line.walk_m,
        walks=ctx.walks(s),
        flex=flex,
        corridor_m=s.line.corridor_m,
        door_walk_m=s.line.flex_walk_m,
        boarding_s=s.line.boarding_s,
        alighting_s=s.line.boarding_s,
        tolerance_s=s.line.tolerance_s,
    )
    out = simulate_line(trips.trips, tt, travel, rules)
    req = out.requests
    rows = []
    for x, rr in zip(req.itertuples(), out.riders.itertuples(), strict=True):
        row = {"status": "unserved", "door": bool(rr.door_pickup or rr.door_dropoff)}
        if x.status == "done":
            row.update(
                status="served",
                wait_s=x.pickup_time - x.promised_pickup_earliest,
                ride_s=x.dropoff_time - x.pickup_depart,
                arrive_s=x.dropoff_time + rr.egress_walk_m / WALK_MPS,
            )
        elif x.status == "walk":
            row["status"] = "walk"
        rows.append(row)
    first = float(tt.departures[0]) if tt.n_trips else start
    last = tt.times(tt.n_trips - 1)[0][-1] if tt.n_trips else start
    vehicle_hours = tt.n_vehicles * max(last - first, 0.0) / 3600.0
    access = out.riders["access_walk_m"].to_numpy(float)
    egress = out.riders["egress_walk_m"].to_numpy(float)
    return pd.DataFrame(rows), access, egress, out.legs, tt.n_vehicles, vehicle_hours, (out, tt)


def serve(run: RunSpec, ctx: ConceptContext) -> tuple[pd.DataFrame, pd.DataFrame, dict, Any]:
    """Serve a run's riders with its concept; return (riders, legs, facts, raw outcome)."""
    s = ComparisonSettings.from_json(run.params["settings"])
    concept = run.params["concept"]
    autonomous = bool(run.params["autonomous"])
    travel = ctx.travel(s, autonomous)
    trips, hub_bound = _stream(run, ctx, s, travel)
    if concept in ("door_to_door", "stop_based"):
        riders, acc, egr, legs, nveh, vh, raw = _on_demand(
            run, ctx, s, travel, trips, autonomous, concept == "stop_based"
        )
    elif concept in ("fixed", "flex"):
        riders, acc, egr, legs, nveh, vh, raw = _on_line(
            run, ctx, s, travel, trips, autonomous, concept == "flex"
        )
    else:
        raise DataError(f"[compare] concepts: unknown concept {concept!r}")
    riders["persons"] = [t.passengers + t.wheelchairs for t in trips.trips]
    riders["earliest_s"] = [t.earliest_pickup for t in trips.trips]
    riders["access_walk_m"] = np.where(riders["status"] == "served", acc, 0.0)
    riders["egress_walk_m"] = np.where(riders["status"] == "served", egr, 0.0)
    riders["access_walk_s"] = riders["access_walk_m"] / WALK_MPS
    riders["egress_walk_s"] = riders["egress_walk_m"] / WALK_MPS
    riders["hub_bound"] = hub_bound
    for col in ("wait_s", "ride_s", "arrive_s"):
        if col not in riders:
            riders[col] = math.nan
    riders = pd.concat([riders, _benchmarks(trips.trips, ctx, s)], axis=1)
    facts = {
        "vehicles": nveh,
        "vehicle_hours": vh,
        "autonomous": autonomous,
        "walk_routed": ctx.walks(s).routed,
    }
    return riders, legs, facts, raw


def run_concept(run: RunSpec, ctx: ConceptContext) -> dict[str, float]:
    """The KPIs of one comparison run (the :class:`Backend` ``run``)."""
    s = ComparisonSettings.from_json(run.params["settings"])
    riders, legs, facts, _ = serve(run, ctx)
    trams = ctx.tram_departures(s) if s.hub.location is not None else None
    return concept_kpis(
        riders,
        legs,
        vehicles=facts["vehicles"],
        vehicle_hours=facts["vehicle_hours"],
        costs=s.costs,
        autonomous=facts["autonomous"],
        walk_routed=facts["walk_routed"],
        tram_departures=trams,
        transfer_walk_s=s.hub.transfer_walk_s,
    )


def concept_backend() -> Backend:
    """The backend of ``elster compare`` (module-level callables, picklable by name)."""
    return Backend(
        name="concepts", load_context=load_concept_context, run=run_concept, kpis=KPI_NAMES
    )
