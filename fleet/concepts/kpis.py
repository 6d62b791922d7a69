"""The same KPIs and costs for every concept, from its riders and its driven legs.

Definitions (times in minutes, distances in km, money in EUR):

* ``served_share``: riders carried by the service / all requests; ``walk_share``:
  riders for whom walking was faster (stops too close, or the line too slow).
* walk (``walk_access_min`` + ``walk_egress_min``), ``wait_mean_min`` (from being
  ready at the pickup point to boarding: on a line this includes the wait for
  the next departure), ``ride_mean_min`` and ``door_to_door_mean_min``
  (from the requested time to arriving at the destination), over served riders.
* ``d2d_vs_car``, ``d2d_vs_bike``, ``d2d_vs_walk``: mean ratio of a served
  rider's door-to-door time to driving (road model + ``car_access_min`` for
  parking), cycling and walking the same trip.
* ``vehicles``, ``vehicle_hours`` (vehicles x service span), ``vehicle_km``,
  ``empty_km``, ``occupancy`` (passenger-km / vehicle-km).
* ``cost_per_trip_eur``: (vehicle + driver or safety operator per vehicle-hour,
  energy per kWh) / served passengers; ``energy_kwh`` and ``co2_kg``.
* ``transfer_wait_mean_min``: riders bound for the hub wait from arriving there
  (plus the walk to the platform) to the next tram departure.
* ``walk_routed``: 1 when walks (to and from the vehicle, and the whole trip)
  were routed on the region's walk network, 0 when they were crow-fly x
  circuity (no map); see :mod:`fleet.concepts.walking`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Reported KPIs in table order.
KPI_NAMES = (
    "served_share",
    "walk_share",
    "wait_mean_min",
    "wait_p90_min",
    "ride_mean_min",
    "walk_access_min",
    "walk_egress_min",
    "walk_max_m",
    "door_to_door_mean_min",
    "d2d_vs_car",
    "d2d_vs_bike",
    "d2d_vs_walk",
    "vehicles",
    "vehicle_hours",
    "vehicle_km",
    "empty_km",
    "empty_km_share",
    "occupancy",
    "energy_kwh",
    "co2_kg",
    "cost_eur",
    "cost_per_trip_eur",
    "transfer_riders",
    "transfer_wait_mean_min",
    "requests_simulated",
    "passengers_served",
    "deviation_share",
    "walk_routed",
)


def _mean(a: np.ndarray) -> float:
    return float(np.mean(a)) if a.size else math.nan


def concept_kpis(
    riders: pd.DataFrame,
    legs: pd.DataFrame,
    *,
    vehicles: int,
    vehicle_hours: float,
    costs,
    autonomous: bool,
    walk_routed: bool = False,
    tram_departures: np.ndarray | None = None,
    transfer_walk_s: float = 60.0,
) -> dict[str, float]:
    """KPIs of one run (see the module docstring).

    Parameters
    ----------
    riders : DataFrame
        One row per request: ``status`` (``served``, ``walk``, ``unserved``),
        ``persons``, ``access_walk_s``, ``egress_walk_s``, ``access_walk_m``,
        ``egress_walk_m``, ``wait_s``, ``ride_s``, ``arrive_s`` (at the
        destination door), ``earliest_s`` (ready at the door), ``car_s``,
        ``bike_s``, ``walk_only_s``, ``hub_bound`` and ``door`` (a flex deviation).
    legs : DataFrame
        Driven legs with ``metres`` and ``persons``.
    costs : fleet.concepts.settings.CostSettings
    walk_routed : bool
        Whether the walks were routed on the walk network (else crow-fly x circuity).
    tram_departures : ndarray, optional
        Seconds of tram departures at the hub (same clock as the riders).
    """
    n = len(riders)
    served = riders[riders["status"] == "served"]
    persons = served["persons"].to_numpy(float)
    wait = served["wait_s"].to_numpy(float)
    ride = served["ride_s"].to_numpy(float)
    d2d = (served["arrive_s"] - served["earliest_s"]).to_numpy(float)
    metres = legs["metres"].to_numpy(float) if len(legs) else np.zeros(0)
    on = legs["persons"].to_numpy(float) if len(legs) else np.zeros(0)
    vkm = float(metres.sum()) / 1000.0
    pkm = float((metres * on).sum()) / 1000.0
    empty = float(metres[on == 0].sum()) / 1000.0
    energy = vkm * costs.kwh_per_km
    staff = costs.safety_operator_eur_h if autonomous else costs.driver_eur_h
    if autonomous and not costs.safety_operator_required:
        staff = 0.0
    vehicle_eur_h = costs.av_vehicle_eur_h if autonomous else costs.vehicle_eur_h
    cost = vehicle_hours * (vehicle_eur_h + staff) + energy * costs.eur_per_kwh
    kpis = {
        "served_share": len(served) / n if n else math.nan,
        "walk_share": float((riders["status"] == "walk").sum()) / n if n else math.nan,
        "wait_mean_min": _mean(wait) / 60,
        "wait_p90_min": float(np.percentile(wait, 90)) / 60 if wait.size else math.nan,
        "ride_mean_min": _mean(ride) / 60,
        "walk_access_min": _mean(served["access_walk_s"].to_numpy(float)) / 60,
        "walk_egress_min": _mean(served["egress_walk_s"].to_numpy(float)) / 60,
        "walk_max_m": float(
            np.max(np.maximum(served["access_walk_m"], served["egress_walk_m"]))
            if len(served)
            else math.nan
        ),
        "door_to_door_mean_min": _mean(d2d) / 60,
        "d2d_vs_car": _mean(d2d / served["car_s"].to_numpy(float)),
        "d2d_vs_bike": _mean(d2d / served["bike_s"].to_numpy(float)),
        "d2d_vs_walk": _mean(d2d / served["walk_only_s"].to_numpy(float)),
        "vehicles": float(vehicles),
        "vehicle_hours": float(vehicle_hours),
        "vehicle_km": vkm,
        "empty_km": empty,
        "empty_km_share": empty / vkm if vkm > 0 else math.nan,
        "occupancy": pkm / vkm if vkm > 0 else math.nan,
        "energy_kwh": energy,
        "co2_kg": energy * costs.co2_g_per_kwh / 1000.0,
        "cost_eur": cost,
        "cost_per_trip_eur": cost / persons.sum() if persons.sum() > 0 else math.nan,
        "requests_simulated": float(n),
        "passengers_served": float(persons.sum()),
        "deviation_share": float(served["door"].mean()) if len(served) else 0.0,
        "walk_routed": float(walk_routed),
    }
    hub = served[served["hub_bound"]]
    kpis["transfer_riders"] = float(len(hub))
    if tram_departures is not None and tram_departures.size and len(hub):
        deps = np.sort(tram_departures)
        at = hub["arrive_s"].to_numpy(float) + transfer_walk_s
        i = np.searchsorted(deps, at)
        ok = i < deps.size
        waits = deps[i[ok]] - at[ok]
        kpis["transfer_wait_mean_min"] = _mean(waits) / 60
    else:
        kpis["transfer_wait_mean_min"] = math.nan
    return {k: float(kpis[k]) for k in KPI_NAMES}
