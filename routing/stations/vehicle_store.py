"""The live set of free-floating vehicles of a region: one snapshot per system, swapped atomically.

Writers (a poller, an operator, the loader) hand in a new document or a whole
:class:`~routing.stations.free_floating.FreeFloatingSnapshot`; the store
builds a new immutable :class:`VehicleView` (all systems, one spatial index of
the rentable vehicles) and swaps it in under a lock. Readers take
:meth:`VehicleStore.view` once per query and never wait for a writer, never
see half an update (OpenTripPlanner's updater pattern).

A document that cannot be parsed changes nothing and raises
:class:`~routing.errors.DataError`; the previous snapshot stays in force
until it goes stale (``last_updated`` + ``ttl`` + grace), after which its
vehicles are no longer offered.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from routing.errors import RequestError
from routing.geo import EARTH_RADIUS_M, haversine_scalar_m
from routing.stations.free_floating import (
    FreeFloatingSnapshot,
    Vehicle,
    as_document,
    build_snapshot,
    parse_vehicle_status,
)
from routing.stations.gbfs import DEFAULT_GRACE_S, parse_vehicle_types
from routing.stations.geofencing import parse_geofencing_zones
from routing.stations.model import as_utc
from routing.stations.store import UpdateReport, _unit_xyz

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VehicleHit:
    """A rentable vehicle found near a point, with its system's snapshot and the distance."""

    vehicle: Vehicle
    snapshot: FreeFloatingSnapshot
    distance_m: float


@dataclass(frozen=True)
class VehicleView:
    """All systems at one moment, with a spatial index of their rentable vehicles."""

    snapshots: dict[str, FreeFloatingSnapshot] = field(default_factory=dict)
    _rentable: tuple[tuple[Vehicle, str], ...] = ()
    _tree: Any = None

    @classmethod
    def of(cls, snapshots: dict[str, FreeFloatingSnapshot]) -> VehicleView:
        """Index the rentable vehicles of ``snapshots``."""
        rentable = tuple(
            (v, sid) for sid, snap in snapshots.items() for v in snap.vehicles if v.rentable
        )
        tree = None
        if rentable:
            lats = np.fromiter((v.lat for v, _ in rentable), float, len(rentable))
            lons = np.fromiter((v.lon for v, _ in rentable), float, len(rentable))
            tree = cKDTree(_unit_xyz(lats, lons))
        return cls(dict(snapshots), rentable, tree)

    def __len__(self) -> int:
        return sum(len(s.vehicles) for s in self.snapshots.values())

    def nearby(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        *,
        now: datetime | None = None,
        form_factors: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[VehicleHit]:
        """Rentable vehicles of fresh systems within ``radius_m``, nearest first.

        Raises
        ------
        RequestError
            Coordinates out of range or a negative radius.
        """
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or not radius_m >= 0:
            raise RequestError(
                f"bad vehicle query: lat {lat}, lon {lon}, radius {radius_m} m "
                "(need lat -90..90, lon -180..180 and a radius >= 0)"
            )
        if self._tree is None:
            return []
        now = as_utc(now)
        fresh = {sid for sid, s in self.snapshots.items() if not s.stale(now)}
        wanted = None if form_factors is None else frozenset(form_factors)
        centre = _unit_xyz(np.array([lat]), np.array([lon]))[0]
        chord = 2 * math.sin(min(radius_m / EARTH_RADIUS_M, math.pi) / 2) * (1 + 1e-12)
        out = []
        for i in self._tree.query_ball_point(centre, chord):
            vehicle, sid = self._rentable[i]
            if sid not in fresh:
                continue
            snap = self.snapshots[sid]
            if wanted is not None and snap.form_factor(vehicle) not in wanted:
                continue
            d = haversine_scalar_m(lat, lon, vehicle.lat, vehicle.lon)
            if d <= radius_m:
                out.append(VehicleHit(vehicle, snap, d))
        out.sort(key=lambda h: (h.distance_m, h.vehicle.id))
        return out[:limit] if limit is not None else out


class VehicleStore:
    """Free-floating vehicles of a region, one snapshot per GBFS system (thread-safe).

    Parameters
    ----------
    snapshots : iterable of FreeFloatingSnapshot
        Initial systems (a repeated system id replaces the earlier one).
    warnings : iterable of str
        Warnings raised while loading, kept for reports.
    """

    def __init__(
        self, snapshots: Iterable[FreeFloatingSnapshot] = (), warnings: Iterable[str] = ()
    ) -> None:
        self._lock = threading.Lock()
        self._view = VehicleView.of({s.system_id: s for s in snapshots})
        self.warnings: list[str] = list(warnings)

    # -- reading -------------------------------------------------------------------
    def view(self) -> VehicleView:
        """The current immutable view (read it once per query)."""
        return self._view

    def snapshot(self, system_id: str) -> FreeFloatingSnapshot | None:
        """The current snapshot of a system, or None."""
        return self._view.snapshots.get(system_id)

    def systems(self) -> list[str]:
        """Ids of the systems held."""
        return sorted(self._view.snapshots)

    def __len__(self) -> int:
        return len(self._view)

    def nearby(self, lat: float, lon: float, radius_m: float, **kw: Any) -> list[VehicleHit]:
        """:meth:`VehicleView.nearby` on the current view."""
        return self._view.nearby(lat, lon, radius_m, **kw)

    # -- writing -------------------------------------------------------------------
    def put(self, snapshot: FreeFloatingSnapshot) -> None:
        """Swap in a whole system snapshot (new or replacing the old one)."""
        with self._lock:
            self._view = VehicleView.of({**self._view.snapshots, snapshot.system_id: snapshot})

    def remove(self, system_id: str) -> bool:
        """Drop a system; returns whether it was there."""
        with self._lock:
            if system_id not in self._view.snapshots:
                return False
            rest = {k: v for k, v in self._view.snapshots.items() if k != system_id}
            self._view = VehicleView.of(rest)
            return True

    def withdraw(self, system_id: str, reason: str) -> bool:
        """Stop offering a system's vehicles (its feed is down past its age limit).

        Vehicles, types and zones are kept; the next :meth:`put` or
        :meth:`apply_vehicle_status` of the system brings it back. Returns
        whether the system was there and in use.
        """
        with self._lock:
            old = self._view.snapshots.get(system_id)
            if old is None or old.withdrawn is not None:
                return False
            new = replace(old, withdrawn=reason)
            self._view = VehicleView.of({**self._view.snapshots, system_id: new})
        logger.warning("free-floating %s: vehicles no longer offered (%s)", system_id, reason)
        return True

    def apply_vehicle_status(
        self,
        system_id: str,
        raw: Any,
        *,
        now: datetime | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        where: str | Path | None = None,
    ) -> UpdateReport:
        """Replace a system's vehicles from a vehicle_status / free_bike_status document.

        Types and zones of the current snapshot are kept. ``raw`` may be bytes,
        text or parsed JSON.

        Raises
        ------
        DataError
            The document is not JSON or not a vehicle document (nothing changes).
        """
        where = where or f"vehicle_status of {system_id}"
        batch = parse_vehicle_status(raw, where, system_id=system_id)
        with self._lock:
            old = self._view.snapshots.get(system_id)
            snap = build_snapshot(
                batch,
                system_id=system_id,
                name=old.name if old else None,
                vehicle_types=old.vehicle_types if old else None,
                geofencing=old.geofencing if old else None,
                now=now,
                grace_s=grace_s,
            )
            self._view = VehicleView.of({**self._view.snapshots, system_id: snap})
        report = UpdateReport(applied=len(batch.vehicles), warnings=list(batch.warnings))
        if snap.stale(now):
            report.warnings.append(
                f"{where} is already stale (last_updated {batch.last_updated}); "
                "its vehicles are not offered"
            )
        report.log(f"GBFS vehicles update {system_id}")
        return report

    def apply_geofencing(self, system_id: str, raw: Any) -> UpdateReport:
        """Replace a system's geofencing zones (bytes, text or parsed JSON).

        Raises
        ------
        DataError
            Not a geofencing_zones document (nothing changes).
        """
        zones = parse_geofencing_zones(
            as_document(raw, f"geofencing_zones of {system_id}"), f"geofencing_zones of {system_id}"
        )
        self._replace(system_id, geofencing=zones)
        return UpdateReport(applied=len(zones.zones), warnings=list(zones.warnings))

    def apply_vehicle_types(self, system_id: str, raw: Any) -> UpdateReport:
        """Replace a system's vehicle types (bytes, text or parsed JSON).

        Raises
        ------
        DataError
            Not a vehicle_types document (nothing changes).
        """
        where = f"vehicle_types of {system_id}"
        types, warnings = parse_vehicle_types(as_document(raw, where), where)
        self._replace(system_id, vehicle_types=types)
        return UpdateReport(applied=len(types), warnings=warnings)

    def _replace(self, system_id: str, **changes: Any) -> None:
        with self._lock:
            old = self._view.snapshots.get(system_id) or FreeFloatingSnapshot(
                system_id, system_id, ()
            )
            new = replace(old, **changes)
            self._view = VehicleView.of({**self._view.snapshots, system_id: new})
