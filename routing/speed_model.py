"""Every parameter of the driving model, in one place, each with its source.

Two things decide how long a motor vehicle takes on real streets:

* the **speed on a way**: ``maxspeed`` is a legal limit, not the speed driven;
  the driven speed is the limit times a realism factor, or, where no limit is
  tagged, a per-class typical speed; surfaces, track types and service roads
  cap it;
* the **cost of a turn** at a junction: a sigmoid of the turn angle that makes
  turns across oncoming traffic (left, in right-hand traffic) dearer, a large
  penalty for U-turns (allowed only where nothing else is), and delays at
  traffic signals, stop signs, give-way signs, level crossings and where a
  minor road meets a larger one.

The defaults follow OSRM's ``car.lua`` (v5/v6, the profile the city's peers
and OpenStreetMap's own routing use) wherever it has a value, because our
calibration target is that profile on the same map; German legal limits
(StVO §3: 50 km/h in towns, 100 km/h outside, ``DE:*`` implicit values) fill
what OSRM leaves to the tag. ``benchmarks/road.py`` measures the result
against OSRM and reports the agreement.

The **shuttle** is GVB's on-demand minibus, a public service vehicle (PSV):
same speeds, but it may use bus-only streets, bus gates and ways opened with
``psv``/``bus`` access tags, and turn restrictions with ``except=psv``/``bus``
do not bind it. A minibus is a little slower through turns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _frozen(mapping: dict[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


#: Typical driven speed (km/h) per highway class where no ``maxspeed`` is tagged.
#: Source: OSRM ``profiles/car.lua`` ``speeds.highway`` (v5.20+): these already
#: include the slowdown of real traffic, so the realism factor is not applied to them.
HIGHWAY_KMH = _frozen(
    {
        "motorway": 90.0,
        "motorway_link": 45.0,
        "trunk": 85.0,
        "trunk_link": 40.0,
        "primary": 65.0,
        "primary_link": 30.0,
        "secondary": 55.0,
        "secondary_link": 25.0,
        "tertiary": 40.0,
        "tertiary_link": 20.0,
        "unclassified": 25.0,
        "residential": 25.0,
        "living_street": 10.0,
        "service": 15.0,
        "road": 25.0,
        # bus-only roads (highway=busway, OSM since 2022): as a residential street
        "busway": 25.0,
    }
)

#: ``service=*`` subtypes driven at walking pace. Source: OSRM car.lua ``service_speeds``.
SERVICE_KMH = _frozen(
    {"alley": 5.0, "parking": 5.0, "parking_aisle": 5.0, "driveway": 5.0, "drive-through": 5.0}
)

#: Speed caps (km/h) by ``surface``. Source: OSRM car.lua ``surface_speeds``.
SURFACE_MAX_KMH = _frozen(
    {
        "cement": 80.0,
        "compacted": 80.0,
        "fine_gravel": 80.0,
        "paving_stones": 60.0,
        "metal": 60.0,
        "bricks": 60.0,
        "grass": 40.0,
        "wood": 40.0,
        "sett": 40.0,
        "grass_paver": 40.0,
        "gravel": 40.0,
        "unpaved": 40.0,
        "ground": 40.0,
        "dirt": 40.0,
        "pebblestone": 40.0,
        "tartan": 40.0,
        "cobblestone": 30.0,
        "clay": 30.0,
        "earth": 20.0,
        "stone": 20.0,
        "rocky": 20.0,
        "sand": 20.0,
        "mud": 10.0,
    }
)

#: Speed caps (km/h) by ``tracktype``. Source: OSRM car.lua ``tracktype_speeds``.
TRACKTYPE_MAX_KMH = _frozen(
    {"grade1": 60.0, "grade2": 40.0, "grade3": 30.0, "grade4": 25.0, "grade5": 20.0}
)

#: Speed caps (km/h) by ``smoothness``. Source: OSRM car.lua ``smoothness_speeds``.
SMOOTHNESS_MAX_KMH = _frozen({"intermediate": 80.0, "bad": 40.0, "very_bad": 10.0, "horrible": 5.0})

#: Legal default limits (km/h) of ``zone:traffic`` / ``source:maxspeed`` values where
#: no ``maxspeed`` is tagged. Source: StVO §3 (3) (Germany).
ZONE_TRAFFIC_KMH = _frozen({"de:urban": 50.0, "de:rural": 100.0, "de:motorway": 130.0})

#: Barriers a motor vehicle passes (others block unless an access tag opens them).
#: Source: OSRM car.lua ``barrier_whitelist``.
PASSABLE_BARRIERS = frozenset(
    {
        "cattle_grid",
        "border_control",
        "toll_booth",
        "sally_port",
        "gate",
        "lift_gate",
        "no",
        "entrance",
        "height_restrictor",
        "arch",
    }
)


@dataclass(frozen=True)
class MotorModel:
    """How one kind of motor vehicle uses the road network (car or shuttle).

    Attributes
    ----------
    name : str
        Profile name (``car`` or ``shuttle``).
    access_keys : tuple of str
        Access tags from most to least specific (the first one present decides).
    highways : frozenset of str
        Highway classes the vehicle may use by default.
    maxspeed_factor : float
        Driven speed / tagged ``maxspeed``. Source: OSRM car.lua ``speed_reduction = 0.8``.
    highway_kmh, service_kmh, surface_max_kmh, tracktype_max_kmh, smoothness_max_kmh
        See the module-level tables.
    turn_penalty_s : float
        Largest cost of a turn (a sharp turn across traffic). Source: OSRM car.lua 7.5 s.
    turn_bias : float
        > 1 makes turns across oncoming traffic (left, right-hand traffic) dearer
        than turns to the kerb side. Source: OSRM car.lua 1.075.
    u_turn_s : float
        Added to a U-turn, which is only allowed where the road ends or every other
        exit is forbidden. Source: OSRM car.lua ``u_turn_penalty = 20``.
    signal_s : float
        Mean delay at a traffic signal. Source: OSRM car.lua ``traffic_light_penalty = 2``.
    stop_s, give_way_s : float
        Delay at a stop / give-way sign (a full stop, a slowdown). Our estimate:
        OSRM 5.x ignores these signs; a stop from 30 km/h costs about 3 s more
        than rolling through, a give-way about 1 s.
    level_crossing_s : float
        Slowing for a railway or tram level crossing. Our estimate (1 s).
    minor_crossing_s : float
        Yielding when a smaller road meets a larger one without signals (the
        larger road has priority in practice). Our estimate (1 s).
    restriction_keys : tuple of str
        ``restriction:<mode>`` suffixes that bind this vehicle (most specific first);
        the plain ``restriction`` key binds every vehicle.
    exceptions : frozenset of str
        ``except=`` values that exempt this vehicle from a restriction.
    """

    name: str
    access_keys: tuple[str, ...]
    highways: frozenset[str]
    maxspeed_factor: float = 0.8
    highway_kmh: Mapping[str, float] = field(default_factory=lambda: HIGHWAY_KMH)
    service_kmh: Mapping[str, float] = field(default_factory=lambda: SERVICE_KMH)
    surface_max_kmh: Mapping[str, float] = field(default_factory=lambda: SURFACE_MAX_KMH)
    tracktype_max_kmh: Mapping[str, float] = field(default_factory=lambda: TRACKTYPE_MAX_KMH)
    smoothness_max_kmh: Mapping[str, float] = field(default_factory=lambda: SMOOTHNESS_MAX_KMH)
    turn_penalty_s: float = 7.5
    turn_bias: float = 1.075
    u_turn_s: float = 20.0
    signal_s: float = 2.0
    stop_s: float = 3.0
    give_way_s: float = 1.0
    level_crossing_s: float = 1.0
    minor_crossing_s: float = 1.0
    restriction_keys: tuple[str, ...] = ("motorcar", "motor_vehicle", "vehicle")
    exceptions: frozenset[str] = frozenset({"motorcar", "motor_vehicle", "vehicle"})


_MOTOR_HIGHWAYS = frozenset(HIGHWAY_KMH) - {"busway"}

CAR = MotorModel(
    name="car",
    access_keys=("motorcar", "motor_vehicle", "vehicle", "access"),
    highways=_MOTOR_HIGHWAYS,
)
"""The private car (OSRM car profile parameters)."""

SHUTTLE = MotorModel(
    name="shuttle",
    # A minibus is a bus: bus > psv > motor_vehicle > vehicle > access.
    access_keys=("bus", "psv", "motor_vehicle", "vehicle", "access"),
    highways=_MOTOR_HIGHWAYS | {"busway"},
    # A minibus corners more slowly than a car (our estimate: +20 % on the turn cost).
    turn_penalty_s=9.0,
    restriction_keys=("bus", "psv", "motor_vehicle", "vehicle"),
    exceptions=frozenset({"psv", "bus", "motor_vehicle", "vehicle"}),
)
"""GVB's on-demand minibus: a PSV that may use bus streets and bus gates."""


@dataclass(frozen=True)
class BikeTurns:
    """Turn rules of the bicycle profile.

    Cyclists honour the turn restrictions that bind them (plain ``restriction``
    and ``restriction:bicycle`` unless ``except`` names ``bicycle``). They may
    turn round anywhere (getting off and turning costs little), and no
    angle-dependent turn cost is modelled: the bike speeds of the profile are
    already conservative averages.
    """

    name: str = "bike"
    u_turn_s: float = 5.0
    signal_s: float = 0.0
    restriction_keys: tuple[str, ...] = ("bicycle", "vehicle")
    exceptions: frozenset[str] = frozenset({"bicycle", "vehicle"})


BIKE_TURNS = BikeTurns()

#: Profiles routed on a turn-expanded graph, and their turn rules.
TURN_PROFILES: dict[str, MotorModel | BikeTurns] = {
    "car": CAR,
    "shuttle": SHUTTLE,
    "bike": BIKE_TURNS,
}


def motor_model(name: str) -> MotorModel:
    """The :class:`MotorModel` of ``car`` or ``shuttle`` (``KeyError`` otherwise)."""
    return {"car": CAR, "shuttle": SHUTTLE}[name]


__all__ = [
    "BIKE_TURNS",
    "CAR",
    "HIGHWAY_KMH",
    "SHUTTLE",
    "TURN_PROFILES",
    "BikeTurns",
    "MotorModel",
    "motor_model",
]
