"""Demand-model parameters from a TOML file, on top of ``demand/default_config.toml``.

A user file only names what it changes: it is merged key by key into the
defaults, then checked by the pydantic model :class:`DemandFile` (unknown
keys, wrong types, ranges, shares that do not form a distribution). Every
problem becomes a :class:`DataError` naming the file, the key and the fix
(:func:`routing.validation.format_error`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from routing.errors import DataError
from routing.validation import format_error

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
        The file is missing or not TOML, or a key is unknown or has a bad value
        (the message names the file, the key and the fix).
    """
    return load_config_with(path, overrides)


def load_config_with(
    path: Path | str | None,
    overrides: Mapping[str, Any],
    *,
    overrides_source: str = "<overrides>",
) -> DemandConfig:
    """:func:`load_config` with the overrides as a mapping named ``overrides_source`` in errors.

    Parameters
    ----------
    path : Path or str, optional
        A TOML file with the keys to change.
    overrides : mapping
        Section tables to merge last.
    overrides_source : str
        What to call the overrides in messages (e.g. ``scenario.toml [demand_model]``).

    Raises
    ------
    DataError
        As :func:`load_config`.
    """
    raw = _read_toml(DEFAULT_CONFIG_PATH)
    layers: list[tuple[str, Mapping[str, Any]]] = []
    source = str(DEFAULT_CONFIG_PATH)
    if path is not None:
        user = _read_toml(Path(path))
        raw = _merge(raw, user)
        source = str(path)
        layers.append((source, user))
    if overrides:
        for name, table in overrides.items():
            if not isinstance(table, Mapping):
                raise DataError(
                    f"{overrides_source}: {name} must be a table like [{name}], got {table!r}"
                )
        raw = _merge(raw, dict(overrides))
        layers.append((overrides_source, overrides))
    try:
        model = DemandFile.model_validate(raw)
    except ValidationError as exc:
        loc = tuple(exc.errors()[0]["loc"])
        # Name the last layer that wrote the key at fault (the defaults are valid).
        blame = next((name for name, layer in reversed(layers) if _holds(layer, loc)), source)
        raise DataError(format_error(exc, source=blame, data=raw, model=DemandFile)) from None
    return model.to_config(source)


def _holds(layer: Mapping[str, Any], loc: Sequence[int | str]) -> bool:
    """Whether ``layer`` wrote the key at ``loc`` or a table on its way (not only the top)."""
    node: Any = layer
    for depth, part in enumerate(loc):
        found = (isinstance(node, Mapping) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if not found:
            return depth > 0
        node = node[part]
    return True


def _read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as dicts (DataError naming the file when missing or malformed)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"demand config {path} does not exist; check the path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"demand config {path} is not valid TOML ({exc}); fix its syntax") from None


def _merge(base: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """``user`` merged key by key into ``base`` (a purpose table replaces its default whole)."""
    out = dict(base)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "purposes":
            out[key] = _merge(out[key], value)
        elif key == "purposes" and isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- the model


def _shares_of(length: int | None) -> AfterValidator:
    """Non-negative numbers (``length`` of them when given) normalised to sum to 1."""

    def check(values: list[float]) -> list[float]:
        size = f"{length} " if length else ""
        if not values or (length and len(values) != length):
            raise ValueError(
                f"must be a list of {size}non-negative numbers, got {len(values)} value(s)"
            )
        if any(v < 0 for v in values):
            raise ValueError(f"must hold non-negative numbers, got {values!r}")
        total = float(sum(values))
        if total <= 0:
            raise ValueError("must not be all zero")
        return [float(v) / total for v in values]

    return AfterValidator(check)


def _weights_of(allowed: Sequence[str]) -> AfterValidator:
    """A table ``category = weight`` of known categories with some positive weight."""

    def check(table: dict[str, float]) -> dict[str, float]:
        if not table:
            raise ValueError("must be a table of category = weight")
        for key, value in table.items():
            if key not in allowed:
                raise ValueError(
                    f"unknown category {key!r}; use one of {', '.join(sorted(allowed))}"
                )
            if value < 0:
                raise ValueError(f"{key} must be a number >= 0, got {value!r}")
        if not any(table.values()):
            raise ValueError("must have a positive weight")
        return {k: float(v) for k, v in table.items()}

    return AfterValidator(check)


def _iso_date(value: Any) -> Any:
    """TOML dates and ``YYYY-MM-DD`` strings to dates."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _whole(value: Any) -> Any:
    """Integral floats (``8.0``) as ints; anything else is left to the int check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: A whole number >= 1 (an integral float like ``8.0`` is taken).
Count = Annotated[int, BeforeValidator(_whole), Field(ge=1)]
#: A finite number >= 0 / > 0 / in [0, 1].
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]
_WEIGHTS = _weights_of((*CATEGORIES, POPULATION))


class _Table(BaseModel):
    """A table of the file: no unknown keys, no type coercion (``"3"`` is not 3)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class ZonesTable(_Table):
    """``[zones]``."""

    min_inside_share: Share
    use_weight_grid: bool


class AttractorWeights(_Table):
    """``[attractors.weights]``: the attraction of one OSM feature of each category."""

    shop: NonNegative
    education: NonNegative
    work: NonNegative
    health: NonNegative
    leisure: NonNegative
    transit: NonNegative


class AttractorsTable(_Table):
    """``[attractors]``."""

    weights: AttractorWeights


class GravityTable(_Table):
    """``[gravity]``: deterrence, calibration and balancing."""

    deterrence: str
    beta: NonNegative
    alpha: float
    calibrate: bool
    target_mean_minutes: Positive
    calibration_method: str
    calibration_tolerance: Positive
    balance_tolerance: Positive
    max_iterations: Count
    min_minutes: Positive
    intrazonal_share: Share

    @field_validator("deterrence")
    @classmethod
    def _deterrence(cls, value: str) -> str:
        """One of :data:`DETERRENCE_KINDS`."""
        if value not in DETERRENCE_KINDS:
            raise ValueError(f"must be one of {', '.join(DETERRENCE_KINDS)}, got {value!r}")
        return value

    @field_validator("calibration_method")
    @classmethod
    def _method(cls, value: str) -> str:
        """Bisection or secant."""
        if value not in ("bisection", "secant"):
            raise ValueError(f"must be 'bisection' or 'secant', got {value!r}")
        return value


class TravelTimesTable(_Table):
    """``[travel_times]``: the crow-fly estimate and centroid snapping."""

    crowfly_speed_kmh: Positive
    crowfly_detour: Annotated[float, Field(ge=1)]
    max_snap_m: Positive


class PurposeTable(_Table):
    """``[purposes.NAME]``: production and attraction weights."""

    production: Annotated[dict[str, NonNegative], _WEIGHTS]
    attraction: Annotated[dict[str, NonNegative], _WEIGHTS]


class DayTable(_Table):
    """``[profiles.weekday]`` / ``[profiles.weekend]``."""

    hourly: Annotated[list[NonNegative], _shares_of(24)]
    purpose_mix: dict[str, NonNegative]

    @field_validator("purpose_mix")
    @classmethod
    def _mix(cls, mix: dict[str, float]) -> dict[str, float]:
        """Shares normalised to sum to 1."""
        if not mix:
            raise ValueError("must be a table of purpose = share")
        total = float(sum(mix.values()))
        if total <= 0:
            raise ValueError("must not be all zero")
        return {k: float(v) / total for k, v in mix.items()}


class ProfilesTable(_Table):
    """``[profiles]``: holidays and the two day types."""

    holidays: list[Annotated[date, BeforeValidator(_iso_date)]] = []
    weekday: DayTable
    weekend: DayTable


class RequestsTable(_Table):
    """``[requests]``: volume, passengers, booking lead times and time windows."""

    trips_per_person: Positive
    shuttle_share: Share
    weekend_factor: NonNegative
    exact_total: bool
    passengers: Annotated[list[NonNegative], _shares_of(None)]
    wheelchair_share: Share
    prebooked_share: Share
    prebook_lead_minutes: list[NonNegative]
    max_wait_minutes: NonNegative
    detour_factor: Annotated[float, Field(ge=1)]
    max_snap_m: Positive
    snap_rounds: Count

    @field_validator("prebook_lead_minutes")
    @classmethod
    def _lead(cls, lead: list[float]) -> list[float]:
        """``[min, max]`` with ``0 <= min <= max``."""
        if len(lead) != 2 or not lead[0] <= lead[1]:
            raise ValueError(f"must be [min, max] with 0 <= min <= max, got {lead!r}")
        return lead


class DemandFile(_Table):
    """A demand config after merging into the defaults (every table present)."""

    zones: ZonesTable
    attractors: AttractorsTable
    gravity: GravityTable
    travel_times: TravelTimesTable
    purposes: dict[str, PurposeTable]
    profiles: ProfilesTable
    requests: RequestsTable

    @model_validator(mode="after")
    def _purposes_defined(self) -> DemandFile:
        """At least one purpose, and the purpose mixes name only defined ones."""
        if not self.purposes:
            raise ValueError("there is no [purposes.*] table; define at least one purpose")
        for day_type in DAY_TYPES:
            missing = set(getattr(self.profiles, day_type).purpose_mix) - set(self.purposes)
            if missing:
                raise ValueError(
                    f"[profiles.{day_type}] purpose_mix names undefined purposes "
                    f"{sorted(missing)}; define [purposes.NAME] or remove them"
                )
        return self

    def to_config(self, source: str) -> DemandConfig:
        """The :class:`DemandConfig` the model uses."""
        g, r, tt = self.gravity, self.requests, self.travel_times
        return DemandConfig(
            min_inside_share=self.zones.min_inside_share,
            use_weight_grid=self.zones.use_weight_grid,
            attractor_weights={c: float(getattr(self.attractors.weights, c)) for c in CATEGORIES},
            gravity=GravityConfig(
                deterrence=g.deterrence,
                beta=float(g.beta),
                alpha=float(g.alpha),
                calibrate=g.calibrate,
                target_mean_minutes=float(g.target_mean_minutes),
                calibration_method=g.calibration_method,
                calibration_tolerance=float(g.calibration_tolerance),
                balance_tolerance=float(g.balance_tolerance),
                max_iterations=g.max_iterations,
                min_minutes=float(g.min_minutes),
                intrazonal_share=float(g.intrazonal_share),
            ),
            crowfly_speed_kmh=float(tt.crowfly_speed_kmh),
            crowfly_detour=float(tt.crowfly_detour),
            centroid_max_snap_m=float(tt.max_snap_m),
            purposes={
                name: PurposeConfig(name, dict(p.production), dict(p.attraction))
                for name, p in self.purposes.items()
            },
            profiles={
                day_type: DayProfile(
                    hourly=tuple(getattr(self.profiles, day_type).hourly),
                    purpose_mix=dict(getattr(self.profiles, day_type).purpose_mix),
                )
                for day_type in DAY_TYPES
            },
            holidays=frozenset(self.profiles.holidays),
            requests=RequestConfig(
                trips_per_person=float(r.trips_per_person),
                shuttle_share=float(r.shuttle_share),
                weekend_factor=float(r.weekend_factor),
                exact_total=r.exact_total,
                passengers=tuple(r.passengers),
                wheelchair_share=float(r.wheelchair_share),
                prebooked_share=float(r.prebooked_share),
                prebook_lead_minutes=(
                    float(r.prebook_lead_minutes[0]),
                    float(r.prebook_lead_minutes[1]),
                ),
                max_wait_minutes=float(r.max_wait_minutes),
                detour_factor=float(r.detour_factor),
                max_snap_m=float(r.max_snap_m),
                snap_rounds=r.snap_rounds,
            ),
            source=source,
        )
