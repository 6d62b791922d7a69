"""Scenario files: parse, validate, expand into runs with stable ids.

A scenario names the region, the service area, the day and time window, the
demand level, the fleet (sizes, capacities), the service rules (max wait,
detour ``alpha``/``beta``), the dispatcher settings and the seeds. Any
parameter of :data:`PARAMETERS` may be one value or a list of values; the
sweep is the cross product of the lists (``[sweep] mode = "cross"``) or an
explicit list of runs (``mode = "list"`` with ``[[sweep.runs]]`` tables),
each repeated for every seed. Example (TOML; YAML with the same structure
works too)::

    [scenario]
    name = "heidelberg-weststadt"
    region = "heidelberg"

    [area]                       # optional: default is the region's service area
    name = "Weststadt"
    bbox = [8.66, 49.39, 8.70, 49.41]   # or polygon = [[lon, lat], ...] or file = "x.poly"

    [demand]
    date = 2022-09-14
    window = ["07:00", "10:00"]
    requests = 600

    [fleet]
    n_vehicles = [5, 10, 15, 20]
    capacity = [4, 8]

    [service]
    max_wait_min = 15
    alpha = 1.5
    beta_min = 5

    [sweep]
    seeds = [1, 2]

    [targets]
    wait_mean_min = { max = 10 }
    served_share = { min = 0.9 }

Every run is a flat dict of parameters; its id is a hash of them, so the same
parameters always get the same id (that is what makes sweeps resumable).
The file is described by pydantic models (:class:`ScenarioFile` and its
sections); every problem is a :class:`DataError` naming the file, the key
and the fix (:func:`routing.validation.format_error`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from routing.errors import DataError, RegionError
from routing.regions import load_region
from routing.validation import did_you_mean, validate

#: Sections a scenario file may have and the keys allowed in each.

TRAVEL_TIMES = ("auto", "road", "crowfly")


@dataclass(frozen=True)
class Parameter:
    """A parameter that may be swept: where it lives, its type, its range and default."""

    name: str
    section: str
    kind: type
    low: float | None = None
    strict_low: bool = False
    default: Any = None
    required: bool = False
    help: str = ""

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type.

        Raises
        ------
        ValueError
            Wrong type or out of range (the message says what is expected).
        """
        problem = f"expected {self.describe()}, got {value!r}"
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(problem)
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(problem)
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(problem)
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(problem)
        if self.low is not None and (value <= self.low if self.strict_low else value < self.low):
            raise ValueError(problem)
        return value

    def describe(self) -> str:
        """Human words for the accepted values (used in error messages)."""
        if self.kind is bool:
            return "true or false"
        noun = "an integer" if self.kind is int else "a number"
        if self.low is None:
            return noun
        return f"{noun} {'>' if self.strict_low else '>='} {self.low:g}"


#: Sweepable parameters by their flat name (the column name in the result table). The
#: defaults are the simulator's (:class:`fleet.simulation.SimulationConfig`).
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter(
            "requests",
            "demand",
            int,
            low=1,
            help="expected requests in the window (default: from the population)",
        ),
        Parameter("n_vehicles", "fleet", int, low=1, required=True, help="fleet size"),
        Parameter("capacity", "fleet", int, low=1, required=True, help="seats per vehicle"),
        Parameter(
            "wheelchair_places",
            "fleet",
            int,
            low=0,
            default=1,
            help="wheelchair places per vehicle",
        ),
        Parameter(
            "max_wait_min",
            "service",
            float,
            low=0,
            strict_low=True,
            default=15.0,
            help="longest wait from the desired pickup time, minutes",
        ),
        Parameter(
            "alpha",
            "service",
            float,
            low=1,
            default=1.5,
            help="max ride time = alpha x direct time + beta",
        ),
        Parameter(
            "beta_min",
            "service",
            float,
            low=0,
            default=5.0,
            help="additive ride-time slack, minutes",
        ),
        Parameter(
            "reoptimise_every_s",
            "dispatcher",
            float,
            low=0,
            strict_low=True,
            default=300.0,
            help="seconds between re-optimisations of the plans",
        ),
        Parameter(
            "rebalancing",
            "dispatcher",
            bool,
            default=True,
            help="send idle vehicles towards expected demand",
        ),
    )
}


@dataclass(frozen=True)
class AreaSpec:
    """Where the service runs: the region's own area, a bbox, a polygon or a file.

    Attributes
    ----------
    kind : {"region", "bbox", "polygon", "file"}
    name : str
        Label shown in reports.
    bbox : tuple of float, optional
        ``(min_lon, min_lat, max_lon, max_lat)``.
    polygon : tuple of (lon, lat), optional
        The outer ring.
    file : Path, optional
        A ``.poly`` or GeoJSON file (absolute).
    digest : str
        Hash of the geometry (file contents or coordinates): part of every run id.
    """

    kind: str
    name: str
    bbox: tuple[float, float, float, float] | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    file: Path | None = None
    digest: str = "region"


@dataclass(frozen=True)
class Target:
    """A service target on one KPI: ``kpi <= value`` (``max``) or ``kpi >= value`` (``min``)."""

    kpi: str
    bound: str
    value: float

    def met(self, observed: float) -> bool:
        """Whether ``observed`` meets the target (NaN never does)."""
        if not math.isfinite(observed):
            return False
        return observed <= self.value if self.bound == "max" else observed >= self.value

    def __str__(self) -> str:
        return f"{self.kpi} {'<=' if self.bound == 'max' else '>='} {self.value:g}"


@dataclass(frozen=True)
class RunSpec:
    """One simulation run: all its parameters (flat, JSON-safe) and its stable id."""

    run_id: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file.

    Attributes
    ----------
    name, region, description : str
    area : AreaSpec
    day : date
    window : (time, time) or None
        Local time window of the demand (``None``: the whole day).
    travel_times : str
        How the demand model gets zone travel times (``auto``, ``road``, ``crowfly``).
    demand_config : Path or None
        Demand-model parameters (TOML) on top of the defaults.
    demand_overrides : dict
        The ``[demand_model]`` tables, merged last into the demand-model
        parameters (e.g. ``[demand_model.gravity] target_mean_minutes = 4``).
    depots : tuple of (lat, lon)
        Where vehicles start (empty: the simulator's default).
    shift : (time, time) or None
        Vehicles' shift (``None``: the simulator's default).
    values : dict of str to tuple
        Every parameter of :data:`PARAMETERS` with its value(s); more than one
        value makes it a sweep axis in ``cross`` mode.
    mode : {"cross", "list"}
    explicit : tuple of dict
        The ``[[sweep.runs]]`` tables in ``list`` mode.
    seeds : tuple of int
    targets : tuple of Target
    path : Path or None
        The file it was read from.
    """

    name: str
    region: str
    area: AreaSpec
    day: date
    window: tuple[time, time] | None
    travel_times: str
    demand_config: Path | None
    demand_overrides: dict[str, Any]
    depots: tuple[tuple[float, float], ...]
    shift: tuple[time, time] | None
    values: dict[str, tuple[Any, ...]]
    mode: str
    explicit: tuple[dict[str, Any], ...]
    seeds: tuple[int, ...]
    targets: tuple[Target, ...]
    description: str = ""
    path: Path | None = None
    fixed_digest: str = field(default="", repr=False)

    def swept(self) -> list[str]:
        """Names of the parameters that take more than one value (seed excluded)."""
        if self.mode == "list":
            keys = {k for run in self.explicit for k in run if k != "seed"}
            return [name for name in PARAMETERS if name in keys]
        return [name for name, vals in self.values.items() if len(vals) > 1]

    def context_key(self) -> str:
        """Hash of the inputs of the shared region context (region, area, demand inputs).

        Workers cache the loaded region and demand model under this key.
        """
        return self.fixed_digest

    def runs(self) -> list[RunSpec]:
        """Expand the scenario into runs (see :func:`expand`)."""
        return expand(self)


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file (``.toml``, or ``.yaml``/``.yml``).

    Raises
    ------
    DataError
        The file is missing, not TOML/YAML, or a key is unknown, missing or has
        a bad value (the message names the key and the fix).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"scenario file {path} does not exist; pass the path of a .toml file "
            f"(see scenarios/ for examples)"
        )
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        raw = _read_yaml(text, path)
    else:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    return parse_scenario(raw, source=str(path), base_dir=path.parent, path=path)


# --------------------------------------------------------------------------- the file's model
#
# Each section is a pydantic model; the sweepable parameters become list fields
# of their section (a single value is a list of one). The checks that need more
# than the file (the region, files next to it, the demand model) follow in
# parse_scenario and raise the same "FILE: KEY: FIX" message.


def _text(value: Any) -> Any:
    """A non-empty string, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value.strip()


def _day(value: Any) -> Any:
    """A TOML/YAML date or ``YYYY-MM-DD`` text."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _time_of_day(value: Any) -> time:
    """A TOML time or ``HH:MM`` text."""
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f'{value!r} is not a time of day; use "HH:MM" (quoted in YAML)') from None


def _window(value: Any) -> Any:
    """``[start, end]`` times of one day, end after start."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f'must be ["HH:MM", "HH:MM"] (start, end), got {value!r}')
    start, end = _time_of_day(value[0]), _time_of_day(value[1])
    if end <= start:
        raise ValueError(f"end {end} is not after start {start}; give [start, end] within one day")
    return (start, end)


def _pairs(what: str) -> BeforeValidator:
    """A non-empty list of number pairs (``what`` names their order)."""

    def check(value: Any) -> Any:
        if not isinstance(value, list) or not value:
            raise ValueError(f"must be a non-empty list of [{what}] pairs, got {value!r}")
        for i, item in enumerate(value):
            if (
                not isinstance(item, list | tuple)
                or len(item) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in item)
            ):
                raise ValueError(f"item {i} must be [{what}] numbers, got {item!r}")
        return tuple((float(a), float(b)) for a, b in value)

    return BeforeValidator(check)


def _bbox(value: Any) -> Any:
    """``[min_lon, min_lat, max_lon, max_lat]``, not empty."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"must be [min_lon, min_lat, max_lon, max_lat], got {value!r}")
    b = tuple(float(v) for v in value)
    if not (b[0] < b[2] and b[1] < b[3]):
        raise ValueError(
            f"{list(b)} is empty; need min_lon < max_lon and min_lat < max_lat "
            "(order: min_lon, min_lat, max_lon, max_lat)"
        )
    return b


def _ring(value: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """An outer ring of at least three (lon, lat) points in degrees."""
    if len(value) < 3:
        raise ValueError(f"needs at least 3 [lon, lat] points, got {len(value)}")
    if any(abs(lon) > 180 or abs(lat) > 90 for lon, lat in value):
        raise ValueError("points must be [lon, lat] in degrees")
    return value


def _as_list(value: Any) -> Any:
    """One value stands for a list of one."""
    return value if isinstance(value, list | tuple) else [value]


def _distinct(values: list[Any]) -> list[Any]:
    """At least one value, none twice."""
    if not values:
        raise ValueError("is an empty list; give at least one value")
    if len(set(values)) != len(values):
        raise ValueError(f"lists a value twice ({values}); remove the duplicate")
    return values


def _seeds(value: Any) -> Any:
    """A non-empty list of distinct integers >= 0 (one integer is a list of one)."""
    seeds = value if isinstance(value, list) else [value]
    if not seeds or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        raise ValueError(f"must be a non-empty list of integers >= 0, got {value!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"lists a seed twice ({seeds})")
    return tuple(seeds)


def _seed(value: Any) -> Any:
    """One seed of a ``[[sweep.runs]]`` table."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected an integer >= 0, got {value!r}")
    return value


def _target(value: Any) -> Any:
    """``{ max = VALUE }`` or ``{ min = VALUE }`` as ``(bound, value)``."""
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in ("max", "min"):
        raise ValueError(f"must be {{ max = VALUE }} or {{ min = VALUE }}, got {value!r}")
    bound, number = next(iter(value.items()))
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise ValueError(f"{bound} must be a number, got {number!r}")
    return (bound, float(number))


Text = Annotated[str, BeforeValidator(_text)]
Day = Annotated[date, BeforeValidator(_day)]
Window = Annotated[tuple[time, time], BeforeValidator(_window)]
LonLatRing = Annotated[tuple[tuple[float, float], ...], _pairs("lon, lat"), AfterValidator(_ring)]
LatLonPairs = Annotated[tuple[tuple[float, float], ...], _pairs("lat, lon")]
BBox = Annotated[tuple[float, float, float, float], BeforeValidator(_bbox)]
Seeds = Annotated[tuple[int, ...], BeforeValidator(_seeds)]
Seed = Annotated[int, BeforeValidator(_seed)]
TargetSpec = Annotated[tuple[str, float], BeforeValidator(_target)]


def _check_parameter(value: Any, info: ValidationInfo) -> Any:
    """One value of the parameter named by the field (see :data:`PARAMETERS`)."""
    return PARAMETERS[str(info.field_name)].check(value)


#: One value of a sweepable parameter, checked by its :class:`Parameter`.
ParamValue = Annotated[Any, AfterValidator(_check_parameter)]
#: One value or a list of distinct values of a sweepable parameter.
ParamValues = Annotated[list[ParamValue], BeforeValidator(_as_list), AfterValidator(_distinct)]


class _Section(BaseModel):
    """A table of a scenario file: no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioSection(_Section):
    """``[scenario]``: name, region and an optional description."""

    name: Text
    region: Text
    description: Text | None = None


class AreaSection(_Section):
    """``[area]``: at most one of bbox, polygon or file (none: the region's service area)."""

    name: Text | None = None
    bbox: BBox | None = None
    polygon: LonLatRing | None = None
    file: Text | None = None

    @model_validator(mode="after")
    def _one_geometry(self) -> AreaSection:
        """Exactly one geometry, or none and no name."""
        given = [k for k in ("bbox", "polygon", "file") if getattr(self, k) is not None]
        if not given and self.name is not None:
            raise ValueError(
                "has a name but no geometry; add bbox, polygon or file "
                "(or drop [area] to use the region's service area)"
            )
        if len(given) > 1:
            raise ValueError(
                f"has {' and '.join(given)}; give exactly one of bbox, polygon or file"
            )
        return self


class _DemandKeys(_Section):
    date: Day | None = None
    window: Window | None = None
    travel_times: Text = "auto"
    config: Text | None = None

    @field_validator("travel_times")
    @classmethod
    def _travel_times(cls, value: str) -> str:
        """One of :data:`TRAVEL_TIMES`."""
        if value not in TRAVEL_TIMES:
            raise ValueError(f"use one of {', '.join(TRAVEL_TIMES)}, got {value!r}")
        return value


class _FleetKeys(_Section):
    depots: LatLonPairs | None = None
    shift: Window | None = None


class DemandSection(_DemandKeys):
    """``[demand]``: day, window, travel times, config and the demand level."""

    requests: ParamValues | None = None


class FleetSection(_FleetKeys):
    """``[fleet]``: depots, shift and the fleet parameters."""

    n_vehicles: ParamValues | None = None
    capacity: ParamValues | None = None
    wheelchair_places: ParamValues | None = None


class ServiceSection(_Section):
    """``[service]``: the service rules."""

    max_wait_min: ParamValues | None = None
    alpha: ParamValues | None = None
    beta_min: ParamValues | None = None


class DispatcherSection(_Section):
    """``[dispatcher]``: the dispatcher settings."""

    reoptimise_every_s: ParamValues | None = None
    rebalancing: ParamValues | None = None


class RunTable(_Section):
    """One ``[[sweep.runs]]`` table: parameters (one value each) and an optional seed."""

    seed: Seed | None = None
    requests: ParamValue | None = None
    n_vehicles: ParamValue | None = None
    capacity: ParamValue | None = None
    wheelchair_places: ParamValue | None = None
    max_wait_min: ParamValue | None = None
    alpha: ParamValue | None = None
    beta_min: ParamValue | None = None
    reoptimise_every_s: ParamValue | None = None
    rebalancing: ParamValue | None = None


class SweepSection(_Section):
    """``[sweep]``: seeds, the mode and the explicit runs of ``list`` mode."""

    seeds: Seeds = (0,)
    mode: str = "cross"
    runs: list[RunTable] | None = None

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        """Cross or list."""
        if value not in ("cross", "list"):
            raise ValueError(
                f'{value!r}: use "cross" (every combination) or "list" (the [[sweep.runs]] tables)'
            )
        return value

    @model_validator(mode="after")
    def _runs_with_list_mode(self) -> SweepSection:
        """``[[sweep.runs]]`` exactly in list mode, each run with something in it."""
        if self.mode == "cross" and self.runs is not None:
            raise ValueError(
                'runs is only used with mode = "list"; '
                'add mode = "list" or remove the [[sweep.runs]] tables'
            )
        if self.mode == "list" and not self.runs:
            raise ValueError(
                'mode = "list" needs [[sweep.runs]] tables, '
                "e.g. [[sweep.runs]] n_vehicles = 10, capacity = 4"
            )
        for i, run in enumerate(self.runs or ()):
            if not run.model_fields_set:
                raise ValueError(f"[[sweep.runs]] #{i + 1} is empty; give parameters")
        return self


class ScenarioFile(_Section):
    """A whole scenario file (missing tables are empty)."""

    scenario: ScenarioSection
    area: AreaSection
    demand: DemandSection
    demand_model: dict[str, Any] = {}  # checked by the demand model (demand.config)
    fleet: FleetSection
    service: ServiceSection
    dispatcher: DispatcherSection
    sweep: SweepSection
    targets: dict[str, TargetSpec] = {}


#: The sections of a scenario file.
SECTIONS = tuple(ScenarioFile.model_fields)
#: The section model holding each section's parameters (a parameter is a field of it).
SECTION_MODELS: dict[str, type[BaseModel]] = {
    "demand": DemandSection,
    "fleet": FleetSection,
    "service": ServiceSection,
    "dispatcher": DispatcherSection,
}


def _fail(source: str, key: str, fix: str) -> DataError:
    """The error for a check beyond the model: ``FILE: KEY: FIX``."""
    return DataError(f"{source}: {key}: {fix}")


def parse_scenario(
    raw: Mapping[str, Any],
    *,
    source: str = "scenario",
    base_dir: Path | None = None,
    path: Path | None = None,
) -> Scenario:
    """Validate a scenario given as nested dicts (the parsed TOML/YAML).

    Parameters
    ----------
    raw : mapping
        Sections as in the module docstring.
    source : str
        Name used in error messages (the file path).
    base_dir : Path, optional
        Directory that relative paths (area file, demand config) are relative to.
    path : Path, optional
        The file it was read from.

    Raises
    ------
    DataError
        A section or key is unknown, missing or has a bad value; the message
        names the file, the key and the fix.
    """
    base_dir = base_dir or Path.cwd()
    if not isinstance(raw, Mapping):
        raise DataError(
            f"{source}: expected tables like [scenario], [fleet]; got {type(raw).__name__}"
        )
    # A missing table is an empty one (its keys have defaults or are reported missing).
    data = {**{name: {} for name in SECTIONS}, **raw}
    model = validate(ScenarioFile, data, source=source)
    meta, demand, fleet = model.scenario, model.demand, model.fleet
    try:
        region = load_region(meta.region)
    except RegionError as exc:
        raise _fail(source, "[scenario] region", str(exc)) from None
    area = _area(model.area, source, base_dir)
    day = demand.date or (_day(region.default_date) if region.default_date else None)
    if day is None:
        raise _fail(
            source,
            "[demand] date",
            f"missing and region {region.name} has no default_date; add date = YYYY-MM-DD",
        )
    demand_config = None
    if demand.config is not None:
        demand_config = (base_dir / demand.config).resolve()
        if not demand_config.is_file():
            raise _fail(
                source,
                "[demand] config",
                f"file {demand_config} does not exist; give a path relative to the scenario file",
            )
    _check_demand_model(demand_config, model.demand_model, source)
    depots = _depots(fleet.depots, source, region.bbox)

    values: dict[str, tuple[Any, ...]] = {}
    for pname, param in PARAMETERS.items():
        given = getattr(getattr(model, param.section), pname)
        if given is None:
            if param.required and model.sweep.mode != "list":
                raise DataError(
                    f"{source}: [{param.section}] {pname} is missing; add e.g. {pname} = "
                    f"{'[5, 10]' if param.kind is int else '[1.0]'} ({param.help})"
                )
            values[pname] = (param.default,)
        else:
            values[pname] = tuple(given)
    explicit = _explicit_runs(model.sweep, values, source)
    targets = tuple(Target(str(kpi), bound, value) for kpi, (bound, value) in model.targets.items())

    scenario = Scenario(
        name=meta.name,
        region=region.name,
        area=area,
        day=day,
        window=demand.window,
        travel_times=demand.travel_times,
        demand_config=demand_config,
        demand_overrides=dict(model.demand_model),
        depots=depots,
        shift=fleet.shift,
        values=values,
        mode=model.sweep.mode,
        explicit=explicit,
        seeds=model.sweep.seeds,
        targets=targets,
        description=meta.description or "",
        path=path,
    )
    shared = _shared_params(scenario)
    context = {k: shared[k] for k in ("region", "area_digest", "travel_times", "demand_config")}
    return replace(scenario, fixed_digest=_digest(context)[:16])


def expand(scenario: Scenario) -> list[RunSpec]:
    """All runs of a scenario, each with its flat parameters and stable id.

    ``cross`` mode takes the cross product of every parameter's values;
    ``list`` mode takes the ``[[sweep.runs]]`` tables (unlisted parameters keep
    their single value). Either way each combination runs once per seed.
    Order: by the parameters in :data:`PARAMETERS` order, seeds innermost.
    """
    shared = _shared_params(scenario)
    if scenario.mode == "list":
        combos: list[dict[str, Any]] = []
        for run in scenario.explicit:
            combo = {name: scenario.values[name][0] for name in PARAMETERS}
            combo.update({k: v for k, v in run.items() if k != "seed"})
            seeds = (run["seed"],) if "seed" in run else scenario.seeds
            combos.extend({**combo, "seed": s} for s in seeds)
    else:
        names = list(PARAMETERS)
        combos = [
            {**dict(zip(names, vals, strict=True)), "seed": seed}
            for vals in itertools.product(*(scenario.values[n] for n in names))
            for seed in scenario.seeds
        ]
    runs: list[RunSpec] = []
    seen: set[str] = set()
    for combo in combos:
        params = {**shared, **combo}
        run_id = run_id_of(params)
        if run_id in seen:
            raise DataError(
                f"{scenario.path or scenario.name}: two runs have the same parameters "
                f"({combo}); remove the duplicate from [[sweep.runs]]"
            )
        seen.add(run_id)
        runs.append(RunSpec(run_id, params))
    return runs


def run_id_of(params: Mapping[str, Any]) -> str:
    """Stable id of a run: the first 12 hex digits of the SHA-256 of its parameters."""
    return _digest(params)[:12]


def _shared_params(s: Scenario) -> dict[str, Any]:
    """The parameters every run of the scenario has in common (JSON-safe)."""
    return {
        "region": s.region,
        "area": s.area.name,
        "area_digest": s.area.digest,
        "date": s.day.isoformat(),
        "window": _fmt_window(s.window),
        "travel_times": s.travel_times,
        "demand_config": _demand_digest(s),
        "depots": json.dumps([list(d) for d in s.depots]) if s.depots else "",
        "shift": _fmt_window(s.shift),
    }


def _demand_digest(s: Scenario) -> str:
    """Hash of the demand-model parameters given (file contents and overrides); "" if none."""
    if s.demand_config is None and not s.demand_overrides:
        return ""
    file = _file_digest(s.demand_config) if s.demand_config else ""
    return _digest([file, s.demand_overrides])[:16]


def _check_demand_model(path: Path | None, overrides: Mapping[str, Any], source: str) -> None:
    """Validate the demand-model parameters now, not in a worker an hour later."""
    from demand.config import load_config_with

    for name, table in overrides.items():
        if not isinstance(table, Mapping):
            raise DataError(
                f"{source}: [demand_model] {name} must be a table like "
                f"[demand_model.{name}], got {table!r}"
            )
    label = f"{source} [demand_model]"
    try:
        load_config_with(path, overrides, overrides_source=label)
    except DataError as exc:
        if str(exc).startswith(label):
            raise
        raise DataError(f"{source}: [demand] config: {exc}") from None


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _fmt_window(window: tuple[time, time] | None) -> str:
    if window is None:
        return ""
    return f"{window[0].strftime('%H:%M')}-{window[1].strftime('%H:%M')}"


def _depots(
    depots: tuple[tuple[float, float], ...] | None,
    source: str,
    bbox: tuple[float, float, float, float],
) -> tuple[tuple[float, float], ...]:
    """The depots, each inside the region's bounding box."""
    if depots is None:
        return ()
    for i, (lat, lon) in enumerate(depots):
        if not (bbox[1] <= lat <= bbox[3] and bbox[0] <= lon <= bbox[2]):
            raise _fail(
                source,
                "[fleet] depots",
                f"depot {i} ({lat}, {lon}) is outside the region's bbox {bbox}; "
                "the order is [lat, lon]",
            )
    return depots


def _area(table: AreaSection, source: str, base_dir: Path) -> AreaSpec:
    """The service area of a validated ``[area]`` table (a file is read for its digest)."""
    if table.bbox is not None:
        b = table.bbox
        return AreaSpec("bbox", table.name or "bbox", bbox=b, digest=_digest(b)[:16])
    if table.polygon is not None:
        ring = [list(p) for p in table.polygon]
        return AreaSpec(
            "polygon", table.name or "polygon", polygon=table.polygon, digest=_digest(ring)[:16]
        )
    if table.file is None:
        return AreaSpec("region", "region service area")
    file = (base_dir / table.file).resolve()
    if not file.is_file():
        raise _fail(
            source,
            "[area] file",
            f"file {file} does not exist; give a .poly or GeoJSON path "
            "relative to the scenario file",
        )
    return AreaSpec("file", table.name or file.stem, file=file, digest=_file_digest(file))


def _explicit_runs(
    sweep: SweepSection, values: dict[str, tuple[Any, ...]], source: str
) -> tuple[dict[str, Any], ...]:
    """The ``[[sweep.runs]]`` tables as parameter dicts (list mode), each complete."""
    if sweep.mode == "cross":
        return ()
    swept = [n for n, v in values.items() if len(v) > 1]
    if swept:
        raise DataError(
            f'{source}: with mode = "list", {", ".join(swept)} must have one value '
            f"(the default for the runs); put the variations in [[sweep.runs]]"
        )
    runs = []
    for i, run in enumerate(sweep.runs or ()):
        where = f"{source}: [[sweep.runs]] #{i + 1}"
        checked = {k: getattr(run, k) for k in run.model_fields_set}
        for pname, param in PARAMETERS.items():
            if param.required and pname not in checked and values[pname] == (None,):
                raise DataError(
                    f"{where}: {pname} is missing; give it here or once in [{param.section}]"
                )
        # In the order of PARAMETERS (run ids sort their keys anyway).
        runs.append({k: checked[k] for k in sorted(checked, key=list(RunTable.model_fields).index)})
    return tuple(runs)


def check_targets(scenario: Scenario, known_kpis: Sequence[str]) -> None:
    """Raise DataError when a target names a KPI the run function does not report."""
    source = scenario.path or scenario.name
    for target in scenario.targets:
        if target.kpi not in known_kpis:
            raise DataError(
                f"{source}: [targets] {target.kpi}: no such KPI"
                f"{did_you_mean(target.kpi, known_kpis)}; known KPIs: {', '.join(known_kpis)}"
            )


def _read_yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml comes with dask
        raise DataError(
            f"{path}: reading YAML needs PyYAML (pip install pyyaml); or write the scenario as TOML"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML ({exc}); fix the syntax") from None
