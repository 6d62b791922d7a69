"""Normalised models for bike stations and charging points.

Every source (GBFS, ParkAPI, OSM, BNetzA, OCPI) is mapped onto these few frozen
dataclasses, so the planner and the API never see a source format. Ids are
namespaced by source (``gbfs:<system>:<station>``, ``parkapi:<source>:<uid>``,
``osm:n123``, ``bnetza:<hash>``, ``ocpi:<country>*<party>:<location>``) so two
feeds can never collide.

Live data is replaced, never mutated: the store swaps in a new object built
with :func:`dataclasses.replace`, so a reader holding an old object keeps a
consistent snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)


class Availability(StrEnum):
    """What is known about a station's bikes or spaces (or a charger's points) right now.

    ``unknown`` is not ``none``: a site without live data (OSM parking, a box
    whose feed is down or stale, a charger from the register) may well have
    room, so the planner still offers it, ranked below sites known to have room,
    and says so on the leg.
    """

    AVAILABLE = "available"  # fresh live data shows at least what is needed
    UNKNOWN = "unknown"  # no live data, or it is stale
    NONE = "none"  # fresh live data shows none (or the site is closed)


class StationKind(StrEnum):
    """What a bike station offers."""

    BIKE_SHARE = "bike_share"  # rent a bike here, return it at a dock
    BIKE_BOX = "bike_box"  # lockable box/locker for your own bike (eBox, Fahrradbox)
    BIKE_PARKING = "bike_parking"  # open racks, stands, sheds


@dataclass(frozen=True)
class Station:
    """A bike-share station, bike box site or bike parking.

    Attributes
    ----------
    id : str
        Source-namespaced id, unique in a store.
    name : str
        Display name (falls back to the id when the source has none).
    lat, lon : float
        WGS84 position.
    kind : StationKind
        Bike share, bike box or plain bike parking.
    source : str
        Where the record came from (``gbfs:<system>``, ``parkapi:<source>``, ``osm``).
    capacity : int or None
        Docks / boxes / parking spaces in total, when known.
    bikes_available : int or None
        Rentable bikes now (bike share only).
    docks_available : int or None
        Free docks (bike share) or free boxes (bike box) now.
    ebike_charging : bool or None
        Whether e-bikes can be charged here (charging dock or box with socket).
    charging_capacity : int or None
        How many docks/boxes have charging, when the source says so.
    cargo_capacity : int or None
        Docks/boxes that take a cargo bike.
    vehicle_types_available : dict[str, int]
        Available vehicles per GBFS vehicle type id.
    is_renting, is_returning : bool or None
        Whether bikes may be taken / returned now (None = unknown).
    last_reported : datetime or None
        When the availability was last reported (timezone-aware UTC).
    valid_until : datetime or None
        After this moment the availability is stale (feed ``last_updated`` +
        ``ttl`` + grace); None for data without a time limit.
    stale : bool
        The availability is out of date: counts are kept for display but every
        availability test treats the station as unknown.
    realtime : bool
        Whether the source publishes live availability at all.
    covered, fee : bool or None
        Roofed / paid, when known.
    operator : str or None
        Operating organisation.
    """

    id: str
    name: str
    lat: float
    lon: float
    kind: StationKind
    source: str
    capacity: int | None = None
    bikes_available: int | None = None
    docks_available: int | None = None
    ebike_charging: bool | None = None
    charging_capacity: int | None = None
    cargo_capacity: int | None = None
    vehicle_types_available: dict[str, int] = field(default_factory=dict)
    is_renting: bool | None = None
    is_returning: bool | None = None
    last_reported: datetime | None = None
    valid_until: datetime | None = None
    stale: bool = False
    realtime: bool = False
    covered: bool | None = None
    fee: bool | None = None
    operator: str | None = None

    @property
    def boxes_available(self) -> int | None:
        """Free boxes of a bike-box site (None for other kinds or when unknown)."""
        return self.docks_available if self.kind is StationKind.BIKE_BOX else None

    @property
    def availability_known(self) -> bool:
        """Whether live counts exist and are fresh."""
        return self.realtime and not self.stale

    def has_bikes(self, n: int = 1) -> bool:
        """Whether at least ``n`` bikes can be rented now (unknown counts as no)."""
        return (
            self.availability_known
            and self.is_renting is not False
            and (self.bikes_available or 0) >= n
        )

    def has_free_space(self, n: int = 1) -> bool:
        """Whether at least ``n`` docks/boxes are free now (unknown counts as no)."""
        return (
            self.availability_known
            and self.is_returning is not False
            and (self.docks_available or 0) >= n
        )

    def expired(self, now: datetime) -> bool:
        """Whether the availability has gone stale by ``now``."""
        return self.valid_until is not None and now > self.valid_until

    def bike_availability(self, n: int = 1) -> Availability:
        """Whether ``n`` bikes can be rented here now: available, none, or unknown."""
        if not self.availability_known:
            return Availability.UNKNOWN
        return Availability.AVAILABLE if self.has_bikes(n) else Availability.NONE

    def space_availability(self, n: int = 1) -> Availability:
        """Whether ``n`` docks/boxes/spaces are free now: available, none, or unknown.

        Without fresh live data the answer is unknown, unless the site has no
        room at all (a published capacity of 0).
        """
        if self.availability_known:
            return Availability.AVAILABLE if self.has_free_space(n) else Availability.NONE
        if self.capacity is not None and self.capacity < n:
            return Availability.NONE
        return Availability.UNKNOWN


# OCPI 2.2.1 ConnectorType values (section 16.4), the vocabulary used everywhere.
CHADEMO = "CHADEMO"
DOMESTIC_F = "DOMESTIC_F"  # Schuko
IEC_62196_T1 = "IEC_62196_T1"
IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
IEC_62196_T2 = "IEC_62196_T2"
IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"  # CCS
IEC_60309_2_SINGLE_16 = "IEC_60309_2_single_16"  # CEE blue, 3 pins
IEC_60309_2_THREE_16 = "IEC_60309_2_three_16"  # CEE red, 5 pins
IEC_60309_2_THREE_32 = "IEC_60309_2_three_32"
IEC_60309_2_THREE_64 = "IEC_60309_2_three_64"
CONNECTOR_STANDARDS = frozenset(
    {
        "CHADEMO", "CHAOJI",
        *(f"DOMESTIC_{c}" for c in "ABCDEFGHIJKLMNOP"),
        "GBT_AC", "GBT_DC",
        "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
        "IEC_60309_2_three_64",
        "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2", "IEC_62196_T2_COMBO",
        "IEC_62196_T3A", "IEC_62196_T3C",
        "NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50", "NEMA_14_30",
        "NEMA_14_50",
        "PANTOGRAPH_BOTTOM_UP", "PANTOGRAPH_TOP_DOWN",
        "TESLA_R", "TESLA_S",
    }
)  # fmt: skip
POWER_TYPES = frozenset({"AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"})
CONNECTOR_FORMATS = frozenset({"SOCKET", "CABLE"})


class EvseStatus(StrEnum):
    """OCPI 2.2.1 EVSE status."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


# Statuses under which an EVSE cannot be used now or later today.
UNUSABLE_STATUSES = frozenset(
    {EvseStatus.INOPERATIVE, EvseStatus.OUTOFORDER, EvseStatus.PLANNED, EvseStatus.REMOVED}
)


@dataclass(frozen=True)
class Connector:
    """One plug or socket of an EVSE.

    Attributes
    ----------
    id : str
        Connector id within its EVSE.
    standard : str
        OCPI ConnectorType (``IEC_62196_T2``, ``IEC_62196_T2_COMBO``, ``CHADEMO``, ...).
    format : str or None
        ``SOCKET`` (bring a cable) or ``CABLE`` (attached).
    power_type : str or None
        ``AC_1_PHASE``, ``AC_3_PHASE``, ``DC``, ...
    power_kw : float or None
        Maximum power in kW.
    max_voltage, max_amperage : int or None
        As published (OCPI); None for BNetzA.
    """

    id: str
    standard: str
    format: str | None = None
    power_type: str | None = None
    power_kw: float | None = None
    max_voltage: int | None = None
    max_amperage: int | None = None

    @property
    def is_dc(self) -> bool:
        """Whether this is a DC (fast) connector."""
        return self.power_type == "DC"


@dataclass(frozen=True)
class Evse:
    """One charging point (EVSE): it charges one vehicle at a time.

    Attributes
    ----------
    uid : str
        Unique id within the location (the OCPI ``uid``; PATCHes address it).
    status : EvseStatus
        Live status; ``UNKNOWN`` when the source has none (BNetzA).
    connectors : tuple[Connector, ...]
        Plugs of this EVSE (only one can be used at a time).
    evse_id : str or None
        eMI3 EVSE id (``DE*ABC*E123``), when published.
    last_updated : datetime or None
        When the status last changed.
    """

    uid: str
    status: EvseStatus
    connectors: tuple[Connector, ...]
    evse_id: str | None = None
    last_updated: datetime | None = None

    @property
    def max_power_kw(self) -> float:
        """Highest connector power (0 when unknown)."""
        return max((c.power_kw or 0.0 for c in self.connectors), default=0.0)

    def matches(self, standards: frozenset[str] | None, min_power_kw: float) -> bool:
        """Whether one connector has an accepted standard and at least ``min_power_kw``."""
        return any(
            (standards is None or c.standard in standards) and (c.power_kw or 0.0) >= min_power_kw
            for c in self.connectors
        )


@dataclass(frozen=True)
class Charger:
    """A charging location: one site with one or more EVSEs.

    Attributes
    ----------
    id : str
        Source-namespaced id.
    name : str
        Display name (OCPI name, else the address).
    address, postal_code, city : str
        Postal address as published.
    operator : str or None
        Charge point operator.
    lat, lon : float
        WGS84 position.
    evses : tuple[Evse, ...]
        Charging points.
    source : str
        ``bnetza`` or ``ocpi:<country>*<party>``.
    fast : bool
        Has a DC connector or the register calls it a fast charger.
    commissioned : str or None
        Commissioning date (ISO ``YYYY-MM-DD``), BNetzA only.
    realtime : bool
        Whether EVSE statuses are live (OCPI) rather than unknown (BNetzA).
    last_updated : datetime or None
        Last change of the location.
    stale : bool
        The live feed is down or out of date: statuses are kept for display,
        but every availability test treats them as unknown.
    """

    id: str
    name: str
    address: str
    postal_code: str
    city: str
    operator: str | None
    lat: float
    lon: float
    evses: tuple[Evse, ...]
    source: str
    fast: bool = False
    commissioned: str | None = None
    realtime: bool = False
    last_updated: datetime | None = None
    stale: bool = False

    @property
    def connectors(self) -> tuple[Connector, ...]:
        """All connectors of all EVSEs."""
        return tuple(c for e in self.evses for c in e.connectors)

    @property
    def standards(self) -> frozenset[str]:
        """Connector standards offered here."""
        return frozenset(c.standard for c in self.connectors)

    @property
    def max_power_kw(self) -> float:
        """Highest connector power at this site (0 when unknown)."""
        return max((e.max_power_kw for e in self.evses), default=0.0)

    def evse_availability(self, evse: Evse) -> Availability:
        """Whether ``evse`` can be used now: available (live), unknown, or none.

        Register data (no live status), live status ``UNKNOWN`` and any
        status of a stale feed (except removed / planned) are unknown; out of
        order, removed or planned are none, and so are charging, blocked or
        reserved points of a live feed.
        """
        if self.stale:  # an old status says little, except that a point is gone for good
            gone = evse.status in (EvseStatus.REMOVED, EvseStatus.PLANNED)
            return Availability.NONE if gone else Availability.UNKNOWN
        if evse.status in UNUSABLE_STATUSES:
            return Availability.NONE
        if evse.status is EvseStatus.AVAILABLE:
            return Availability.AVAILABLE if self.realtime else Availability.UNKNOWN
        if evse.status is EvseStatus.UNKNOWN or not self.realtime:
            return Availability.UNKNOWN
        return Availability.NONE

    def availability(
        self, standards: str | Iterable[str] | None = None, min_power_kw: float = 0.0
    ) -> Availability:
        """Best availability over the EVSEs with a matching connector."""
        if isinstance(standards, str):
            standards = (standards,)
        wanted = None if standards is None else frozenset(standards)
        found = {self.evse_availability(e) for e in self.evses if e.matches(wanted, min_power_kw)}
        for level in (Availability.AVAILABLE, Availability.UNKNOWN):
            if level in found:
                return level
        return Availability.NONE

    def evse(self, uid: str) -> Evse | None:
        """Return the EVSE with ``uid`` or None."""
        return next((e for e in self.evses if e.uid == uid), None)

    def usable_evses(
        self,
        standards: str | Iterable[str] | None = None,
        min_power_kw: float = 0.0,
        *,
        available_only: bool = False,
    ) -> list[Evse]:
        """EVSEs with a matching connector that can be used.

        Parameters
        ----------
        standards : str or iterable of str, optional
            Accepted connector standard(s) (any when None).
        min_power_kw : float
            Minimum connector power.
        available_only : bool
            Require status ``AVAILABLE`` (live data). Otherwise any EVSE that is
            not out of order, removed or planned counts, including ``UNKNOWN``
            (static register data).
        """
        if isinstance(standards, str):
            standards = (standards,)
        wanted = None if standards is None else frozenset(standards)
        out = []
        for e in self.evses:
            if available_only and e.status is not EvseStatus.AVAILABLE:
                continue
            if e.status in UNUSABLE_STATUSES:
                continue
            if e.matches(wanted, min_power_kw):
                out.append(e)
        return out


def parse_timestamp(value: Any) -> datetime | None:
    """Parse a POSIX timestamp (GBFS v1/v2) or RFC 3339 string (GBFS v3, OCPI) to UTC.

    Returns None when ``value`` is missing or cannot be read; naive RFC 3339
    strings are taken as UTC (OCPI requires UTC).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return parse_timestamp(int(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    return None


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime:
    """``moment`` as aware UTC (now when None; naive values are taken as UTC)."""
    if moment is None:
        return utc_now()
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class WarningLog:
    """Collects data warnings for a report and logs them without flooding the log.

    The first ``log_limit`` warnings are logged one by one; the rest are only
    counted and summed up by :meth:`summary`. All are kept in :attr:`messages`.
    """

    def __init__(self, log: logging.Logger | None = None, log_limit: int = 20) -> None:
        self.messages: list[str] = []
        self._log = log or logger
        self._limit = log_limit

    def __call__(self, message: str) -> None:
        """Record (and maybe log) one warning."""
        self.messages.append(message)
        if len(self.messages) <= self._limit:
            self._log.warning(message)

    def extend(self, messages: Iterable[str]) -> None:
        """Record warnings that were already logged elsewhere."""
        self.messages.extend(messages)

    def summary(self, what: str) -> None:
        """Log how many warnings were not logged individually."""
        hidden = len(self.messages) - self._limit
        if hidden > 0:
            self._log.warning("%s: %d more warnings not shown", what, hidden)

    def __len__(self) -> int:
        return len(self.messages)


def valid_position(lat: Any, lon: Any) -> tuple[float, float] | None:
    """Return ``(lat, lon)`` as floats when they form a usable WGS84 position, else None.

    Rejects missing or non-numeric values, values out of range and the (0, 0)
    "null island" that broken exports produce.
    """
    try:
        flat, flon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    if not (-90.0 <= flat <= 90.0 and -180.0 <= flon <= 180.0):
        return None
    if flat != flat or flon != flon or (flat == 0.0 and flon == 0.0):  # NaN or null island
        return None
    return flat, flon
