"""E-shuttle batteries and charging at the region's charging points.

A vehicle with a battery uses ``consumption_kwh_per_km`` for every metre it
drives. When its energy falls below ``charge_below`` of the capacity it stops
taking new requests, finishes its plan, then drives to the charging site where
it can start charging soonest (travel time plus the wait for a free charging
point, which the dispatcher knows because it books the points itself) and
charges to ``charge_to`` at the site's power (capped by the vehicle's). It is
unavailable until charging ends. Insertions are only accepted while the plan
leaves at least ``reserve`` of the capacity, so the battery never runs empty.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from routing.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class BatterySpec:
    """Battery and charging behaviour of the e-shuttles.

    Attributes
    ----------
    capacity_kwh : float
        Usable battery capacity.
    consumption_kwh_per_km : float
        Energy per driven kilometre.
    initial : float
        State of charge at the start of the shift (share of capacity).
    charge_below : float
        Go charging when the state of charge is below this share.
    charge_to : float
        Charge up to this share.
    reserve : float
        Share never planned away (to reach a charger).
    max_power_kw : float
        Highest charging power the vehicle accepts.
    plug_s : float
        Parking and plugging time added to every session.
    """

    capacity_kwh: float = 60.0
    consumption_kwh_per_km: float = 0.25
    initial: float = 1.0
    charge_below: float = 0.25
    charge_to: float = 0.9
    reserve: float = 0.1
    max_power_kw: float = 50.0
    plug_s: float = 120.0

    def __post_init__(self) -> None:
        if not (self.capacity_kwh > 0 and self.consumption_kwh_per_km > 0):
            raise DataError("battery capacity and consumption must be positive")
        if not 0 <= self.reserve < self.charge_below < self.charge_to <= 1:
            raise DataError(
                "battery shares must satisfy 0 <= reserve < charge_below < charge_to <= 1 "
                f"(got {self.reserve}, {self.charge_below}, {self.charge_to})"
            )
        if not 0 < self.initial <= 1:
            raise DataError(f"initial state of charge must be in (0, 1], got {self.initial}")
        if self.max_power_kw <= 0:
            raise DataError(f"max_power_kw must be positive, got {self.max_power_kw}")

    def kwh(self, metres: float) -> float:
        """Energy for driving ``metres``."""
        return self.consumption_kwh_per_km * metres / 1000.0

    def metres(self, kwh: float) -> float:
        """Range of ``kwh``."""
        return 1000.0 * kwh / self.consumption_kwh_per_km


@dataclass(frozen=True)
class ChargingSite:
    """A charging location the fleet may use.

    Attributes
    ----------
    id : str
    name : str
    lat, lon : float
    points : int
        Charging points (one vehicle each).
    power_kw : float
        Power of one point.
    """

    id: str
    name: str
    lat: float
    lon: float
    points: int
    power_kw: float


def sites_from_chargers(
    chargers: Iterable, *, min_power_kw: float = 11.0, default_power_kw: float = 22.0
) -> list[ChargingSite]:
    """Charging sites from :class:`routing.stations.model.Charger` records (store or list).

    Every usable EVSE (not out of order or removed) with at least
    ``min_power_kw`` counts as one point; unknown power becomes
    ``default_power_kw``.
    """
    out = []
    for c in chargers:
        evses = c.usable_evses(None, 0.0)
        powers = [e.max_power_kw or default_power_kw for e in evses]
        powers = [p for p in powers if p >= min_power_kw]
        if not powers:
            continue
        out.append(ChargingSite(c.id, c.name, c.lat, c.lon, len(powers), float(max(powers))))
    out.sort(key=lambda s: s.id)
    return out


class ChargingPlanner:
    """Books charging points of the sites (who charges where, from when to when).

    Parameters
    ----------
    sites : list of ChargingSite
    locations : ndarray of int
        Travel-model location of each site.
    battery : BatterySpec
    """

    def __init__(self, sites: list[ChargingSite], locations: np.ndarray, battery: BatterySpec):
        if not sites:
            raise DataError(
                "e-shuttles need charging sites: the region has no usable charging point "
                "(load the region's chargers or run without a battery)"
            )
        self.sites = sites
        self.locations = np.asarray(locations, dtype=np.int64)
        self.battery = battery
        self.free_at = [np.zeros(s.points) for s in sites]

    def choose(
        self, now: float, soc_kwh: float, seconds: np.ndarray, metres: np.ndarray
    ) -> tuple[int, int, float, float, float] | None:
        """Site, point, arrival, charge start and end for a vehicle leaving now.

        ``seconds`` / ``metres`` are the drive to each site. Only sites reachable
        on the remaining energy count; the earliest charge start wins (ties:
        the nearer site). None when no site is reachable.
        """
        b = self.battery
        best = None
        for s in range(len(self.sites)):
            if not math.isfinite(seconds[s]) or b.kwh(metres[s]) > soc_kwh + 1e-9:
                continue
            arrive = now + float(seconds[s])
            point = int(np.argmin(self.free_at[s]))
            start = max(arrive, float(self.free_at[s][point])) + b.plug_s
            key = (start, float(seconds[s]), s)
            if best is None or key < best[0]:
                best = (key, s, point, arrive, start)
        if best is None:
            return None
        _, s, point, arrive, start = best
        energy = max(0.0, b.charge_to * b.capacity_kwh - (soc_kwh - b.kwh(metres[s])))
        power = min(self.sites[s].power_kw, b.max_power_kw)
        end = start + 3600.0 * energy / power
        return s, point, arrive, start, end

    def book(self, site: int, point: int, end: float) -> None:
        """Hold a point until ``end``."""
        self.free_at[site][point] = end
