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
  ``bicycle=dismount``), car from ``maxspeed`` (``maxspeed:forward/backward``
  per direction) or from the highway type's default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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

# Default car speeds (km/h) where no usable maxspeed is tagged.
CAR_DEFAULT_KMH: dict[str, float] = {
    "motorway": 120.0,
    "motorway_link": 60.0,
    "trunk": 90.0,
    "trunk_link": 50.0,
    "primary": 70.0,
    "primary_link": 40.0,
    "secondary": 60.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 30.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 7.0,
    "service": 20.0,
    "road": 30.0,
}
CAR_HIGHWAYS = frozenset(CAR_DEFAULT_KMH)
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
        if self.name == "car":
            return _car_speeds(tags, highway)
        raise ValueError(f"unknown profile {self.name!r}; use one of walk, bike, car")


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


def _car_speeds(tags: Mapping[str, str], highway: str) -> tuple[float, float]:
    if highway not in CAR_HIGHWAYS or tags.get("area") == "yes":
        return 0.0, 0.0
    if _access(tags, ("motorcar", "motor_vehicle", "vehicle", "access")) is False:
        return 0.0, 0.0
    base = parse_maxspeed(tags.get("maxspeed"), highway=highway) or CAR_DEFAULT_KMH[highway]
    forward = parse_maxspeed(tags.get("maxspeed:forward"), highway=highway) or base
    backward = parse_maxspeed(tags.get("maxspeed:backward"), highway=highway) or base
    return _apply_oneway(_vehicle_oneway(tags), forward, backward)


PROFILE_BY_NAME = {name: Profile(name) for name in ("walk", "bike", "car")}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` (``walk``, ``bike`` or ``car``).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    try:
        return PROFILE_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; use one of walk, bike, car") from None
