"""Live, thread-safe collections of stations and chargers with spatial lookup.

Positions are fixed once loaded; live data (GBFS station_status, ParkAPI
free boxes, OCPI EVSE status) is applied at run time by swapping in new
immutable records under a lock, so the spatial index never needs a rebuild
for a status update. Adding new ids (a new OCPI location) rebuilds the index
lazily on the next query.

The index is a :class:`scipy.spatial.cKDTree` over unit-sphere coordinates:
a radius query on the chord length is exact for great-circle distance
anywhere on Earth, with no projection zone to choose.

Staleness is re-checked on every query against ``now``: when the earliest
``valid_until`` has passed, expired stations are marked stale (availability
unknown) and a warning is logged once.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Generic, TypeVar

import numpy as np
from scipy.spatial import cKDTree

from routing.errors import DataError, RequestError
from routing.geo import EARTH_RADIUS_M, haversine_scalar_m
from routing.stations import gbfs, ocpi, parkapi
from routing.stations.model import (
    Availability,
    Charger,
    EvseStatus,
    Station,
    StationKind,
    as_utc,
)

logger = logging.getLogger(__name__)

T = TypeVar("T", Station, Charger)


@dataclass(frozen=True)
class Nearby(Generic[T]):
    """A station or charger found by a radius query, with its great-circle distance."""

    item: T
    distance_m: float


@dataclass
class UpdateReport:
    """Outcome of a live update: what was applied and what was not (never fatal).

    Attributes
    ----------
    applied : int
        Records that changed the store.
    unknown : list of str
        Ids in the update that the store does not hold.
    rejected : list of str
        Records refused, with the reason (bad value, older than current data).
    warnings : list of str
        Problems in the update document (skipped rows, stale timestamp).
    """

    applied: int = 0
    unknown: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def log(self, what: str) -> None:
        """One-line summary in the log."""
        level = logging.WARNING if self.unknown or self.rejected else logging.INFO
        logger.log(
            level,
            "%s: %d applied, %d unknown ids%s, %d rejected, %d warnings",
            what, self.applied, len(self.unknown),
            f" ({', '.join(self.unknown[:5])})" if self.unknown else "",
            len(self.rejected), len(self.warnings),
        )  # fmt: skip


def _unit_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


class _Store(Generic[T]):
    """Shared machinery: items by id, lock, lazily built spatial index."""

    def __init__(self, items: Iterable[T] = (), warnings: Iterable[str] = ()) -> None:
        self._lock = threading.RLock()
        self._items: list[T] = []
        self._index_of: dict[str, int] = {}
        self._tree: cKDTree | None = None
        self.warnings: list[str] = list(warnings)
        self.add(items)

    # -- collection ------------------------------------------------------------------

    def add(self, items: Iterable[T]) -> int:
        """Add items; an id already present replaces the old record. Returns how many."""
        n = 0
        with self._lock:
            for item in items:
                i = self._index_of.get(item.id)
                if i is None:
                    self._index_of[item.id] = len(self._items)
                    self._items.append(item)
                    self._tree = None
                else:
                    if (self._items[i].lat, self._items[i].lon) != (item.lat, item.lon):
                        self._tree = None
                    self._items[i] = item
                n += 1
        return n

    def get(self, item_id: str) -> T | None:
        """The record with ``item_id`` or None."""
        with self._lock:
            i = self._index_of.get(item_id)
            return None if i is None else self._items[i]

    def __contains__(self, item_id: object) -> bool:
        with self._lock:
            return item_id in self._index_of

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.snapshot())

    def snapshot(self) -> list[T]:
        """A consistent copy of all records (later updates do not change it)."""
        with self._lock:
            return list(self._items)

    def refresh(self, now: datetime | None = None) -> list[str]:
        """Mark live data that expired by ``now`` as stale; return the ids marked.

        Nothing expires here; :class:`StationStore` overrides this.
        """
        return []

    def select(
        self,
        keep: Callable[[T], bool],
        *,
        near: tuple[float, float] | None = None,
        radius_m: float = 0.0,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> list[T] | list[Nearby[T]]:
        """Records passing ``keep``: nearest first within a radius, or all of them.

        Parameters
        ----------
        keep : callable
            Filter on one record, e.g. from :func:`station_filter` or :func:`charger_filter`.
        near : (lat, lon), optional
            Centre of a radius search. None lists every record in store order.
        radius_m : float
            Search radius (great-circle metres) around ``near``.
        limit : int, optional
            At most this many results.
        now : datetime, optional
            Time for the staleness check of a radius search (default: now).

        Returns
        -------
        list of Nearby or list of records
            :class:`Nearby` results (with distance) around ``near``, else the bare
            records. Both run :meth:`refresh` first (expired live counts become stale).

        Raises
        ------
        RequestError
            ``near`` out of range or a negative radius.
        """
        if near is None:
            self.refresh(now)
            return list(islice(filter(keep, self.snapshot()), limit))
        return self._within(near[0], near[1], radius_m, keep, limit=limit, now=now)

    # -- spatial ---------------------------------------------------------------------

    def _within(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        keep: Callable[[T], bool],
        *,
        limit: int | None,
        now: datetime | None,
    ) -> list[Nearby[T]]:
        """Items within ``radius_m`` passing ``keep``, nearest first, after a refresh."""
        with self._lock:
            self.refresh(now)
            out = []
            for item, d in self._candidates(lat, lon, radius_m):
                if keep(item):
                    out.append(Nearby(item, d))
                    if limit is not None and len(out) >= limit:
                        break
            return out

    def _candidates(self, lat: float, lon: float, radius_m: float) -> list[tuple[T, float]]:
        """Items within ``radius_m``, nearest first. Caller holds the lock."""
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or radius_m < 0:
            raise RequestError(
                f"bad station query: lat {lat}, lon {lon}, radius {radius_m} m "
                "(need lat -90..90, lon -180..180 and a radius >= 0)"
            )
        if not self._items:
            return []
        if self._tree is None:
            lats = np.fromiter((s.lat for s in self._items), float, len(self._items))
            lons = np.fromiter((s.lon for s in self._items), float, len(self._items))
            self._tree = cKDTree(_unit_xyz(lats, lons))
        centre = _unit_xyz(np.array([lat]), np.array([lon]))[0]
        half_angle = min(radius_m / EARTH_RADIUS_M, math.pi) / 2
        chord = 2 * math.sin(half_angle) * (1 + 1e-12)
        hits = self._tree.query_ball_point(centre, chord)
        found = []
        for i in hits:
            item = self._items[i]
            d = haversine_scalar_m(lat, lon, item.lat, item.lon)
            if d <= radius_m:
                found.append((item, d))
        found.sort(key=lambda pair: (pair[1], pair[0].id))
        return found


class StationStore(_Store[Station]):
    """Bike stations of a region: lookup by id and radius, live availability updates.

    Parameters
    ----------
    stations : iterable of Station
        Initial records (ids must be unique; a repeated id replaces the earlier one).
    warnings : iterable of str
        Warnings raised while loading, kept for reports.
    """

    def __init__(self, stations: Iterable[Station] = (), warnings: Iterable[str] = ()) -> None:
        self._next_expiry: datetime | None = None
        super().__init__(stations, warnings)

    def add(self, items: Iterable[Station]) -> int:
        with self._lock:
            n = super().add(items)
            self._recompute_expiry()
            return n

    def nearby(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        *,
        kinds: StationKind | Iterable[StationKind] | None = None,
        has_bikes: bool = False,
        has_free_space: bool = False,
        min_count: int = 1,
        ebike_charging: bool | None = None,
        include_unknown: bool = False,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> list[Nearby[Station]]:
        """Stations within ``radius_m`` metres of a point, nearest first.

        Parameters
        ----------
        lat, lon : float
            Query point (WGS84).
        radius_m : float
            Search radius (great-circle metres).
        kinds, has_bikes, has_free_space, min_count, ebike_charging, include_unknown
            Which stations to keep, as in :func:`station_filter`.
        limit : int, optional
            At most this many results.
        now : datetime, optional
            Time for the staleness check (default: now).

        Raises
        ------
        RequestError
            Coordinates out of range or a negative radius.
        """
        keep = station_filter(
            kinds,
            has_bikes=has_bikes,
            has_free_space=has_free_space,
            min_count=min_count,
            ebike_charging=ebike_charging,
            include_unknown=include_unknown,
        )
        return self._within(lat, lon, radius_m, keep, limit=limit, now=now)

    def refresh(self, now: datetime | None = None) -> list[str]:
        """Mark stations whose live data expired by ``now`` as stale; return their ids."""
        now = as_utc(now)
        with self._lock:
            if self._next_expiry is None or now <= self._next_expiry:
                return []
            expired = []
            for i, s in enumerate(self._items):
                if not s.stale and s.expired(now):
                    self._items[i] = replace(s, stale=True)
                    expired.append(s.id)
            self._recompute_expiry()
        if expired:
            logger.warning(
                "%d stations' availability went stale (no update within ttl + grace): %s",
                len(expired), ", ".join(expired[:5]),
            )  # fmt: skip
        return expired

    def apply_gbfs_status(
        self,
        doc: Any,
        *,
        system_id: str,
        now: datetime | None = None,
        grace_s: float = gbfs.DEFAULT_GRACE_S,
    ) -> UpdateReport:
        """Apply a new GBFS station_status document of system ``system_id``.

        Stations in the document but not in the store are reported in
        ``unknown``; stations of the system missing from the document keep
        their last counts until they expire.

        Raises
        ------
        DataError
            ``doc`` is not a station_status document (nothing is changed).
        """
        now = as_utc(now)
        batch = gbfs.parse_station_status(doc, f"station_status of {system_id}")
        report = UpdateReport(warnings=list(batch.warnings))
        valid_until = gbfs.status_valid_until(batch, grace_s, now)
        stale = now > valid_until
        if stale:
            report.warnings.append(
                f"station_status of {system_id} is already stale (last_updated "
                f"{batch.last_updated}); counts applied but marked unknown"
            )
        with self._lock:
            for sid, record in batch.records.items():
                uid = gbfs.station_uid(system_id, sid)
                i = self._index_of.get(uid)
                if i is None:
                    report.unknown.append(uid)
                    continue
                old = self._items[i]
                if _older(record.last_reported, old.last_reported):
                    report.rejected.append(f"{uid}: report older than the current one")
                    continue
                self._items[i] = gbfs.apply_status(
                    old, record, valid_until=valid_until, stale=stale
                )
                report.applied += 1
            self._recompute_expiry()
        report.log(f"GBFS status update {system_id}")
        return report

    def apply_parkapi_realtime(
        self,
        doc: Any,
        *,
        source_uid: str,
        now: datetime | None = None,
        ttl_s: float = parkapi.DEFAULT_TTL_S,
        grace_s: float = parkapi.DEFAULT_GRACE_S,
    ) -> UpdateReport:
        """Apply live free-box counts (Kienzler list or ParkAPI v3 ``items``).

        Raises
        ------
        DataError
            ``doc`` is neither layout (nothing is changed).
        """
        now = as_utc(now)
        records, warnings = parkapi.parse_realtime(doc, f"realtime of {source_uid}")
        report = UpdateReport(warnings=warnings)
        with self._lock:
            for rec in records:
                uid = parkapi.site_uid(source_uid, rec.uid)
                i = self._index_of.get(uid)
                if i is None:
                    report.unknown.append(uid)
                    continue
                old = self._items[i]
                if old.capacity is not None and rec.free > old.capacity:
                    report.rejected.append(
                        f"{uid}: {rec.free} free boxes exceed capacity {old.capacity}"
                    )
                    continue
                stamp = rec.updated_at or now
                valid_until = stamp + timedelta(seconds=ttl_s + grace_s)
                self._items[i] = replace(
                    old,
                    docks_available=rec.free,
                    capacity=rec.capacity if rec.capacity is not None else old.capacity,
                    last_reported=stamp,
                    valid_until=valid_until,
                    stale=now > valid_until,
                    realtime=True,
                )
                report.applied += 1
            self._recompute_expiry()
        report.log(f"ParkAPI realtime update {source_uid}")
        return report

    def update_availability(
        self,
        station_id: str,
        *,
        bikes_available: int | None = None,
        docks_available: int | None = None,
        is_renting: bool | None = None,
        is_returning: bool | None = None,
        valid_for_s: float | None = None,
        now: datetime | None = None,
    ) -> UpdateReport:
        """Set live counts of one station (fields left None are kept).

        ``valid_for_s`` sets how long the counts stay fresh (None: no limit).
        """
        now = as_utc(now)
        report = UpdateReport()
        for name, value in (("bikes_available", bikes_available),
                            ("docks_available", docks_available)):  # fmt: skip
            if value is not None and (not isinstance(value, int) or value < 0):
                report.rejected.append(f"{station_id}: {name} {value!r} is not a count >= 0")
        if report.rejected:
            return report
        with self._lock:
            i = self._index_of.get(station_id)
            if i is None:
                report.unknown.append(station_id)
                return report
            old = self._items[i]
            changes: dict[str, Any] = {
                k: v
                for k, v in (
                    ("bikes_available", bikes_available),
                    ("docks_available", docks_available),
                    ("is_renting", is_renting),
                    ("is_returning", is_returning),
                )
                if v is not None
            }
            valid_until = None if valid_for_s is None else now + timedelta(seconds=valid_for_s)
            self._items[i] = replace(
                old, **changes, last_reported=now, valid_until=valid_until, stale=False,
                realtime=True,
            )  # fmt: skip
            report.applied = 1
            self._recompute_expiry()
        return report

    def mark_unknown(self, source: str) -> UpdateReport:
        """Treat the live counts of every station of ``source`` as unknown (feed down).

        For a poller whose feed fails or is past its age limit: the counts are
        kept for display but marked stale, so plans offer these stations as
        "availability unknown" instead of trusting old numbers. The next
        successful update of the feed makes them fresh again. ``source`` is a
        station's ``source`` (``gbfs:<system>``, ``parkapi:<source>``).
        """
        report = UpdateReport()
        with self._lock:
            for i, st in enumerate(self._items):
                if st.source == source and st.realtime and not st.stale:
                    self._items[i] = replace(st, stale=True)
                    report.applied += 1
            self._recompute_expiry()
        if report.applied:
            logger.warning("%s: %d stations' availability now unknown", source, report.applied)
        return report

    def _recompute_expiry(self) -> None:
        times = [s.valid_until for s in self._items if s.valid_until is not None and not s.stale]
        self._next_expiry = min(times) if times else None


class ChargerStore(_Store[Charger]):
    """Charging locations of a region: radius lookup by connector and power, live EVSE status."""

    def nearby(
        self,
        lat: float,
        lon: float,
        radius_m: float,
        *,
        standards: str | Iterable[str] | None = None,
        min_power_kw: float = 0.0,
        available_only: bool = False,
        limit: int | None = None,
    ) -> list[Nearby[Charger]]:
        """Chargers within ``radius_m`` metres with a usable matching connector, nearest first.

        Parameters
        ----------
        lat, lon : float
            Query point (WGS84).
        radius_m : float
            Search radius (great-circle metres).
        standards, min_power_kw, available_only
            Which chargers to keep, as in :func:`charger_filter`.
        limit : int, optional
            At most this many results.
        """
        keep = charger_filter(standards, min_power_kw, available_only=available_only)
        return self._within(lat, lon, radius_m, keep, limit=limit, now=None)

    def mark_unknown(self, source: str) -> UpdateReport:
        """Treat the live EVSE statuses of every charger of ``source`` as unknown (feed down).

        Statuses are kept for display; plans offer these chargers as
        "availability unknown". A later status update or Locations document
        of the feed makes them fresh again. ``source`` is a charger's
        ``source`` (``ocpi:<country>*<party>``).
        """
        report = UpdateReport()
        with self._lock:
            for i, c in enumerate(self._items):
                if c.source == source and c.realtime and not c.stale:
                    self._items[i] = replace(c, stale=True)
                    report.applied += 1
        if report.applied:
            logger.warning("%s: %d chargers' availability now unknown", source, report.applied)
        return report

    def update_evse_status(
        self,
        charger_id: str,
        evse_uid: str,
        status: EvseStatus | str,
        *,
        last_updated: datetime | None = None,
    ) -> UpdateReport:
        """Set the status of one EVSE. Unknown ids and bad values are reported, not raised.

        An update older than the EVSE's current ``last_updated`` is rejected
        (OCPI messages can arrive out of order).
        """
        report = UpdateReport()
        try:
            new_status = EvseStatus(str(status).upper())
        except ValueError:
            report.rejected.append(f"{charger_id}/{evse_uid}: unknown status {status!r}")
            return report
        with self._lock:
            i = self._index_of.get(charger_id)
            charger = None if i is None else self._items[i]
            evse = None if charger is None else charger.evse(evse_uid)
            if i is None or charger is None or evse is None:
                report.unknown.append(f"{charger_id}/{evse_uid}")
                return report
            if _older(last_updated, evse.last_updated):
                report.rejected.append(f"{charger_id}/{evse_uid}: update older than current state")
                return report
            new_evse = replace(
                evse, status=new_status, last_updated=last_updated or evse.last_updated
            )
            evses = tuple(new_evse if e.uid == evse_uid else e for e in charger.evses)
            self._items[i] = replace(charger, evses=evses, realtime=True, stale=False)
            report.applied = 1
        return report

    def apply_evse_patch(
        self, country_code: str, party_id: str, location_id: str, evse_uid: str, body: Any
    ) -> UpdateReport:
        """Apply an OCPI 2.2.1 EVSE PATCH (receiver interface) to the store.

        A malformed body or unknown status is reported in ``rejected``.
        """
        charger_id = ocpi.charger_uid(country_code, party_id, location_id)
        try:
            patch = ocpi.parse_evse_patch(body, f"PATCH {charger_id}/{evse_uid}")
        except DataError as exc:
            return UpdateReport(rejected=[str(exc)])
        if patch.status is None:
            return UpdateReport(
                warnings=[f"{charger_id}/{evse_uid}: PATCH without status; nothing to do"]
            )
        return self.update_evse_status(
            charger_id, evse_uid, patch.status, last_updated=patch.last_updated
        )

    def apply_ocpi_locations(self, doc: Any, where: str = "OCPI Locations") -> UpdateReport:
        """Insert or replace whole locations from an OCPI Locations document (PUT-like).

        Raises
        ------
        DataError
            ``doc`` is not a Locations document (nothing is changed).
        """
        parsed = ocpi.parse_locations(doc, where)
        report = UpdateReport(warnings=parsed.warnings)
        report.applied = self.add(parsed.chargers)
        report.log(f"OCPI locations update {where}")
        return report


def station_filter(
    kinds: str | Iterable[str] | None = None,
    *,
    has_bikes: bool = False,
    has_free_space: bool = False,
    min_count: int = 1,
    ebike_charging: bool | None = None,
    include_unknown: bool = False,
) -> Callable[[Station], bool]:
    """A test for :meth:`StationStore.select`: which stations to keep.

    Parameters
    ----------
    kinds : StationKind or iterable, optional
        Keep only these kinds (any when None); names like ``"bike_box"`` work too.
    has_bikes : bool
        Keep only stations with at least ``min_count`` rentable bikes now
        (fresh live data, renting).
    has_free_space : bool
        Keep only stations with at least ``min_count`` free docks/boxes now.
    min_count : int
        Threshold for ``has_bikes`` / ``has_free_space``.
    ebike_charging : bool, optional
        Require (True) or exclude (False) e-bike charging; None = any.
    include_unknown : bool
        With ``has_bikes`` / ``has_free_space``: also keep stations whose
        availability is unknown (no live data, or stale), only dropping those
        known to have none (see :class:`~routing.stations.model.Availability`).

    Returns
    -------
    callable
        ``keep(station) -> bool``.
    """
    wanted = _kinds(kinds)
    ok = (
        (Availability.AVAILABLE, Availability.UNKNOWN)
        if include_unknown
        else (Availability.AVAILABLE,)
    )

    def keep(station: Station) -> bool:
        return (
            (wanted is None or station.kind in wanted)
            and (not has_bikes or station.bike_availability(min_count) in ok)
            and (not has_free_space or station.space_availability(min_count) in ok)
            and (ebike_charging is None or bool(station.ebike_charging) == ebike_charging)
        )

    return keep


def charger_filter(
    standards: str | Iterable[str] | None = None,
    min_power_kw: float = 0.0,
    *,
    available_only: bool = False,
) -> Callable[[Charger], bool]:
    """A test for :meth:`ChargerStore.select`: chargers with a usable matching connector.

    Parameters
    ----------
    standards : str or iterable of str, optional
        Accepted OCPI connector standards (e.g. ``IEC_62196_T2_COMBO``); any when None.
    min_power_kw : float
        Minimum power of the matching connector.
    available_only : bool
        Require an EVSE with live status ``AVAILABLE``; otherwise EVSEs with
        unknown status (register data) count, broken or removed ones never do.

    Returns
    -------
    callable
        ``keep(charger) -> bool``.
    """
    # Read an iterable of standards once here, not again for every charger.
    if isinstance(standards, str):
        standards = (standards,)
    wanted = None if standards is None else frozenset(standards)

    def keep(charger: Charger) -> bool:
        return bool(charger.usable_evses(wanted, min_power_kw, available_only=available_only))

    return keep


def _kinds(kinds: str | Iterable[str] | None) -> frozenset[StationKind] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        return frozenset({StationKind(kinds)})
    return frozenset(StationKind(k) for k in kinds)


def _older(new: datetime | None, current: datetime | None) -> bool:
    return new is not None and current is not None and new < current
