"""Demand-model parameters from a TOML file, on top of ``demand/default_config.toml``.

A user file only names what it changes: it is merged key by key into the
defaults, then checked (unknown keys, wrong types, shares that do not form a
distribution). Every problem becomes a :class:`DataError` naming the key and
the file.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from routing.errors import DataError

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.toml")

#: OSM attractor categories (see :mod:`demand.attractors`).
CATEGORIES = ("shop", "education", "work", "health", "leisure", "transit")
#: Pseudo-category for a zone's residents in purpose production/attraction weights.
POPULATION = "population"
DETERRENCE_KINDS = ("exponential", "power", "combined")
DAY_TYPES = ("weekday", "weekend")


@dataclass(frozen=True)
class PurposeConfig:
    """How one trip purpose produces and attracts trips (weights by category)."""

    name: str
    production: dict[str, float]
    attraction: dict[str, float]


@dataclass(frozen=True)
class DayProfile:
    """Hourly request shares (24, summing to 1) and purpose mix (summing to 1)."""

    hourly: tuple[float, ...]
    purpose_mix: dict[str, float]


@dataclass(frozen=True)
class GravityConfig:
    """Deterrence function, its parameters, calibration and balancing settings."""

    deterrence: str
    beta: float
    alpha: float
    calibrate: bool
    target_mean_minutes: float
    calibration_method: str
    calibration_tolerance: float
    balance_tolerance: float
    max_iterations: int
    min_minutes: float
    intrazonal_share: float


@dataclass(frozen=True)
class RequestConfig:
    """Request volume, passengers, booking lead times and time windows."""

    trips_per_person: float
    shuttle_share: float
    weekend_factor: float
    exact_total: bool
    passengers: tuple[float, ...]
    wheelchair_share: float
    prebooked_share: float
    prebook_lead_minutes: tuple[float, float]
    max_wait_minutes: float
    detour_factor: float
    max_snap_m: float
    snap_rounds: int


@dataclass(frozen=True)
class DemandConfig:
    """All parameters of the demand model."""

    min_inside_share: float
    use_weight_grid: bool
    attractor_weights: dict[str, float]
    gravity: GravityConfig
    crowfly_speed_kmh: float
    crowfly_detour: float
    centroid_max_snap_m: float
    purposes: dict[str, PurposeConfig]
    profiles: dict[str, DayProfile]
    holidays: frozenset[date]
    requests: RequestConfig
    source: str

    def day_type(self, day: date) -> str:
        """``"weekend"`` for Saturdays, Sundays and configured holidays, else ``"weekday"``."""
        return "weekend" if day.weekday() >= 5 or day in self.holidays else "weekday"


def load_config(path: Path | str | None = None, **overrides: Any) -> DemandConfig:
    """Read the defaults, merge ``path`` (optional) and ``overrides`` into them, validate.

    Parameters
    ----------
    path : Path or str, optional
        A TOML file with the keys to change.
    **overrides
        Section tables to merge last, e.g. ``gravity={"calibrate": False}``.

    Raises
    ------
    DataError
        The file is missing or not TOML, or a key is unknown or has a bad value.
    """
    raw = _read_toml(DEFAULT_CONFIG_PATH)
    source = str(DEFAULT_CONFIG_PATH)
    if path is not None:
        user = _read_toml(Path(path))
        _check_known(user, raw, Path(path), prefix="")
        raw = _merge(raw, user)
        source = str(path)
    if overrides:
        _check_known(overrides, raw, Path("<overrides>"), prefix="")
        raw = _merge(raw, overrides)
    return _parse(raw, source)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"demand config {path} does not exist; check the path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"demand config {path} is not valid TOML ({exc}); fix its syntax") from None


# Tables whose keys are free names (purposes, categories): checked by _parse instead.
_OPEN_TABLES = (
    "purposes",
    "attractors.weights",
    "profiles.weekday.purpose_mix",
    "profiles.weekend.purpose_mix",
)


def _check_known(user: dict[str, Any], base: dict[str, Any], path: Path, prefix: str) -> None:
    for key, value in user.items():
        name = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(base)) or "none"
            raise DataError(f"{path}: unknown demand setting {name!r} (known here: {known})")
        if isinstance(value, dict) and isinstance(base[key], dict) and name not in _OPEN_TABLES:
            _check_known(value, base[key], path, prefix=f"{name}.")


def _merge(base: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "purposes":
            out[key] = _merge(out[key], value)
        elif key == "purposes" and isinstance(value, dict):
            # A user purpose table replaces the default one of that name entirely.
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out


def _number(
    raw: dict[str, Any],
    key: str,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    positive: bool = False,
) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"demand config [{where}] {key} must be a number, got {value!r}")
    value = float(value)
    if positive and value <= 0:
        raise DataError(f"demand config [{where}] {key} must be > 0, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise DataError(f"demand config [{where}] {key} must lie in [{low}, {high}], got {value}")
    return value


def _flag(raw: dict[str, Any], key: str, where: str) -> bool:
    value = raw.get(key)
    if not isinstance(value, bool):
        raise DataError(f"demand config [{where}] {key} must be true or false, got {value!r}")
    return value


def _shares(values: Any, where: str, *, length: int | None = None) -> tuple[float, ...]:
    if not isinstance(values, list) or not values or (length and len(values) != length):
        size = f"{length} " if length else ""
        raise DataError(f"demand config {where} must be a list of {size}non-negative numbers")
    if any(isinstance(v, bool) or not isinstance(v, int | float) or v < 0 for v in values):
        raise DataError(f"demand config {where} must hold non-negative numbers, got {values!r}")
    total = float(sum(values))
    if total <= 0:
        raise DataError(f"demand config {where} must not be all zero")
    return tuple(float(v) / total for v in values)


def _weights(table: Any, where: str, allowed: set[str]) -> dict[str, float]:
    if not isinstance(table, dict) or not table:
        raise DataError(f"demand config {where} must be a table of category = weight")
    out = {}
    for key, value in table.items():
        if key not in allowed:
            raise DataError(
                f"demand config {where}: unknown category {key!r}; use one of "
                f"{', '.join(sorted(allowed))}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise DataError(f"demand config {where}.{key} must be a number >= 0, got {value!r}")
        out[key] = float(value)
    if not any(out.values()):
        raise DataError(f"demand config {where} must have a positive weight")
    return out


def _parse(raw: dict[str, Any], source: str) -> DemandConfig:
    zones = raw["zones"]
    weights = raw["attractors"]["weights"]
    att = {c: _number(weights, c, "attractors.weights", low=0.0) for c in CATEGORIES}
    unknown = set(weights) - set(CATEGORIES)
    if unknown:
        raise DataError(
            f"demand config [attractors.weights]: unknown categories {sorted(unknown)}; "
            f"use {', '.join(CATEGORIES)}"
        )

    g = raw["gravity"]
    kind = g.get("deterrence")
    if kind not in DETERRENCE_KINDS:
        raise DataError(
            f"demand config [gravity] deterrence must be one of {', '.join(DETERRENCE_KINDS)}, "
            f"got {kind!r}"
        )
    method = g.get("calibration_method")
    if method not in ("bisection", "secant"):
        raise DataError(
            f"demand config [gravity] calibration_method must be 'bisection' or 'secant', "
            f"got {method!r}"
        )
    gravity = GravityConfig(
        deterrence=kind,
        beta=_number(g, "beta", "gravity", low=0.0),
        alpha=_number(g, "alpha", "gravity"),
        calibrate=_flag(g, "calibrate", "gravity"),
        target_mean_minutes=_number(g, "target_mean_minutes", "gravity", positive=True),
        calibration_method=method,
        calibration_tolerance=_number(g, "calibration_tolerance", "gravity", positive=True),
        balance_tolerance=_number(g, "balance_tolerance", "gravity", positive=True),
        max_iterations=int(_number(g, "max_iterations", "gravity", low=1)),
        min_minutes=_number(g, "min_minutes", "gravity", positive=True),
        intrazonal_share=_number(g, "intrazonal_share", "gravity", low=0.0, high=1.0),
    )

    allowed = {*CATEGORIES, POPULATION}
    purposes = {}
    for name, table in raw["purposes"].items():
        if not isinstance(table, dict):
            raise DataError(f"demand config [purposes.{name}] must be a table")
        purposes[name] = PurposeConfig(
            name=name,
            production=_weights(table.get("production"), f"[purposes.{name}] production", allowed),
            attraction=_weights(table.get("attraction"), f"[purposes.{name}] attraction", allowed),
        )
    if not purposes:
        raise DataError("demand config has no [purposes.*] table; define at least one purpose")

    p = raw["profiles"]
    profiles = {}
    for day_type in DAY_TYPES:
        table = p.get(day_type) or {}
        hourly = _shares(table.get("hourly"), f"[profiles.{day_type}] hourly", length=24)
        mix_raw = table.get("purpose_mix")
        if not isinstance(mix_raw, dict) or not mix_raw:
            raise DataError(f"demand config [profiles.{day_type}] purpose_mix must be a table")
        missing = set(mix_raw) - set(purposes)
        if missing:
            raise DataError(
                f"demand config [profiles.{day_type}] purpose_mix names undefined purposes "
                f"{sorted(missing)}; define [purposes.NAME] or remove them"
            )
        names = list(mix_raw)
        shares = _shares([mix_raw[n] for n in names], f"[profiles.{day_type}] purpose_mix")
        profiles[day_type] = DayProfile(
            hourly=hourly, purpose_mix=dict(zip(names, shares, strict=True))
        )
    try:
        holidays = frozenset(date.fromisoformat(str(d)) for d in p.get("holidays", []))
    except ValueError as exc:
        raise DataError(f"demand config [profiles] holidays: {exc}; use YYYY-MM-DD") from None

    r = raw["requests"]
    lead = r.get("prebook_lead_minutes")
    if (
        not isinstance(lead, list)
        or len(lead) != 2
        or not all(isinstance(v, int | float) for v in lead)
        or not 0 <= lead[0] <= lead[1]
    ):
        raise DataError(
            f"demand config [requests] prebook_lead_minutes must be [min, max] with "
            f"0 <= min <= max, got {lead!r}"
        )
    requests = RequestConfig(
        trips_per_person=_number(r, "trips_per_person", "requests", positive=True),
        shuttle_share=_number(r, "shuttle_share", "requests", low=0.0, high=1.0),
        weekend_factor=_number(r, "weekend_factor", "requests", low=0.0),
        exact_total=_flag(r, "exact_total", "requests"),
        passengers=_shares(r.get("passengers"), "[requests] passengers"),
        wheelchair_share=_number(r, "wheelchair_share", "requests", low=0.0, high=1.0),
        prebooked_share=_number(r, "prebooked_share", "requests", low=0.0, high=1.0),
        prebook_lead_minutes=(float(lead[0]), float(lead[1])),
        max_wait_minutes=_number(r, "max_wait_minutes", "requests", low=0.0),
        detour_factor=_number(r, "detour_factor", "requests", low=1.0),
        max_snap_m=_number(r, "max_snap_m", "requests", positive=True),
        snap_rounds=int(_number(r, "snap_rounds", "requests", low=1)),
    )
    tt = raw["travel_times"]
    return DemandConfig(
        min_inside_share=_number(zones, "min_inside_share", "zones", low=0.0, high=1.0),
        use_weight_grid=_flag(zones, "use_weight_grid", "zones"),
        attractor_weights=att,
        gravity=gravity,
        crowfly_speed_kmh=_number(tt, "crowfly_speed_kmh", "travel_times", positive=True),
        crowfly_detour=_number(tt, "crowfly_detour", "travel_times", low=1.0),
        centroid_max_snap_m=_number(tt, "max_snap_m", "travel_times", positive=True),
        purposes=purposes,
        profiles=profiles,
        holidays=holidays,
        requests=requests,
        source=source,
    )
