"""The default sweep backend: demand model + road travel model + the event-driven simulator.

Per worker process (:func:`load_simulation_context`): the region, its service
area (the scenario's own, if it names one), the demand model and the car
network's travel model are loaded once. Per run (:func:`simulate_run`): the
request stream of the run's seed and demand level is generated (and kept for
the other fleet variants of the same seed), the fleet and service rules
become a :class:`fleet.simulation.SimulationConfig`, and
:func:`fleet.simulation.run_simulation` returns the KPIs.

The scenario's service rules (max wait, ``alpha``, ``beta``) are the promise
given to every rider; the latest arrival the demand generator writes into each
request is not used as an extra deadline (``honour_latest_arrival=False``), so
that sweeping the rules changes what the simulator enforces. Time KPIs in
seconds (``wait_mean_s``, ...) are also given in minutes (``wait_mean_min``),
the unit analysts set targets in; the simulator's ``requests`` count is
``requests_simulated`` (``requests`` is the scenario's expected demand).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any

from fleet.scenarios.runner import Backend
from fleet.scenarios.spec import AreaSpec, RunSpec, Scenario
from routing.errors import DataError

log = logging.getLogger(__name__)

#: KPIs of :func:`fleet.simulation.kpis.compute_kpis` shown first in tables and plots.
SIMULATOR_KPIS = (
    "requests_simulated",
    "served",
    "rejected",
    "served_share",
    "rejected_share",
    "passengers_served",
    "wheelchair_requests_served",
    "wait_mean_s",
    "wait_median_s",
    "wait_p90_s",
    "ride_mean_s",
    "ride_median_s",
    "ride_p90_s",
    "direct_mean_s",
    "detour_mean_s",
    "detour_median_s",
    "detour_rel_mean",
    "detour_rel_median",
    "occupancy",
    "vehicle_km",
    "passenger_km",
    "empty_km",
    "empty_km_share",
    "repositioning_km",
    "charging_trip_km",
    "vehicle_km_per_served",
    "pooling_efficiency",
    "shared_ride_share",
    "vehicle_hours",
    "vehicle_hours_driving",
    "vehicle_hours_occupied",
    "charging_sessions",
    "charging_hours",
    "energy_charged_kwh",
)
#: Time KPIs also reported in minutes (name ``*_s`` -> ``*_min``).
MINUTE_KPIS = (
    "wait_mean_s",
    "wait_median_s",
    "wait_p90_s",
    "ride_mean_s",
    "ride_median_s",
    "ride_p90_s",
    "detour_mean_s",
    "detour_median_s",
)
KPIS = tuple(
    dict.fromkeys(
        (
            "served_share",
            "wait_mean_min",
            "wait_median_min",
            "wait_p90_min",
            "ride_mean_min",
            "detour_mean_min",
            "detour_rel_mean",
            "occupancy",
            "vehicle_km",
            "empty_km_share",
            "rejected",
            "shared_ride_share",
            "vehicle_hours",
            *(
                k
                for k in SIMULATOR_KPIS
                if k
                not in (
                    "served_share",
                    "detour_rel_mean",
                    "occupancy",
                    "vehicle_km",
                    "empty_km_share",
                    "rejected",
                    "shared_ride_share",
                    "vehicle_hours",
                )
            ),
            "ride_median_min",
            "ride_p90_min",
            "detour_median_min",
        )
    )
)
_REQUEST_CACHE = 8


@dataclass
class SimulationContext:
    """What every run of a scenario shares in one worker process.

    The road travel model keeps search-space caches and scratch arrays, so
    each thread gets its own (:meth:`travel`); the demand model is read-only.
    """

    scenario_name: str
    model: Any  # demand.model.DemandModel
    network: Any  # routing.road.RoadNetwork (car)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _requests: OrderedDict[tuple, Any] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def travel(self) -> Any:
        """This thread's road travel model (:class:`fleet.online.travel.RoadTravel`)."""
        model = getattr(self._local, "travel", None)
        if model is None:
            from fleet.online.travel import RoadTravel

            model = RoadTravel.from_network(self.network)
            self._local.travel = model
        return model

    def requests(
        self, *, day: date, window: tuple[time, time] | None, n_requests: int | None, seed: int
    ) -> Any:
        """The request stream of a seed (generated once, shared by the fleet variants)."""
        from demand.requests import generate_requests

        key = (day, window, n_requests, seed)
        with self._lock:
            frame = self._requests.get(key)
            if frame is not None:
                self._requests.move_to_end(key)
                return frame
        frame, _ = generate_requests(
            self.model, day=day, n_requests=n_requests, seed=seed, window=window
        )
        with self._lock:
            self._requests[key] = frame
            while len(self._requests) > _REQUEST_CACHE:
                self._requests.popitem(last=False)
        return frame


def load_simulation_context(
    scenario: Scenario, *, data_dir: Path | None = None, cache_dir: Path | None = None
) -> SimulationContext:
    """Load the region, service area, demand model and car network of a scenario.

    Raises
    ------
    DataError
        Missing region files, an area outside the region, an impossible demand
        calibration (the message says which setting to change).
    """
    from demand.config import load_config
    from demand.model import build_demand_model
    from routing.regions import default_cache_dir, load_region
    from routing.road import load_road_networks

    cache_dir = cache_dir or default_cache_dir()
    region = with_service_area(load_region(scenario.region), scenario.area, cache_dir)
    config = load_config(scenario.demand_config, **scenario.demand_overrides)
    try:
        model = build_demand_model(
            region,
            config=config,
            data_dir=data_dir,
            cache_dir=cache_dir,
            travel_times=scenario.travel_times,
        )
    except DataError as exc:
        raise DataError(
            f"scenario {scenario.name}: demand model: {exc} "
            f"(settings go in the scenario's [demand_model] tables)"
        ) from None
    # GVB's minibus profile: bus streets and gates, PSV exemptions from turn restrictions.
    network = load_road_networks(region, ("shuttle",), data_dir=data_dir, cache_dir=cache_dir)[
        "shuttle"
    ]
    return SimulationContext(scenario.name, model, network)


def with_service_area(region: Any, area: AreaSpec, cache_dir: Path) -> Any:
    """The region with its ``service_area`` source replaced by the scenario's area.

    A bbox or inline polygon is written once as GeoJSON under
    ``cache_dir/scenario-areas/<digest>.geojson`` (content-addressed, so
    concurrent workers write the same bytes).
    """
    from routing.regions import Source

    if area.kind == "region":
        return region
    if area.kind == "file":
        assert area.file is not None
        path = area.file
    else:
        if area.bbox is not None:
            x0, y0, x1, y1 = area.bbox
            ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        else:
            assert area.polygon is not None
            ring = [list(p) for p in area.polygon]
            if ring[0] != ring[-1]:
                ring.append(ring[0])
        path = Path(cache_dir) / "scenario-areas" / f"{area.digest}.geojson"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "type": "Feature",
                        "properties": {"name": area.name},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                )
            )
            tmp.replace(path)
    source = Source(
        key="service_area",
        kind="geojson" if path.suffix != ".poly" else "poly",
        path=str(path.resolve()),
    )
    return replace(region, sources={**region.sources, "service_area": source})


def simulation_config(
    run: RunSpec,
    scenario_depots: tuple[tuple[float, float], ...] = (),
    shift: tuple[time, time] | None = None,
) -> Any:
    """The simulator configuration of one run (minutes in the scenario, seconds here)."""
    from fleet.simulation import SimulationConfig

    p = run.params
    extra: dict[str, Any] = {}
    if shift is not None:
        extra["shift_start_s"] = _seconds(shift[0])
        extra["shift_end_s"] = _seconds(shift[1])
    return SimulationConfig(
        n_vehicles=int(p["n_vehicles"]),
        capacity=int(p["capacity"]),
        wheelchair_places=int(p["wheelchair_places"]),
        depots=tuple(scenario_depots),
        max_wait_s=float(p["max_wait_min"]) * 60.0,
        alpha=float(p["alpha"]),
        beta=float(p["beta_min"]) * 60.0,
        honour_latest_arrival=False,
        reoptimise_every_s=float(p["reoptimise_every_s"]),
        rebalancing=bool(p["rebalancing"]),
        seed=int(p["seed"]),
        **extra,
    )


def simulate_run(run: RunSpec, context: SimulationContext) -> dict[str, float]:
    """Generate the run's requests, simulate the day, return the KPIs (with minute versions)."""
    from fleet.simulation import run_simulation

    p = run.params
    window = _window(p["window"])
    requests = context.requests(
        day=date.fromisoformat(p["date"]),
        window=window,
        n_requests=p["requests"],
        seed=int(p["seed"]),
    )
    depots = tuple(tuple(d) for d in json.loads(p["depots"])) if p["depots"] else ()
    shift = _window(p["shift"])
    config = simulation_config(run, depots, shift)
    result = run_simulation(requests, config=config, travel=context.travel())
    kpis = {k: float(v) for k, v in result.kpis.items()}
    # "requests" is the run's demand-level parameter; the count that was simulated differs
    # (Poisson draw), so it gets its own column.
    kpis["requests_simulated"] = kpis.pop("requests")
    for name in MINUTE_KPIS:
        if name in kpis:
            kpis[name[:-2] + "_min"] = kpis[name] / 60.0
    return kpis


def simulation_backend() -> Backend:
    """The default backend of :func:`fleet.scenarios.sweep.run_sweep`."""
    return Backend(
        name="simulator", load_context=load_simulation_context, run=simulate_run, kpis=KPIS
    )


def _window(text: str) -> tuple[time, time] | None:
    if not text:
        return None
    start, end = text.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def _seconds(t: time) -> float:
    return t.hour * 3600.0 + t.minute * 60.0 + t.second
