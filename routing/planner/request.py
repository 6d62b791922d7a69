"""A plan query: where, when, which modes, and the vehicle (validated on construction).

Everything a user can get wrong is checked here, before any search runs, and
reported as a :class:`~routing.errors.RequestError` that names the field and
the fix: unknown modes, coordinates that are not WGS84, origin equal to the
destination, battery values that cannot be (negative, above the capacity,
percentages over 100), naive or malformed times.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from routing.errors import RequestError
from routing.geo import haversine_m
from routing.stations.model import CONNECTOR_STANDARDS

#: Built-in modes. ``shuttle`` is served by a registered access/egress provider.
MODES = (
    "walk",  # on foot all the way
    "transit",  # walk + public transport
    "bike",  # own bike all the way
    "bike_ride",  # own bike to a bike box near a stop, then transit (or back home)
    "bike_share",  # walk to a station with bikes, ride, dock, walk
    "free_floating",  # walk to a free-floating e-scooter or bike, ride within its zones, park
    "car",  # drive all the way
    "ev",  # electric car, with charging stops when the battery cannot make it
    "ev_park_charge",  # electric car to a free charger near the destination, walk the rest
    "shuttle",  # on-demand shuttle legs to/from transit (needs a provider)
)
ALL_MODES = frozenset(MODES)
#: Modes that need a bike: never offered to wheelchair users.
BIKE_MODES = frozenset({"bike", "bike_ride", "bike_share", "free_floating"})
#: Closer than this, origin and destination are the same place.
SAME_PLACE_M = 10.0


def _point(name: str, value: object) -> tuple[float, float]:
    try:
        lat, lon = float(value[0]), float(value[1])  # type: ignore[index]
        if len(value) != 2:  # type: ignore[arg-type]
            raise TypeError
    except (TypeError, ValueError, IndexError, KeyError):
        raise RequestError(
            f"{name} must be a (lat, lon) pair in WGS84 degrees, got {value!r}"
        ) from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise RequestError(
            f"{name} ({lat}, {lon}) is not a WGS84 coordinate: need -90 <= lat <= 90 and "
            "-180 <= lon <= 180 (check the order: lat first)"
        )
    return lat, lon


def parse_modes(modes: str | object) -> frozenset[str]:
    """Parse ``"walk,transit"`` or an iterable of names; unknown names raise RequestError."""
    if isinstance(modes, str):
        names = [m.strip().lower() for m in modes.split(",") if m.strip()]
    else:
        try:
            names = [str(m).strip().lower() for m in modes]  # type: ignore[attr-defined]
        except TypeError:
            raise RequestError(f"modes must be a list of mode names, got {modes!r}") from None
    if not names:
        raise RequestError(f"no modes given; choose from: {', '.join(MODES)}")
    unknown = sorted(set(names) - ALL_MODES)
    if unknown:
        raise RequestError(
            f"unknown mode(s) {', '.join(map(repr, unknown))}; known modes: {', '.join(MODES)}"
        )
    return frozenset(names)


@dataclass(frozen=True)
class EvSpec:
    """An electric vehicle: battery, consumption and what it can plug into.

    Give the battery state as ``battery_kwh`` or ``battery_percent`` (not both).

    Attributes
    ----------
    capacity_kwh : float
        Usable battery capacity.
    consumption_kwh_per_km : float
        Average consumption while driving.
    battery_kwh, battery_percent : float, optional
        State of charge at departure.
    connectors : tuple of str
        OCPI connector standards the car accepts (Type 2 and CCS by default).
    max_ac_kw, max_dc_kw : float
        The car's charging power limits (on-board charger, DC limit).
    target_percent : float
        Charging stops charge up to this level (more only when the next leg needs it).
    reserve_percent : float
        Never plan to arrive anywhere with less than this.
    """

    capacity_kwh: float
    consumption_kwh_per_km: float = 0.18
    battery_kwh: float | None = None
    battery_percent: float | None = None
    connectors: tuple[str, ...] = ("IEC_62196_T2", "IEC_62196_T2_COMBO")
    max_ac_kw: float = 11.0
    max_dc_kw: float = 50.0
    target_percent: float = 80.0
    reserve_percent: float = 5.0

    def __post_init__(self) -> None:
        def positive(name: str, value: float, upper: float) -> None:
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value <= upper):
                raise RequestError(f"ev.{name} must be a number in (0, {upper}], got {value!r}")

        positive("capacity_kwh", self.capacity_kwh, 1000.0)
        positive("consumption_kwh_per_km", self.consumption_kwh_per_km, 2.0)
        positive("max_ac_kw", self.max_ac_kw, 1000.0)
        positive("max_dc_kw", self.max_dc_kw, 1000.0)
        if (self.battery_kwh is None) == (self.battery_percent is None):
            raise RequestError(
                "give the EV battery state as exactly one of ev.battery_kwh or ev.battery_percent"
            )
        if self.battery_kwh is not None:
            b = self.battery_kwh
            if not (
                isinstance(b, int | float) and math.isfinite(b) and 0 <= b <= self.capacity_kwh
            ):
                raise RequestError(
                    f"ev.battery_kwh {b!r} is impossible: it must lie between 0 and the "
                    f"capacity {self.capacity_kwh} kWh"
                )
        else:
            p = self.battery_percent
            if not (isinstance(p, int | float) and math.isfinite(p) and 0 <= p <= 100):
                raise RequestError(f"ev.battery_percent {p!r} is impossible: it must lie in 0..100")
        for name in ("target_percent", "reserve_percent"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and 0 <= v <= 100):
                raise RequestError(f"ev.{name} {v!r} must lie in 0..100")
        if self.reserve_percent >= self.target_percent:
            raise RequestError(
                f"ev.reserve_percent ({self.reserve_percent}) must be below ev.target_percent "
                f"({self.target_percent}), or no charge would ever be enough"
            )
        if not self.connectors:
            raise RequestError("ev.connectors is empty; name the plug standards the car accepts")
        bad = sorted(set(self.connectors) - CONNECTOR_STANDARDS)
        if bad:
            raise RequestError(
                f"ev.connectors has unknown standard(s) {', '.join(bad)}; use OCPI names such "
                "as IEC_62196_T2 (Type 2), IEC_62196_T2_COMBO (CCS), CHADEMO"
            )

    @property
    def initial_kwh(self) -> float:
        """Energy in the battery at departure."""
        if self.battery_kwh is not None:
            return float(self.battery_kwh)
        return float(self.battery_percent or 0.0) / 100.0 * self.capacity_kwh

    @property
    def reserve_kwh(self) -> float:
        """Energy that must always stay in the battery."""
        return self.reserve_percent / 100.0 * self.capacity_kwh

    @property
    def target_kwh(self) -> float:
        """Level a charging stop charges to (unless the next leg needs more)."""
        return self.target_percent / 100.0 * self.capacity_kwh


@dataclass(frozen=True)
class PlanRequest:
    """A validated multimodal plan query (depart-at, or arrive-by with ``arrive_by``).

    Attributes
    ----------
    origin, destination : (lat, lon)
        WGS84 degrees.
    depart_at : datetime
        Earliest departure; naive values are local time of ``timezone``. With
        ``arrive_by`` it is the latest arrival instead.
    modes : frozenset of str
        Modes to plan (see :data:`MODES`); a string ``"walk,transit"`` is accepted.
        Default: every built-in mode except ``shuttle`` (and the EV modes when
        no ``ev`` is given, the bike modes for ``wheelchair``).
    ev : EvSpec, optional
        Required for ``ev`` and ``ev_park_charge``.
    parked_bike_at : str, optional
        Id of the bike-box station where the traveller's own bike is parked
        (the way home of a bike+ride trip: transit to that box, cycle on).
    max_walk_s : float
        Longest walk to/from transit, a station or a charger.
    max_bike_s : float
        Longest ride to a bike box (bike+ride) and from it on the way home.
    max_direct_walk_s, max_direct_bike_s : float
        Longest walk / ride offered as a whole trip.
    max_transfers : int
        Most changes between transit vehicles.
    availability_at : datetime, optional
        Moment for live availability (station counts, staleness); default now.
    timezone : str
        Zone of naive times.
    wheelchair : bool
        Step-free trips: every walk on the wheelchair network, only accessible
        stops and trips, shuttles with a wheelchair place, no bike modes.
        Segments, stops and trips whose accessibility is unknown are reported
        on the legs (``accessibility``).
    allow_unknown_access : bool
        With ``wheelchair``: also use stops and trips whose GTFS accessibility
        is unknown (reported per leg); False = only those marked accessible.
    arrive_by : bool
        ``depart_at`` is the latest arrival: itineraries arrive by then and
        leave as late as possible (the shuttle mode does not support it).
    window_s : float
        Depart-at only: also consider departures up to this many seconds later
        (transit modes run range RAPTOR); itineraries are then compared by
        departure (later is better) as well.
    """

    origin: tuple[float, float]
    destination: tuple[float, float]
    depart_at: dt.datetime
    # Given as a string, an iterable of names or None; always a frozenset after construction.
    modes: frozenset[str] = None  # type: ignore[assignment]
    ev: EvSpec | None = None
    parked_bike_at: str | None = None
    max_walk_s: float = 900.0
    max_bike_s: float = 1200.0
    max_direct_walk_s: float = 3600.0
    max_direct_bike_s: float = 3600.0
    max_transfers: int = 4
    availability_at: dt.datetime | None = None
    timezone: str = "Europe/Berlin"
    wheelchair: bool = False
    allow_unknown_access: bool = True
    arrive_by: bool = False
    window_s: float = 0.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "origin", _point("origin", self.origin))
        set_(self, "destination", _point("destination", self.destination))
        for name in ("wheelchair", "allow_unknown_access", "arrive_by"):
            if not isinstance(getattr(self, name), bool):
                raise RequestError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.modes is None:  # everything that needs nothing more than the request holds
            default = (
                ALL_MODES
                - {"shuttle"}
                - (set() if self.ev is not None else {"ev", "ev_park_charge"})
                - (BIKE_MODES if self.wheelchair else set())
            )
            set_(self, "modes", frozenset(default))
        else:
            set_(self, "modes", parse_modes(self.modes))
        try:
            zone = ZoneInfo(self.timezone)
        except Exception:
            raise RequestError(f"unknown timezone {self.timezone!r}; use an IANA name") from None
        set_(self, "depart_at", _time("depart_at", self.depart_at, zone))
        if self.availability_at is not None:
            set_(self, "availability_at", _time("availability_at", self.availability_at, zone))
        gap = float(haversine_m(*self.origin, *self.destination))
        if gap < SAME_PLACE_M:
            raise RequestError(
                f"origin and destination are the same place ({gap:.1f} m apart); "
                "give two different points"
            )
        for name in ("max_walk_s", "max_bike_s", "max_direct_walk_s", "max_direct_bike_s"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and 0 < v <= 6 * 3600):
                raise RequestError(f"{name} must be seconds in (0, 21600], got {v!r}")
        w = self.window_s
        if not (isinstance(w, int | float) and math.isfinite(w) and 0 <= w <= 6 * 3600):
            raise RequestError(f"window_s must be seconds in [0, 21600], got {w!r}")
        if self.arrive_by and w > 0:
            raise RequestError(
                "window_s applies to depart-at queries; drop it or set arrive_by=False"
            )
        if not (isinstance(self.max_transfers, int) and 0 <= self.max_transfers <= 10):
            raise RequestError(
                f"max_transfers must be an integer 0..10, got {self.max_transfers!r}"
            )
        needs_ev = self.modes & {"ev", "ev_park_charge"}
        if needs_ev and self.ev is None:
            raise RequestError(
                f"mode(s) {', '.join(sorted(needs_ev))} need the vehicle: pass ev=EvSpec("
                "capacity_kwh=..., battery_percent=..., consumption_kwh_per_km=...)"
            )
        if self.ev is not None and not isinstance(self.ev, EvSpec):
            raise RequestError(f"ev must be an EvSpec, got {type(self.ev).__name__}")
        if self.parked_bike_at is not None and not str(self.parked_bike_at).strip():
            raise RequestError("parked_bike_at is empty; give the bike-box station id or omit it")

    @property
    def at_unix(self) -> float:
        """Unix seconds of ``depart_at`` (the departure, or the arrival deadline)."""
        return self.depart_at.timestamp()


def _time(name: str, value: object, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise RequestError(
                f"{name} {value!r} is not an ISO 8601 time like 2022-09-14T08:00"
            ) from None
    if not isinstance(value, dt.datetime):
        raise RequestError(f"{name} must be a datetime or ISO 8601 string, got {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)
