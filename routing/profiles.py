"""Travel profiles: which OSM ways a walker, cyclist or car may use, in which direction, how fast.

A profile turns the tags of one OSM way into two speeds in km/h, forward (in
the way's node order) and backward; 0 means "not allowed in that direction".
The rules follow common OSM routing practice (OSRM/RoutingKit profiles) with
German defaults:

- highway types: each profile has a set of types it may use by default;
  explicit access tags can open (``bicycle=yes`` on a footway) or close them.
- access tags: the most specific tag that says something wins:
  walk ``foot > access``; bike ``bicycle > vehicle > access``; car
  ``motorcar > motor_vehicle > vehicle > access``. ``no``, ``private``,
  ``agricultural``, ``forestry``, ``delivery`` and the like close the way.
- oneway: ``yes/true/1`` and ``-1/reverse``; implied on ``highway=motorway``
  and ``junction=roundabout/circular``; ``reversible``/``alternating`` ways are
  closed to vehicles. Cyclists may ride against it with ``oneway:bicycle=no``
  or ``cycleway*=opposite*``; walkers ignore oneway.
- speeds: walk 4.8 km/h, bike 15 km/h (pushing at walking pace on steps and
  ``bicycle=dismount``); car and shuttle (GVB's minibus, a PSV) from the
  driving model of :mod:`routing.speed_model` (tagged limits times a realism
  factor, typical speeds per road class, surface caps).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from routing.speed_model import CAR, ZONE_TRAFFIC_KMH, MotorModel, motor_model

WALK_KMH = 4.8
BIKE_KMH = 15.0
PUSH_KMH = 4.8

# Tags the importer needs to read; everything else is ignored.
RELEVANT_KEYS = frozenset(
    {
        "highway",
        "access",
        "foot",
        "bicycle",
        "vehicle",
        "motor_vehicle",
        "motorcar",
        "oneway",
        "oneway:bicycle",
        "junction",
        "cycleway",
        "cycleway:left",
        "cycleway:right",
        "cycleway:both",
        "maxspeed",
        "maxspeed:forward",
        "maxspeed:backward",
        "area",
        "motorroad",
        # motor vehicle speed model (routing.speed_model)
        "maxspeed:conditional",
        "zone:traffic",
        "source:maxspeed",
        "service",
        "tracktype",
        "psv",
        "bus",
        "impassable",
        # wheelchair profile
        "wheelchair",
        "ramp:wheelchair",
        "kerb",
        "incline",
        "surface",
        "smoothness",
    }
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ALLOW = _words(
    "yes designated permissive destination customers official discouraged dismount permit"
)
_DENY = _words(
    "no private agricultural forestry emergency psv bus military delivery use_sidepath "
    "restricted agricultural;forestry forestry;agricultural"
)

WALK_HIGHWAYS = _words(
    "footway pedestrian path steps living_street residential service unclassified tertiary "
    "tertiary_link secondary secondary_link primary primary_link trunk trunk_link track road "
    "platform corridor"
)
BIKE_HIGHWAYS = _words(
    "cycleway path track living_street residential service unclassified tertiary tertiary_link "
    "secondary secondary_link primary primary_link road"
)
# Highway types a profile never uses by default but may use when a tag allows it.
WALK_OPTIONAL = frozenset({"cycleway", "bridleway"})
BIKE_OPTIONAL = _words("footway pedestrian steps bridleway trunk trunk_link platform corridor")

# Highway types open to motor vehicles (their speeds live in routing.speed_model).
CAR_HIGHWAYS = CAR.highways
NO_LIMIT_KMH = 130.0  # German advisory speed where maxspeed=none

# Implicit ("source") maxspeed values, keyed lower-case.
_IMPLICIT_KMH = {
    "de:urban": 50.0,
    "de:rural": 100.0,
    "de:living_street": 7.0,
    "de:bicycle_road": 30.0,
    "de:zone30": 30.0,
    "de:zone:30": 30.0,
    "de:zone20": 20.0,
    "de:zone:20": 20.0,
    "de:zone10": 10.0,
    "de:zone:10": 10.0,
    "de:motorway": NO_LIMIT_KMH,
    "de:trunk": NO_LIMIT_KMH,
    "at:urban": 50.0,
    "at:rural": 100.0,
    "at:motorway": 130.0,
    "ch:urban": 50.0,
    "ch:rural": 80.0,
    "ch:motorway": 120.0,
    "fr:urban": 50.0,
    "fr:rural": 80.0,
    "walk": 7.0,
}
_NUMBER_UNIT = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")


def parse_maxspeed(value: str | None, *, highway: str = "") -> float | None:
    """Parse an OSM ``maxspeed`` value to km/h, or return ``None`` if unusable.

    Understands plain numbers (``"50"``), units (``"50 mph"``, ``"30 km/h"``,
    ``"10 knots"``), German and neighbouring implicit values (``"DE:urban"`` = 50,
    ``"DE:rural"`` = 100, ``"DE:zone30"``), ``"walk"`` (7 km/h) and ``"none"``
    (no limit: 130 km/h on motorways and trunks, else the highway default).
    Of several values separated by ``;`` the lowest is used.
    """
    if value is None:
        return None
    speeds = []
    for part in value.split(";"):
        text = part.strip().lower()
        if not text:
            continue
        if text in ("none", "signals", "variable"):
            if highway in ("motorway", "trunk"):
                speeds.append(NO_LIMIT_KMH)
            continue
        if text in _IMPLICIT_KMH:
            speeds.append(_IMPLICIT_KMH[text])
            continue
        match = _NUMBER_UNIT.match(text)
        if match is None:
            continue
        number = float(match.group(1).replace(",", "."))
        unit = match.group(2)
        if unit == "mph":
            number *= 1.609344
        elif unit == "knots":
            number *= 1.852
        if number > 0.0:
            speeds.append(number)
    return min(speeds) if speeds else None


def _access(tags: Mapping[str, str], keys: tuple[str, ...]) -> bool | None:
    """Return the verdict of the most specific access tag in ``keys`` that has one."""
    for key in keys:
        value = tags.get(key)
        if value is None:
            continue
        value = value.strip().lower()
        if value in _DENY:
            return False
        if value in _ALLOW:
            return True
        parts = {p.strip() for p in value.split(";")}
        if parts and parts <= _DENY:
            return False
        if parts & _ALLOW:
            return True
    return None


def _oneway(tags: Mapping[str, str], key: str = "oneway") -> int | None:
    """Return 1 (forward only), -1 (backward only), 0 (both), 2 (closed) or None (untagged)."""
    value = tags.get(key)
    if value is None:
        return None
    value = value.strip().lower()
    if value in ("yes", "true", "1"):
        return 1
    if value in ("-1", "reverse"):
        return -1
    if value in ("no", "false", "0"):
        return 0
    if value in ("reversible", "alternating"):
        return 2
    return None


def _vehicle_oneway(tags: Mapping[str, str]) -> int:
    tagged = _oneway(tags)
    if tagged is not None:
        return tagged
    if tags.get("highway") == "motorway" or tags.get("junction") in ("roundabout", "circular"):
        return 1
    return 0


def _apply_oneway(direction: int, forward: float, backward: float) -> tuple[float, float]:
    if direction == 1:
        return forward, 0.0
    if direction == -1:
        return 0.0, backward
    if direction == 2:
        return 0.0, 0.0
    return forward, backward


@dataclass(frozen=True)
class Profile:
    """A travel mode; :meth:`speeds` maps way tags to (forward, backward) km/h."""

    name: str

    def speeds(self, tags: Mapping[str, str]) -> tuple[float, float]:
        """Return the forward and backward speed in km/h on a way (0 = not allowed).

        Parameters
        ----------
        tags : mapping of str to str
            The way's OSM tags (at least the keys in :data:`RELEVANT_KEYS`).
        """
        highway = tags.get("highway")
        if highway is None:
            return 0.0, 0.0
        if self.name == "walk":
            return _walk_speeds(tags, highway)
        if self.name == "bike":
            return _bike_speeds(tags, highway)
        if self.name in ("car", "shuttle"):
            return motor_speeds(tags, motor_model(self.name))
        if self.name == "wheelchair":
            return wheelchair_speeds(tags)
        raise ValueError(f"unknown profile {self.name!r}; use one of {', '.join(PROFILE_BY_NAME)}")


def _walk_speeds(tags: Mapping[str, str], highway: str) -> tuple[float, float]:
    default = highway in WALK_HIGHWAYS and tags.get("motorroad") != "yes"
    if not default and highway not in WALK_OPTIONAL and highway not in CAR_HIGHWAYS:
        return 0.0, 0.0
    verdict = _access(tags, ("foot", "access"))
    if verdict is False or (verdict is None and not default):
        return 0.0, 0.0
    return WALK_KMH, WALK_KMH


def _bike_speeds(tags: Mapping[str, str], highway: str) -> tuple[float, float]:
    if tags.get("area") == "yes":
        return 0.0, 0.0
    default = highway in BIKE_HIGHWAYS and tags.get("motorroad") != "yes"
    if not default and highway not in BIKE_OPTIONAL:
        return 0.0, 0.0
    verdict = _access(tags, ("bicycle", "vehicle", "access"))
    if verdict is False or (verdict is None and not default):
        return 0.0, 0.0
    pushing = highway == "steps" or (tags.get("bicycle") or "").strip().lower() == "dismount"
    speed = PUSH_KMH if pushing else BIKE_KMH
    direction = _oneway(tags, "oneway:bicycle")
    if direction is None:
        direction = _vehicle_oneway(tags)
        contraflow = any(
            (tags.get(k) or "").startswith("opposite")
            for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
        )
        if contraflow and direction in (1, -1):
            direction = 0
    return _apply_oneway(direction, speed, speed)


_CONDITION = re.compile(r"^\s*([^@]+?)\s*@\s*\(?(.*?)\)?\s*$")
_TIME_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
#: Daytime window (minutes after midnight) a time condition must touch to be
#: applied: the static graph models a weekday between 07:00 and 19:00.
_DAY_WINDOW = (7 * 60, 19 * 60)


def daytime_condition(condition: str) -> bool:
    """Whether an OSM condition (``Mo-Fr 07:00-19:00``) includes weekday daytime, 07-19 h.

    Time forms (``06:00-09:00,16:00-19:00``, with or without weekdays) are read;
    weekend- or holiday-only forms, night-only hours and non-time conditions
    (``wet``, ``weight>7.5``) give False.
    """
    text = condition.lower()
    ranges = _TIME_RANGE.findall(text)
    if not ranges:
        return False
    if any(day in text for day in ("sa", "su", "ph")) and "mo" not in text:
        return False
    for h1, m1, h2, m2 in ranges:
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        spans = [(start, end)] if start <= end else [(start, 1440), (0, end)]
        if any(a < _DAY_WINDOW[1] and b > _DAY_WINDOW[0] for a, b in spans):
            return True
    return False


def conditional_maxspeed(value: str | None, *, highway: str = "") -> float | None:
    """The ``maxspeed:conditional`` limit (km/h) in force on a weekday daytime, if any.

    ``"30 @ (Mo-Fr 07:00-17:00)"`` (school zones) applies; ``"30 @ (22:00-06:00)"``
    (night-time noise limits) and weather or vehicle conditions (``wet``,
    ``weight>7.5``) do not (:func:`daytime_condition`): the graph models
    daytime traffic. Of several applicable entries the lowest wins.
    """
    if not value:
        return None
    speeds = []
    for entry in value.split(";"):
        match = _CONDITION.match(entry)
        if match is None:
            continue
        limit = parse_maxspeed(match.group(1), highway=highway)
        if limit is not None and daytime_condition(match.group(2)):
            speeds.append(limit)
    return min(speeds) if speeds else None


def _capped(speed: float, tags: Mapping[str, str], model: MotorModel) -> float:
    """Apply the surface, track type and smoothness caps of ``model``."""
    for key, table in (
        ("surface", model.surface_max_kmh),
        ("tracktype", model.tracktype_max_kmh),
        ("smoothness", model.smoothness_max_kmh),
    ):
        cap = table.get((tags.get(key) or "").strip().lower())
        if cap is not None:
            speed = min(speed, cap)
    return speed


def legal_kmh(tags: Mapping[str, str], key: str = "maxspeed") -> float | None:
    """The legal limit (km/h) a way's tags give for ``key``, or None where nothing is tagged.

    For ``maxspeed`` a weekday-daytime ``maxspeed:conditional`` lowers it, and
    without a number the ``zone:traffic`` / ``source:maxspeed`` implicit limit
    (``DE:urban`` = 50, ``DE:zone30``) stands in.
    """
    highway = tags.get("highway") or ""
    legal = parse_maxspeed(tags.get(key), highway=highway)
    if key == "maxspeed":
        conditional = conditional_maxspeed(tags.get("maxspeed:conditional"), highway=highway)
        if conditional is not None:
            legal = conditional if legal is None else min(legal, conditional)
        if legal is None:
            zone = (tags.get("zone:traffic") or tags.get("source:maxspeed") or "").strip().lower()
            legal = ZONE_TRAFFIC_KMH.get(zone) or _IMPLICIT_KMH.get(zone)
    return legal


def _driven_kmh(tags: Mapping[str, str], key: str, model: MotorModel) -> float | None:
    """Driven speed from a tagged limit (``maxspeed`` or a directional key), else None."""
    legal = legal_kmh(tags, key)
    if legal is None:
        return None
    return legal * model.maxspeed_factor


def motor_speeds(tags: Mapping[str, str], model: MotorModel) -> tuple[float, float]:
    """Forward and backward driven speed (km/h) of a car or shuttle on a way (0 = closed).

    Parameters
    ----------
    tags : mapping of str to str
        The way's tags.
    model : MotorModel
        :data:`routing.speed_model.CAR` or :data:`routing.speed_model.SHUTTLE`.
    """
    highway = tags.get("highway") or ""
    if tags.get("area") == "yes" or tags.get("impassable") == "yes":
        return 0.0, 0.0
    verdict = _access(tags, model.access_keys)
    if verdict is False:
        return 0.0, 0.0
    if highway not in model.highways and not (verdict and highway in model.highway_kmh):
        return 0.0, 0.0
    typical = model.highway_kmh[highway]
    service = (tags.get("service") or "").strip().lower()
    if highway == "service" and service in model.service_kmh:
        typical = model.service_kmh[service]
    base = _driven_kmh(tags, "maxspeed", model) or typical
    forward = _driven_kmh(tags, "maxspeed:forward", model) or base
    backward = _driven_kmh(tags, "maxspeed:backward", model) or base
    forward, backward = _capped(forward, tags, model), _capped(backward, tags, model)
    return _apply_oneway(_vehicle_oneway(tags), forward, backward)


PROFILE_BY_NAME = {name: Profile(name) for name in ("walk", "bike", "car", "shuttle", "wheelchair")}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` (``walk``, ``bike``, ``car`` or ``wheelchair``).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    try:
        return PROFILE_BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r}; use one of {', '.join(PROFILE_BY_NAME)}"
        ) from None


# --------------------------------------------------------------------------- wheelchair
# Step-free walking (OSM wiki "Wheelchair routing"; openrouteservice's wheelchair
# profile): the walk network without steps, bad kerbs, steep inclines and rough
# surfaces. Penalised ways are allowed but slower, so routes avoid them when a
# reasonable alternative exists.

WHEELCHAIR_KMH = 3.6
#: Steepest incline (percent) a way may have; steeper ones are excluded.
WHEELCHAIR_MAX_INCLINE = 6.0
#: Inclines above this (percent) are allowed but slower.
WHEELCHAIR_SLOW_INCLINE = 3.0

# Accessibility evidence per way (and edge): how sure the profile is that it is step-free.
ACCESS_UNKNOWN = 0
"""No accessibility tag at all (the usual case): usable, but reported as unknown."""
ACCESS_INFERRED = 1
"""Surface/smoothness/incline tagged and fine, or ``wheelchair=limited``."""
ACCESS_EXPLICIT = 2
"""Tagged ``wheelchair=yes/designated`` (or steps with ``ramp:wheelchair=yes``)."""

_WHEELCHAIR_YES = _words("yes designated permissive")
_GOOD_SURFACES = _words(
    "asphalt concrete concrete:plates concrete:lanes paved paving_stones paving_stones:lanes "
    "metal wood rubber tartan acrylic"
)
_SLOW_SURFACES = _words("sett compacted fine_gravel unhewn_cobblestone cobblestone artificial_turf")
_BAD_SURFACES = _words(
    "gravel pebblestone sand dirt earth ground grass grass_paver mud rock stone stepping_stones "
    "woodchips snow ice unpaved salt"
)
_GOOD_SMOOTHNESS = _words("excellent good intermediate")
_SLOW_SMOOTHNESS = _words("bad")
_BAD_SMOOTHNESS = _words("very_bad horrible very_horrible impassable")
_BAD_KERBS = _words("raised high yes")
_GOOD_KERBS = _words("flush lowered no")
_INCLINE_NUMBER = re.compile(r"^\s*([-+]?[0-9]+(?:[.,][0-9]+)?)\s*(%|°)?\s*$")


def parse_incline(value: str | None) -> float | None:
    """Parse an OSM ``incline`` to an absolute percent (``None``: absent or only up/down).

    ``"8%"`` -> 8, ``"-12%"`` -> 12, ``"5°"`` -> 8.7, ``"up"`` -> None.
    """
    if value is None:
        return None
    match = _INCLINE_NUMBER.match(value.strip().lower())
    if match is None:
        return None
    number = abs(float(match.group(1).replace(",", ".")))
    if match.group(2) == "°":
        number = math.tan(math.radians(min(number, 89.0))) * 100.0
    return number


def wheelchair_assessment(tags: Mapping[str, str]) -> tuple[float, int]:
    """Rate one way for a wheelchair: (speed factor, accessibility evidence).

    The factor is 0 when the way is excluded (steps without ramp,
    ``wheelchair=no``, raised kerb, steeper than :data:`WHEELCHAIR_MAX_INCLINE`,
    very rough surface), below 1 when it is allowed but penalised
    (``wheelchair=limited``, cobblestones, moderate incline, ``smoothness=bad``),
    else 1. The evidence is one of :data:`ACCESS_UNKNOWN`,
    :data:`ACCESS_INFERRED`, :data:`ACCESS_EXPLICIT`.
    """
    highway = (tags.get("highway") or "").strip().lower()
    wheelchair = (tags.get("wheelchair") or "").strip().lower()
    ramp = (tags.get("ramp:wheelchair") or "").strip().lower()
    if wheelchair == "no":
        return 0.0, ACCESS_EXPLICIT
    if highway == "steps":
        # Steps are usable only with a ramp or lift explicitly tagged as wheelchair-usable.
        if ramp in _WHEELCHAIR_YES or wheelchair in _WHEELCHAIR_YES:
            return 0.8, ACCESS_EXPLICIT
        return 0.0, ACCESS_EXPLICIT
    explicit = wheelchair in _WHEELCHAIR_YES
    factor = 1.0
    evidence = ACCESS_EXPLICIT if explicit else ACCESS_UNKNOWN
    if wheelchair == "limited":
        factor *= 0.6
        evidence = ACCESS_INFERRED
    kerb = (tags.get("kerb") or "").strip().lower()
    if kerb in _BAD_KERBS and not explicit:
        return 0.0, ACCESS_EXPLICIT
    surface = (tags.get("surface") or "").strip().lower()
    smoothness = (tags.get("smoothness") or "").strip().lower()
    incline = parse_incline(tags.get("incline"))
    if not explicit:
        if surface in _BAD_SURFACES or smoothness in _BAD_SMOOTHNESS:
            return 0.0, ACCESS_EXPLICIT
        if incline is not None and incline > WHEELCHAIR_MAX_INCLINE:
            return 0.0, ACCESS_EXPLICIT
    if surface in _SLOW_SURFACES:
        factor *= 0.6
    if smoothness in _SLOW_SMOOTHNESS:
        factor *= 0.7
    if incline is not None and incline > WHEELCHAIR_SLOW_INCLINE:
        factor *= 0.7
    good_ground = surface in _GOOD_SURFACES or smoothness in _GOOD_SMOOTHNESS
    if evidence == ACCESS_UNKNOWN and good_ground and kerb not in _BAD_KERBS:
        evidence = ACCESS_INFERRED
    if kerb in _GOOD_KERBS and evidence == ACCESS_UNKNOWN:
        evidence = ACCESS_INFERRED
    return factor, evidence


def wheelchair_speeds(tags: Mapping[str, str]) -> tuple[float, float]:
    """Forward and backward wheelchair speed in km/h on a way (0 = not step-free).

    The way must be walkable (:func:`_walk_speeds`) and pass
    :func:`wheelchair_assessment`; walkers (and wheelchairs) ignore oneway.
    """
    highway = tags.get("highway")
    if highway is None:
        return 0.0, 0.0
    walk_fwd, walk_bwd = _walk_speeds(tags, highway)
    if walk_fwd <= 0.0 and walk_bwd <= 0.0:
        return 0.0, 0.0
    factor, _ = wheelchair_assessment(tags)
    speed = WHEELCHAIR_KMH * factor
    return (speed if walk_fwd > 0 else 0.0), (speed if walk_bwd > 0 else 0.0)
