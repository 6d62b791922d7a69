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
Every problem is a :class:`DataError` naming the file, the key and the fix.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any

from routing.errors import DataError
from routing.regions import RegionError, load_region

#: Sections a scenario file may have and the keys allowed in each.
SECTIONS: dict[str, tuple[str, ...]] = {
    "scenario": ("name", "region", "description"),
    "area": ("name", "bbox", "polygon", "file"),
    "demand": ("date", "window", "requests", "travel_times", "config"),
    "demand_model": (),  # sub-tables merged into the demand-model config, checked by it
    "fleet": ("n_vehicles", "capacity", "wheelchair_places", "depots", "shift"),
    "service": ("max_wait_min", "alpha", "beta_min"),
    "dispatcher": ("reoptimise_every_s", "rebalancing"),
    "sweep": ("seeds", "mode", "runs"),
    "targets": (),  # KPI names, checked separately
}
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

    def check(self, value: Any, where: str) -> Any:
        """Return ``value`` converted to this parameter's type, or raise DataError."""
        expect = self.describe()
        if self.kind is bool:
            if not isinstance(value, bool):
                raise DataError(f"{where}: expected {expect}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataError(f"{where}: expected {expect}, got {value!r}")
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise DataError(f"{where}: expected {expect}, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise DataError(f"{where}: expected {expect}, got {value!r}")
        if self.low is not None and (value <= self.low if self.strict_low else value < self.low):
            raise DataError(f"{where}: expected {expect}, got {value!r}")
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
    """
    base_dir = base_dir or Path.cwd()
    if not isinstance(raw, Mapping):
        raise DataError(
            f"{source}: expected tables like [scenario], [fleet]; got {type(raw).__name__}"
        )
    for section in raw:
        if section not in SECTIONS:
            hint = _did_you_mean(section, SECTIONS)
            raise DataError(
                f"{source}: unknown section [{section}]{hint}; "
                f"allowed sections: {', '.join(SECTIONS)}"
            )
    tables = {name: _table(raw, name, source) for name in SECTIONS}
    for name, table in tables.items():
        if name in ("targets", "demand_model"):
            continue
        for key in table:
            if key not in SECTIONS[name]:
                raise DataError(
                    f"{source}: unknown key [{name}] {key}{_did_you_mean(key, SECTIONS[name])}; "
                    f"allowed keys in [{name}]: {', '.join(SECTIONS[name])}"
                )
    meta = tables["scenario"]
    name = _string(meta, "name", "scenario", source, required=True)
    region_name = _string(meta, "region", "scenario", source, required=True)
    try:
        region = load_region(region_name)
    except RegionError as exc:
        raise DataError(f"{source}: [scenario] region = {region_name!r}: {exc}") from None
    area = _area(tables["area"], source, base_dir)
    demand = tables["demand"]
    day = (
        _date(demand.get("date", region.default_date), source)
        if ("date" in demand or region.default_date)
        else None
    )
    if day is None:
        raise DataError(
            f"{source}: [demand] date is missing and region {region.name} has no "
            f"default_date; add date = YYYY-MM-DD"
        )
    window = _window(demand.get("window"), "demand", "window", source)
    travel_times = _string(demand, "travel_times", "demand", source) or "auto"
    if travel_times not in TRAVEL_TIMES:
        raise DataError(
            f"{source}: [demand] travel_times = {travel_times!r}: use one of "
            f"{', '.join(TRAVEL_TIMES)}"
        )
    demand_config = None
    if "config" in demand:
        demand_config = (base_dir / _string(demand, "config", "demand", source)).resolve()
        if not demand_config.is_file():
            raise DataError(
                f"{source}: [demand] config: file {demand_config} does not exist; "
                f"give a path relative to the scenario file"
            )
    demand_model = tables["demand_model"]
    _check_demand_model(demand_config, demand_model, source)
    fleet = tables["fleet"]
    depots = _depots(fleet.get("depots"), source, region.bbox)
    shift = _window(fleet.get("shift"), "fleet", "shift", source)

    values: dict[str, tuple[Any, ...]] = {}
    for pname, param in PARAMETERS.items():
        table = tables[param.section]
        where = f"{source}: [{param.section}] {pname}"
        if pname not in table:
            if param.required and tables["sweep"].get("mode", "cross") != "list":
                raise DataError(
                    f"{where} is missing; add e.g. {pname} = "
                    f"{'[5, 10]' if param.kind is int else '[1.0]'} ({param.help})"
                )
            values[pname] = (param.default,)
            continue
        raw_value = table[pname]
        items = raw_value if isinstance(raw_value, list) else [raw_value]
        if not items:
            raise DataError(f"{where} is an empty list; give at least one value")
        checked = tuple(param.check(v, where) for v in items)
        if len(set(checked)) != len(checked):
            raise DataError(f"{where} lists a value twice ({list(items)}); remove the duplicate")
        values[pname] = checked

    sweep = tables["sweep"]
    seeds_raw = sweep.get("seeds", [0])
    seeds_list = seeds_raw if isinstance(seeds_raw, list) else [seeds_raw]
    if not seeds_list or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds_list
    ):
        raise DataError(
            f"{source}: [sweep] seeds must be a non-empty list of integers >= 0, got {seeds_raw!r}"
        )
    if len(set(seeds_list)) != len(seeds_list):
        raise DataError(f"{source}: [sweep] seeds lists a seed twice ({seeds_list})")
    mode = sweep.get("mode", "cross")
    if mode not in ("cross", "list"):
        raise DataError(
            f'{source}: [sweep] mode = {mode!r}: use "cross" (every combination) '
            f'or "list" (the [[sweep.runs]] tables)'
        )
    explicit = _explicit_runs(sweep.get("runs"), mode, values, source)
    targets = _targets(tables["targets"], source)

    scenario = Scenario(
        name=name,
        region=region.name,
        area=area,
        day=day,
        window=window,
        travel_times=travel_times,
        demand_config=demand_config,
        demand_overrides=demand_model,
        depots=depots,
        shift=shift,
        values=values,
        mode=mode,
        explicit=explicit,
        seeds=tuple(seeds_list),
        targets=targets,
        description=_string(meta, "description", "scenario", source) or "",
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
    from demand.config import load_config

    for name, table in overrides.items():
        if not isinstance(table, Mapping):
            raise DataError(
                f"{source}: [demand_model] {name} must be a table like "
                f"[demand_model.{name}], got {table!r}"
            )
    try:
        load_config(path, **dict(overrides))
    except DataError as exc:
        raise DataError(f"{source}: [demand_model] / [demand] config: {exc}") from None


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _fmt_window(window: tuple[time, time] | None) -> str:
    if window is None:
        return ""
    return f"{window[0].strftime('%H:%M')}-{window[1].strftime('%H:%M')}"


def _did_you_mean(word: str, options: Sequence[str] | Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _table(raw: Mapping[str, Any], name: str, source: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise DataError(f"{source}: [{name}] must be a table of keys, got {value!r}")
    return dict(value)


def _string(
    table: Mapping[str, Any], key: str, section: str, source: str, *, required: bool = False
) -> str:
    if key not in table:
        if required:
            raise DataError(f'{source}: [{section}] {key} is missing; add {key} = "..."')
        return ""
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{source}: [{section}] {key} must be a non-empty string, got {value!r}")
    return value.strip()


def _date(value: Any, source: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DataError(
            f"{source}: [demand] date = {value!r} is not a date; use YYYY-MM-DD"
        ) from None


def _time(value: Any, where: str) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise DataError(
            f'{where}: {value!r} is not a time of day; use "HH:MM" (quoted in YAML)'
        ) from None


def _window(value: Any, section: str, key: str, source: str) -> tuple[time, time] | None:
    if value is None:
        return None
    where = f"{source}: [{section}] {key}"
    if not isinstance(value, list) or len(value) != 2:
        raise DataError(f'{where} must be ["HH:MM", "HH:MM"] (start, end), got {value!r}')
    start, end = _time(value[0], where), _time(value[1], where)
    if end <= start:
        raise DataError(
            f"{where}: end {end} is not after start {start}; give [start, end] within one day"
        )
    return start, end


def _lonlat_pairs(value: Any, where: str, what: str) -> list[tuple[float, float]]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where} must be a non-empty list of {what} pairs, got {value!r}")
    pairs = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in item)
        ):
            raise DataError(f"{where}: item {i} must be [{what}] numbers, got {item!r}")
        pairs.append((float(item[0]), float(item[1])))
    return pairs


def _depots(
    value: Any, source: str, bbox: tuple[float, float, float, float]
) -> tuple[tuple[float, float], ...]:
    if value is None:
        return ()
    where = f"{source}: [fleet] depots"
    depots = _lonlat_pairs(value, where, "lat, lon")
    for i, (lat, lon) in enumerate(depots):
        if not (bbox[1] <= lat <= bbox[3] and bbox[0] <= lon <= bbox[2]):
            raise DataError(
                f"{where}: depot {i} ({lat}, {lon}) is outside the region's bbox "
                f"{bbox}; the order is [lat, lon]"
            )
    return tuple(depots)


def _area(table: Mapping[str, Any], source: str, base_dir: Path) -> AreaSpec:
    given = [k for k in ("bbox", "polygon", "file") if k in table]
    if not given:
        if "name" in table:
            raise DataError(
                f"{source}: [area] has a name but no geometry; add bbox, polygon "
                f"or file (or drop [area] to use the region's service area)"
            )
        return AreaSpec("region", "region service area")
    if len(given) > 1:
        raise DataError(
            f"{source}: [area] has {' and '.join(given)}; give exactly one of bbox, polygon or file"
        )
    kind = given[0]
    name = _string(table, "name", "area", source) or kind
    where = f"{source}: [area] {kind}"
    if kind == "bbox":
        box = table["bbox"]
        if (
            not isinstance(box, list)
            or len(box) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
        ):
            raise DataError(f"{where} must be [min_lon, min_lat, max_lon, max_lat], got {box!r}")
        b = tuple(float(v) for v in box)
        if not (b[0] < b[2] and b[1] < b[3]):
            raise DataError(
                f"{where} {list(b)} is empty; need min_lon < max_lon and "
                f"min_lat < max_lat (order: min_lon, min_lat, max_lon, max_lat)"
            )
        return AreaSpec("bbox", name, bbox=(b[0], b[1], b[2], b[3]), digest=_digest(b)[:16])
    if kind == "polygon":
        ring = _lonlat_pairs(table["polygon"], where, "lon, lat")
        if len(ring) < 3:
            raise DataError(f"{where} needs at least 3 [lon, lat] points, got {len(ring)}")
        if any(abs(lon) > 180 or abs(lat) > 90 for lon, lat in ring):
            raise DataError(f"{where}: points must be [lon, lat] in degrees")
        return AreaSpec("polygon", name, polygon=tuple(ring), digest=_digest(ring)[:16])
    file = (base_dir / _string(table, "file", "area", source)).resolve()
    if not file.is_file():
        raise DataError(
            f"{where}: file {file} does not exist; give a .poly or GeoJSON path "
            f"relative to the scenario file"
        )
    return AreaSpec(
        "file", name if "name" in table else file.stem, file=file, digest=_file_digest(file)
    )


def _explicit_runs(
    value: Any, mode: str, values: dict[str, tuple[Any, ...]], source: str
) -> tuple[dict[str, Any], ...]:
    if mode == "cross":
        if value is not None:
            raise DataError(
                f'{source}: [sweep] runs is only used with mode = "list"; '
                f'add mode = "list" or remove the [[sweep.runs]] tables'
            )
        return ()
    if not isinstance(value, list) or not value:
        raise DataError(
            f'{source}: [sweep] mode = "list" needs [[sweep.runs]] tables, '
            f"e.g. [[sweep.runs]] n_vehicles = 10, capacity = 4"
        )
    swept = [n for n, v in values.items() if len(v) > 1]
    if swept:
        raise DataError(
            f'{source}: with mode = "list", {", ".join(swept)} must have one value '
            f"(the default for the runs); put the variations in [[sweep.runs]]"
        )
    runs = []
    for i, run in enumerate(value):
        where = f"{source}: [[sweep.runs]] #{i + 1}"
        if not isinstance(run, Mapping) or not run:
            raise DataError(f"{where} must be a table of parameters, got {run!r}")
        checked: dict[str, Any] = {}
        for key, v in run.items():
            if key == "seed":
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    raise DataError(f"{where} seed: expected an integer >= 0, got {v!r}")
                checked[key] = v
                continue
            if key not in PARAMETERS:
                raise DataError(
                    f"{where}: unknown key {key}{_did_you_mean(key, PARAMETERS)}; "
                    f"allowed: {', '.join(PARAMETERS)}, seed"
                )
            checked[key] = PARAMETERS[key].check(v, f"{where} {key}")
        for pname, param in PARAMETERS.items():
            if param.required and pname not in checked and values[pname] == (None,):
                raise DataError(
                    f"{where}: {pname} is missing; give it here or once in [{param.section}]"
                )
        runs.append(checked)
    return tuple(runs)


def _targets(table: Mapping[str, Any], source: str) -> tuple[Target, ...]:
    targets = []
    for kpi, spec in table.items():
        where = f"{source}: [targets] {kpi}"
        if (
            not isinstance(spec, Mapping)
            or len(spec) != 1
            or next(iter(spec)) not in ("max", "min")
        ):
            raise DataError(f"{where} must be {{ max = VALUE }} or {{ min = VALUE }}, got {spec!r}")
        bound, value = next(iter(spec.items()))
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise DataError(f"{where}: {bound} must be a number, got {value!r}")
        targets.append(Target(str(kpi), bound, float(value)))
    return tuple(targets)


def check_targets(scenario: Scenario, known_kpis: Sequence[str]) -> None:
    """Raise DataError when a target names a KPI the run function does not report."""
    source = scenario.path or scenario.name
    for target in scenario.targets:
        if target.kpi not in known_kpis:
            raise DataError(
                f"{source}: [targets] {target.kpi}: no such KPI"
                f"{_did_you_mean(target.kpi, known_kpis)}; known KPIs: {', '.join(known_kpis)}"
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
