"""Key performance indicators of a simulated day, as FleetPy and MATSim DRT report them.

Definitions (times in seconds, distances in km):

* ``served_share`` = served / requests; ``rejected`` counts refused requests.
* wait = pickup (start of boarding) - earliest pickup: mean, median, p90.
* ride = drop-off - departure from the pickup; ``detour_s`` = ride - direct
  car time, ``detour_rel`` = ride / direct - 1 (means over served requests).
* ``occupancy`` = passenger-km / vehicle-km (distance-weighted occupancy,
  counting every person on board, empty driving included).
* ``vehicle_km``, ``empty_km`` (nobody on board, including repositioning and
  trips to chargers) and ``empty_km_share``.
* ``shared_ride_share`` = served requests whose ride overlapped another
  request's ride in the same vehicle.
* ``vehicle_hours`` = fleet size x service span (first earliest pickup to last
  drop-off, within the shift); ``vehicle_hours_driving`` and
  ``vehicle_hours_occupied`` (driving with someone on board).
* ``pooling_efficiency`` = direct passenger-km / vehicle-km (MATSim's
  "total distance / direct distance" turned around: above 1 means pooling
  saved distance).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _stat(values: np.ndarray, fn) -> float:
    return float(fn(values)) if values.size else math.nan


def shared_flags(vehicle: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether each ride [start, end) overlaps another ride of the same vehicle."""
    out = np.zeros(vehicle.size, dtype=bool)
    for k in np.unique(vehicle):
        idx = np.flatnonzero(vehicle == k)
        s, e = start[idx], end[idx]
        overlap = (s[:, None] < e[None, :]) & (s[None, :] < e[:, None])
        np.fill_diagonal(overlap, False)
        out[idx] = overlap.any(axis=1)
    return out


def compute_kpis(
    requests: pd.DataFrame,
    legs: pd.DataFrame,
    charges: pd.DataFrame | None = None,
    *,
    n_vehicles: int,
    shift: tuple[float, float] = (0.0, math.inf),
) -> dict[str, float]:
    """KPIs of one run (see the module docstring for the definitions).

    Parameters
    ----------
    requests : DataFrame
        One row per request with ``status``, ``vehicle``, ``passengers``,
        ``wheelchairs``, ``earliest_pickup``, ``direct_s``, ``direct_m``,
        ``pickup_time``, ``pickup_depart``, ``dropoff_time``.
    legs : DataFrame
        Driven legs with ``kind``, ``depart``, ``arrive``, ``metres``, ``persons``.
    charges : DataFrame, optional
        Charging sessions with ``start``, ``end``, ``kwh_before``, ``kwh_after``.
    n_vehicles : int
    shift : (float, float)
        Service hours, to clip the service span.
    """
    n = len(requests)
    done = requests[requests["status"] == "done"]
    served = len(done)
    rejected = int((requests["status"] == "rejected").sum())
    wait = (done["pickup_time"] - done["earliest_pickup"]).to_numpy(float)
    ride = (done["dropoff_time"] - done["pickup_depart"]).to_numpy(float)
    direct = done["direct_s"].to_numpy(float)
    detour = ride - direct
    pos = direct > 0
    rel = ride[pos] / direct[pos] - 1.0
    persons = (done["passengers"] + done["wheelchairs"]).to_numpy(float)
    metres = legs["metres"].to_numpy(float) if len(legs) else np.zeros(0)
    on = legs["persons"].to_numpy(float) if len(legs) else np.zeros(0)
    dur = (legs["arrive"] - legs["depart"]).to_numpy(float) if len(legs) else np.zeros(0)
    vkm = metres.sum() / 1000.0
    pkm = (metres * on).sum() / 1000.0
    empty_km = metres[on == 0].sum() / 1000.0
    kinds = legs["kind"].to_numpy(str) if len(legs) else np.zeros(0, dtype=str)
    shared = shared_flags(
        done["vehicle"].to_numpy(np.int64),
        done["pickup_depart"].to_numpy(float),
        done["dropoff_time"].to_numpy(float),
    )
    if served:
        span0 = max(float(requests["earliest_pickup"].min()), shift[0])
        span1 = min(float(done["dropoff_time"].max()), shift[1])
        span_h = max(span1 - span0, 0.0) / 3600.0
    else:
        span_h = 0.0
    direct_pkm = float((done["direct_m"].to_numpy(float) * persons).sum()) / 1000.0
    kpis = {
        "requests": float(n),
        "served": float(served),
        "rejected": float(rejected),
        "served_share": served / n if n else math.nan,
        "rejected_share": rejected / n if n else math.nan,
        "passengers_served": float(persons.sum()),
        "wheelchair_requests_served": float((done["wheelchairs"] > 0).sum()),
        "wait_mean_s": _stat(wait, np.mean),
        "wait_median_s": _stat(wait, np.median),
        "wait_p90_s": _stat(wait, lambda a: np.percentile(a, 90)),
        "ride_mean_s": _stat(ride, np.mean),
        "ride_median_s": _stat(ride, np.median),
        "ride_p90_s": _stat(ride, lambda a: np.percentile(a, 90)),
        "direct_mean_s": _stat(direct, np.mean),
        "detour_mean_s": _stat(detour, np.mean),
        "detour_median_s": _stat(detour, np.median),
        "detour_rel_mean": _stat(rel, np.mean),
        "detour_rel_median": _stat(rel, np.median),
        "occupancy": pkm / vkm if vkm > 0 else math.nan,
        "vehicle_km": vkm,
        "passenger_km": pkm,
        "empty_km": empty_km,
        "empty_km_share": empty_km / vkm if vkm > 0 else math.nan,
        "repositioning_km": metres[kinds == "reposition"].sum() / 1000.0,
        "charging_trip_km": metres[kinds == "charge"].sum() / 1000.0,
        "vehicle_km_per_served": vkm / served if served else math.nan,
        "pooling_efficiency": direct_pkm / vkm if vkm > 0 else math.nan,
        "shared_ride_share": float(shared.mean()) if served else math.nan,
        "vehicle_hours": n_vehicles * span_h,
        "vehicle_hours_driving": float(dur.sum()) / 3600.0,
        "vehicle_hours_occupied": float(dur[on > 0].sum()) / 3600.0,
    }
    kpis = {k: float(v) for k, v in kpis.items()}
    if charges is not None and len(charges):
        kpis["charging_sessions"] = float(len(charges))
        kpis["charging_hours"] = float((charges["end"] - charges["start"]).sum()) / 3600.0
        kpis["energy_charged_kwh"] = float((charges["kwh_after"] - charges["kwh_before"]).sum())
    else:
        kpis["charging_sessions"] = 0.0
        kpis["charging_hours"] = 0.0
        kpis["energy_charged_kwh"] = 0.0
    return kpis
