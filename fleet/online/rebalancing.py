"""Idle-vehicle rebalancing toward expected demand.

Every few minutes the idle vehicles are spread over the zones in proportion
to the requests expected there in the next ``horizon_s`` (largest remainder),
and sent there by a minimum-total-time assignment of vehicles to zone slots
(:func:`scipy.optimize.linear_sum_assignment`). A vehicle already close to its
slot stays. This is the "expected demand minus supply" rule of FleetPy's
simple rebalancing, with the transport problem solved exactly.

Expected demand comes from a :class:`Forecast`: :class:`RecentDemand` (what
was requested in the last hour, per grid cell) or :class:`ZoneForecast`
(per-zone hourly expectations, e.g. the demand model's zone productions times
the hourly profile, see :meth:`ZoneForecast.from_demand_model`).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from scipy.optimize import linear_sum_assignment

from routing.geo import M_PER_DEG_LAT

if TYPE_CHECKING:
    from fleet.online.travel import TravelModel

log = logging.getLogger(__name__)


class Forecast(Protocol):
    """Expected pickups per zone."""

    def observe(self, t: float, loc: int, lat: float, lon: float) -> None:
        """Record a request made at ``t`` starting at ``loc``."""
        ...

    def expected(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """(zone locations, expected pickups in [t0, t1))."""
        ...


class RecentDemand:
    """Pickups of the last ``window_s`` seconds per grid cell, scaled to the horizon.

    Each cell is represented by its most frequent pickup location.
    """

    def __init__(self, *, window_s: float = 3600.0, cell_m: float = 1000.0) -> None:
        self.window_s = float(window_s)
        self.cell_deg_lat = cell_m / M_PER_DEG_LAT
        self.cell_m = cell_m
        self._seen: deque[tuple[float, int, int, int]] = deque()

    def observe(self, t: float, loc: int, lat: float, lon: float) -> None:
        """Remember a pickup request."""
        dlon = self.cell_deg_lat / max(math.cos(math.radians(lat)), 0.1)
        self._seen.append(
            (t, int(loc), math.floor(lat / self.cell_deg_lat), math.floor(lon / dlon))
        )

    def expected(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Recent counts per cell scaled by ``(t1 - t0) / window_s``."""
        while self._seen and self._seen[0][0] < t0 - self.window_s:
            self._seen.popleft()
        cells: dict[tuple[int, int], dict[int, int]] = {}
        for _, loc, cy, cx in self._seen:
            d = cells.setdefault((cy, cx), {})
            d[loc] = d.get(loc, 0) + 1
        if not cells:
            return np.empty(0, dtype=np.int64), np.empty(0)
        keys = sorted(cells)
        locs = np.array(
            [min(cells[k].items(), key=lambda kv: (-kv[1], kv[0]))[0] for k in keys], dtype=np.int64
        )
        counts = np.array([sum(cells[k].values()) for k in keys], dtype=float)
        return locs, counts * (t1 - t0) / self.window_s


@dataclass
class ZoneForecast:
    """Hourly expected pickups per zone.

    Attributes
    ----------
    locations : ndarray of int, shape (Z,)
        A travel-model location per zone (its centroid on the network).
    hourly : ndarray of float, shape (Z, 24)
        Expected pickups per zone and local hour (dispatcher seconds are taken
        from local midnight).
    """

    locations: np.ndarray
    hourly: np.ndarray

    def observe(self, t: float, loc: int, lat: float, lon: float) -> None:
        """Nothing to learn: the forecast is fixed."""

    def expected(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Hourly rates integrated over [t0, t1)."""
        total = np.zeros(self.locations.shape[0])
        t = t0
        while t < t1:
            hour = int(t // 3600.0)
            end = min(t1, (hour + 1) * 3600.0)
            total += self.hourly[:, hour % 24] * (end - t) / 3600.0
            t = end
        return self.locations, total

    @classmethod
    def from_demand_model(
        cls, model, travel: TravelModel, *, day, n_requests: float
    ) -> ZoneForecast:
        """Zone productions of a :class:`demand.model.DemandModel` times its hourly profile.

        ``n_requests`` is the day's total; zones whose centroid cannot be placed
        on the network are left out.
        """
        from demand.profiles import day_slices, purpose_mix

        slices = day_slices(day, model.timezone, model.config)
        names, mix = purpose_mix(slices.day_type, model.config)
        production = np.zeros(model.zones.size)
        for name, share in zip(names, mix, strict=True):
            trips = model.purposes[name].trips
            production += share * trips.sum(axis=1) / max(trips.sum(), 1e-12)
        hourly_share = np.zeros(24)
        np.add.at(hourly_share, slices.local_hour % 24, slices.share)
        locs = travel.locate_many(model.zones.lat, model.zones.lon)
        keep = locs >= 0
        hourly = n_requests * production[keep, None] * hourly_share[None, :]
        return cls(locs[keep], hourly)


def plan_moves(
    vehicles: list[tuple[int, int]],
    zone_locs: np.ndarray,
    expected: np.ndarray,
    travel: TravelModel,
    *,
    min_move_s: float = 180.0,
    max_move_s: float = 1200.0,
) -> list[tuple[int, int]]:
    """Where idle vehicles should go.

    Parameters
    ----------
    vehicles : list of (vehicle, location)
        Idle vehicles and where they stand.
    zone_locs, expected : ndarray
        Zone locations and expected pickups.
    min_move_s, max_move_s : float
        Moves shorter than this are skipped (the vehicle is there already);
        longer ones are not considered.

    Returns
    -------
    list of (vehicle, target location)
    """
    if not vehicles or zone_locs.size == 0 or expected.sum() <= 0:
        return []
    n = len(vehicles)
    share = expected / expected.sum() * n
    slots = np.floor(share).astype(np.int64)
    left = n - int(slots.sum())
    if left > 0:
        order = np.lexsort((np.arange(share.size), -(share - slots)))
        slots[order[:left]] += 1
    slot_zone = np.repeat(np.arange(zone_locs.size), slots)
    if slot_zone.size == 0:
        return []
    vlocs = np.array([loc for _, loc in vehicles], dtype=np.int64)
    seconds, _ = travel.matrix(vlocs, zone_locs[slot_zone])
    cost = np.where(np.isfinite(seconds) & (seconds <= max_move_s), seconds, 1e9)
    rows, cols = linear_sum_assignment(cost)
    moves = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        t = seconds[r, c]
        if cost[r, c] >= 1e9 or t < min_move_s:
            continue
        moves.append((vehicles[r][0], int(zone_locs[slot_zone[c]])))
    return moves
