"""Event-driven simulation: replay a request stream against the online dispatcher.

Requests arrive at their request time and are answered at once; every
``reoptimise_every_s`` the open plans are re-optimised and every
``rebalance_every_s`` idle vehicles are sent toward expected demand. Between
events the dispatcher moves the vehicles along their plans (departures,
pickups, drop-offs, charging) in time order. The run is deterministic: the
same requests, configuration and seed give the same KPIs (wall-clock
timings are reported apart, in :attr:`SimulationResult.timing`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fleet.online.charging import BatterySpec, ChargingSite
from fleet.online.dispatcher import DispatchConfig, Dispatcher, FleetSpec
from fleet.online.promises import PromiseRules, Trip
from fleet.online.rebalancing import Forecast, RecentDemand, plan_moves
from fleet.online.travel import TravelModel
from fleet.simulation.events import (
    REBALANCE,
    REOPTIMISE,
    TripStream,
    build_events,
    trips_from_frame,
)
from fleet.simulation.kpis import compute_kpis
from routing.errors import DataError, RequestError, SnapError

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SimulationConfig:
    """Everything a simulation run is configured by (seconds, metres, kWh).

    Attributes
    ----------
    n_vehicles, capacity : int
        Fleet size and seats per vehicle.
    wheelchair_places : int or tuple of int
        Wheelchair places of every vehicle, or per vehicle (cycled).
    depots : tuple of (lat, lon)
        Where vehicles start (round robin); empty: the request origin nearest
        the centre of all origins.
    shift_start_s, shift_end_s : float
        Service hours in seconds after local midnight.
    max_wait_s, alpha, beta, pickup_tolerance_s, boarding_s, alighting_s : float
        Promise rules (see :class:`fleet.online.promises.PromiseRules`).
    honour_latest_arrival : bool
        Use the requests' latest arrival as a deadline.
    policy : str
        ``"insertion"`` (pooling), ``"no-pooling"`` or ``"nearest-idle"`` (baselines).
    objective : str
        ``"time"`` or ``"distance"``.
    wait_weight, detour_weight : float
        Weights in the choice of vehicle.
    reoptimise_every_s : float
        Re-optimisation period (0: never).
    reoptimise_iterations : int
        Destroy-and-repair rounds per re-optimisation.
    rebalancing : bool
        Send idle vehicles toward expected demand.
    rebalance_every_s, rebalance_horizon_s : float
        Rebalancing period and forecast horizon.
    battery_kwh : float or None
        E-shuttles with this battery (None: no battery model).
    consumption_kwh_per_km, charge_below, charge_to, battery_reserve, charging_power_kw : float
        Battery behaviour (see :class:`fleet.online.charging.BatterySpec`).
    seed : int
        Seed of every random choice.
    """

    n_vehicles: int = 10
    capacity: int = 8
    wheelchair_places: int | tuple[int, ...] = 1
    depots: tuple[tuple[float, float], ...] = ()
    shift_start_s: float = 0.0
    shift_end_s: float = 30 * 3600.0
    max_wait_s: float = 900.0
    alpha: float = 1.5
    beta: float = 300.0
    pickup_tolerance_s: float | None = 300.0
    boarding_s: float = 30.0
    alighting_s: float = 30.0
    honour_latest_arrival: bool = True
    policy: str = "insertion"
    objective: str = "time"
    wait_weight: float = 0.5
    detour_weight: float = 0.5
    reoptimise_every_s: float = 300.0
    reoptimise_iterations: int = 20
    rebalancing: bool = True
    rebalance_every_s: float = 600.0
    rebalance_horizon_s: float = 1800.0
    battery_kwh: float | None = None
    consumption_kwh_per_km: float = 0.25
    charge_below: float = 0.25
    charge_to: float = 0.9
    battery_reserve: float = 0.1
    charging_power_kw: float = 50.0
    seed: int = 0

    def __post_init__(self) -> None:
        places = (
            self.wheelchair_places
            if isinstance(self.wheelchair_places, tuple)
            else (self.wheelchair_places,)
        )
        if self.n_vehicles < 1 or self.capacity < 1 or not places or min(places) < 0:
            raise RequestError(
                "need n_vehicles >= 1, capacity >= 1 and wheelchair_places >= 0 (got "
                f"{self.n_vehicles}, {self.capacity}, {self.wheelchair_places})"
            )
        if self.reoptimise_every_s < 0 or self.rebalance_every_s < 0:
            raise RequestError("periods must be >= 0 (0 switches the task off)")

    def rules(self) -> PromiseRules:
        """The promise rules of this configuration."""
        return PromiseRules(
            max_wait_s=self.max_wait_s,
            alpha=self.alpha,
            beta=self.beta,
            pickup_tolerance_s=self.pickup_tolerance_s,
            boarding_s=self.boarding_s,
            alighting_s=self.alighting_s,
            honour_latest_arrival=self.honour_latest_arrival,
        )

    def battery(self) -> BatterySpec | None:
        """The battery model, or None."""
        if self.battery_kwh is None:
            return None
        return BatterySpec(
            capacity_kwh=self.battery_kwh,
            consumption_kwh_per_km=self.consumption_kwh_per_km,
            charge_below=self.charge_below,
            charge_to=self.charge_to,
            reserve=self.battery_reserve,
            max_power_kw=self.charging_power_kw,
        )

    def dispatch_config(self) -> DispatchConfig:
        """The dispatcher's decision settings."""
        return DispatchConfig(
            rules=self.rules(),
            policy=self.policy,
            objective=self.objective,
            wait_weight=self.wait_weight,
            detour_weight=self.detour_weight,
            reoptimise_iterations=self.reoptimise_iterations,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["depots"] = [list(p) for p in self.depots]
        if isinstance(self.wheelchair_places, tuple):
            d["wheelchair_places"] = list(self.wheelchair_places)
        return d


@dataclass
class SimulationResult:
    """What a simulation produced.

    Attributes
    ----------
    config : SimulationConfig
    kpis : dict of str to float
        FleetPy/MATSim-style indicators (see :func:`fleet.simulation.kpis.compute_kpis`).
    requests, legs, stops, charges, soc : DataFrame
        Per-request outcome, driven legs, served stops, charging sessions, battery trace.
    history : list of (vehicle, str, int)
        Execution order of legs, stops and charging sessions.
    timing : dict
        Wall-clock figures (not part of the deterministic KPIs).
    stats : dict
        Dispatcher counters.
    origin_unix : float
        Unix time of simulation second 0 (local midnight).
    timezone : str
    depots : list of int
        Start location of each vehicle.
    """

    config: SimulationConfig
    kpis: dict[str, float]
    requests: pd.DataFrame
    legs: pd.DataFrame
    stops: pd.DataFrame
    charges: pd.DataFrame
    soc: pd.DataFrame
    history: list[tuple[int, str, int]]
    timing: dict[str, float]
    stats: dict[str, Any]
    origin_unix: float
    timezone: str
    depots: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """KPIs, configuration, timings and counters as a JSON-ready dict."""
        return {
            "kpis": {k: _json_float(v) for k, v in self.kpis.items()},
            "config": self.config.to_dict(),
            "timing": {k: _json_float(v) for k, v in self.timing.items()},
            "stats": self.stats,
            "origin_unix": self.origin_unix,
            "timezone": self.timezone,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def write(self, out_dir: Path | str, *, plots: bool = True) -> list[Path]:
        """Write ``kpis.json``, ``requests.csv`` and the PNG plots into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "kpis.json"]
        written[0].write_text(self.to_json() + "\n")
        self.requests.to_csv(out / "requests.csv", index=False)
        written.append(out / "requests.csv")
        if plots:
            from fleet.simulation.plots import write_plots

            written.extend(write_plots(self, out))
        return written


def _json_float(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _default_depot(trips: list[Trip], travel: TravelModel) -> int:
    """The request origin nearest the mean of all origins (a central, reachable place)."""
    located = [t for t in trips if t.origin_loc >= 0]
    if not located:
        raise DataError("no request origin lies on the network; cannot place a depot")
    lat = np.array([t.origin[0] for t in located])
    lon = np.array([t.origin[1] for t in located])
    i = int(np.argmin((lat - lat.mean()) ** 2 + ((lon - lon.mean()) * 0.65) ** 2))
    return located[i].origin_loc


def run_simulation(
    requests: pd.DataFrame | list[Trip] | TripStream,
    *,
    config: SimulationConfig,
    travel: TravelModel,
    charging_sites: list[ChargingSite] | None = None,
    forecast: Forecast | None = None,
) -> SimulationResult:
    """Simulate a day of on-demand service.

    Parameters
    ----------
    requests : DataFrame, list of Trip or TripStream
        Requests in demand's schema (:data:`demand.requests.REQUEST_COLUMNS`),
        or trips already in simulation seconds.
    config : SimulationConfig
    travel : TravelModel
        Road network (:class:`~fleet.online.travel.RoadTravel`) or Euclidean.
    charging_sites : list of ChargingSite, optional
        Required when ``config.battery_kwh`` is set.
    forecast : Forecast, optional
        Expected demand for rebalancing (default: recent requests per 1 km cell).

    Returns
    -------
    SimulationResult
    """
    wall0 = time.perf_counter()
    if isinstance(requests, pd.DataFrame):
        stream = trips_from_frame(requests, travel)
    elif isinstance(requests, TripStream):
        stream = requests
    else:
        stream = TripStream(list(requests), 0.0, "UTC", [""] * len(requests))
    trips = stream.trips
    if config.depots:
        try:
            depots = tuple(travel.locate(lat, lon) for lat, lon in config.depots)
        except SnapError as exc:
            raise DataError(f"a depot is off the network: {exc}") from None
    elif trips:
        depots = (_default_depot(trips, travel),)
    else:
        raise DataError("no requests and no depot: nothing to simulate")
    fleet = FleetSpec(
        n_vehicles=config.n_vehicles,
        seats=config.capacity,
        wheelchairs=config.wheelchair_places,
        depots=depots,
        shift=(config.shift_start_s, config.shift_end_s),
        battery=config.battery(),
    )
    dispatcher = Dispatcher(
        travel, fleet, config.dispatch_config(), charging_sites=charging_sites, seed=config.seed
    )
    forecast = forecast or RecentDemand()
    events = build_events(
        trips,
        reoptimise_every_s=config.reoptimise_every_s if config.policy == "insertion" else 0.0,
        rebalance_every_s=config.rebalance_every_s if config.rebalancing else 0.0,
    )
    decision_ms: list[float] = []
    reopt_ms: list[float] = []
    for ev in events:
        if ev.kind == REOPTIMISE:
            t = time.perf_counter()
            dispatcher.reoptimise(ev.time)
            reopt_ms.append(1000 * (time.perf_counter() - t))
        elif ev.kind == REBALANCE:
            dispatcher.advance_to(ev.time)
            idle = dispatcher.idle_vehicles(ev.time)
            if idle:
                locs, expected = forecast.expected(ev.time, ev.time + config.rebalance_horizon_s)
                for k, target in plan_moves(idle, locs, expected, travel):
                    dispatcher.reposition(k, target, ev.time)
        else:
            trip = trips[ev.index]
            t = time.perf_counter()
            dispatcher.submit(trip, ev.time)
            decision_ms.append(1000 * (time.perf_counter() - t))
            if trip.origin_loc >= 0:
                forecast.observe(ev.time, trip.origin_loc, *trip.origin)
    dispatcher.finish()
    result = collect_result(dispatcher, stream, config)
    d = np.asarray(decision_ms) if decision_ms else np.zeros(1)
    result.timing = {
        "wall_s": time.perf_counter() - wall0,
        "decisions": float(len(decision_ms)),
        "decision_p50_ms": float(np.percentile(d, 50)),
        "decision_p95_ms": float(np.percentile(d, 95)),
        "decision_max_ms": float(d.max()),
        "decision_mean_ms": float(d.mean()),
        "reoptimisations": float(len(reopt_ms)),
        "reoptimise_mean_ms": float(np.mean(reopt_ms)) if reopt_ms else 0.0,
        "reoptimise_total_s": float(np.sum(reopt_ms) / 1000) if reopt_ms else 0.0,
    }
    log.info(
        "simulated %d requests with %d vehicles (%s): %.1f%% served, %.1f s",
        len(trips), config.n_vehicles, config.policy, 100 * result.kpis["served_share"],
        result.timing["wall_s"],
    )  # fmt: skip
    return result


def collect_result(d: Dispatcher, stream: TripStream, config: SimulationConfig) -> SimulationResult:
    """Tables of the dispatcher's records and the KPIs."""
    rows = []
    by_id = {r.trip.id: r for r in d.records}  # type: ignore[attr-defined]
    for i, trip in enumerate(stream.trips):
        rec = by_id.get(trip.id)
        p = rec.promise if rec is not None else None
        rows.append(
            {
                "request_id": trip.id,
                "record": rec.index if rec else -1,
                "purpose": stream.purposes[i] if stream.purposes else "",
                "status": rec.status if rec else "missing",
                "reason": rec.reason if rec else "",
                "vehicle": rec.vehicle if rec else -1,
                "passengers": trip.passengers,
                "wheelchairs": trip.wheelchairs,
                "request_time": trip.request_time,
                "earliest_pickup": trip.earliest_pickup,
                "latest_arrival": trip.latest_arrival,
                "direct_s": rec.direct_s if rec else math.nan,
                "direct_m": rec.direct_m if rec else math.nan,
                "max_ride_s": rec.max_ride_s if rec else math.nan,
                "promised_pickup_earliest": p.pickup_earliest if p else math.nan,  # type: ignore[attr-defined]
                "promised_pickup_latest": p.pickup_latest if p else math.nan,  # type: ignore[attr-defined]
                "promised_dropoff_latest": p.dropoff_latest if p else math.nan,  # type: ignore[attr-defined]
                "quoted_pickup_eta": p.pickup_eta if p else math.nan,  # type: ignore[attr-defined]
                "pickup_time": rec.pickup_time if rec else math.nan,
                "pickup_depart": rec.pickup_depart if rec else math.nan,
                "dropoff_time": rec.dropoff_time if rec else math.nan,
            }
        )
    requests = pd.DataFrame(rows)
    legs = pd.DataFrame([asdict(x) for x in d.legs]) if d.legs else _empty_legs()
    stops = pd.DataFrame([asdict(x) for x in d.stops]) if d.stops else pd.DataFrame()
    charges = pd.DataFrame([asdict(x) for x in d.charges]) if d.charges else pd.DataFrame()
    soc = pd.DataFrame(d.soc_trace, columns=["vehicle", "time", "kwh"])
    kpis = compute_kpis(
        requests, legs, charges, n_vehicles=config.n_vehicles,
        shift=(config.shift_start_s, config.shift_end_s),
    )  # fmt: skip
    return SimulationResult(
        config=config,
        kpis=kpis,
        requests=requests,
        legs=legs,
        stops=stops,
        charges=charges,
        soc=soc,
        history=list(d.history),
        timing={},
        stats=dict(d.stats),
        origin_unix=stream.origin_unix,
        timezone=stream.timezone,
        depots=[v.depot for v in d.vehicles],
    )


def _empty_legs() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "vehicle",
            "kind",
            "origin",
            "destination",
            "depart",
            "arrive",
            "metres",
            "persons",
            "requests",
        ]
    )
