"""Loaders for the benchmark instance families: Cordeau DARP and Li & Lim PDPTW.

Both formats are whitespace-separated text (formats in ``shared/data/README.md``).
A malformed file raises :class:`~routing.errors.DataError` naming the file, the
line and the field. Best known values come from the ``bks.csv`` beside them.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fleet.model import Instance, TravelMatrix
from routing.errors import DataError

log = logging.getLogger(__name__)

CORDEAU_HEADER = ("vehicles", "requests", "max_route_duration", "capacity", "max_ride_time")
CORDEAU_NODE = ("id", "x", "y", "service", "load", "early", "late")
LILIM_HEADER = ("vehicles", "capacity", "speed")
LILIM_NODE = ("id", "x", "y", "demand", "early", "late", "service", "pickup", "delivery")


@dataclass(frozen=True)
class BestKnown:
    """Best known value of a benchmark instance.

    Attributes
    ----------
    cost : float
        Best known (or optimal) total cost / distance.
    vehicles : int or None
        Vehicles used by the best known solution (hierarchical families only).
    optimal : bool
        True when ``cost`` is proven optimal.
    source : str
        Where the value comes from.
    """

    cost: float
    vehicles: int | None
    optimal: bool
    source: str


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank lines of ``path`` as (1-based line number, fields)."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read instance file {path}: {exc.strerror or exc}") from exc
    rows = [(no, line.split()) for no, line in enumerate(text.splitlines(), start=1)]
    return [(no, parts) for no, parts in rows if parts]


def _numbers(
    path: Path, no: int, parts: list[str], names: tuple[str, ...], *, integer: tuple[str, ...] = ()
) -> dict[str, float]:
    """Parse one line into named numbers; fail naming the line and the field."""
    if len(parts) < len(names):
        raise DataError(
            f"{path}: line {no}: expected {len(names)} fields ({' '.join(names)}), "
            f"found {len(parts)}; the file looks truncated or malformed"
        )
    values: dict[str, float] = {}
    for name, text in zip(names, parts, strict=False):
        try:
            value = float(text)
        except ValueError:
            raise DataError(
                f"{path}: line {no}: field {name!r} is {text!r}, not a number"
            ) from None
        if not math.isfinite(value):
            raise DataError(f"{path}: line {no}: field {name!r} is {text!r}, not a finite number")
        if name in integer and value != int(value):
            raise DataError(f"{path}: line {no}: field {name!r} is {text!r}, not an integer")
        values[name] = value
    return values


def load_cordeau(path: str | Path) -> Instance:
    """Load a Cordeau (2006) dial-a-ride instance.

    Parameters
    ----------
    path : str or Path
        An ``a*.txt`` file: header ``m n T Q L`` then ``2n + 2`` node lines
        ``id x y service load early late`` (0 = start depot, ``1..n`` pickups,
        ``n+i`` drop-off of ``i``, ``2n+1`` end depot).

    Returns
    -------
    Instance
        Euclidean times and costs, ``m`` identical vehicles of capacity ``Q``,
        maximum ride time ``L`` and maximum route duration ``T``.
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: empty file; expected a Cordeau DARP instance")
    no, parts = rows[0]
    head = _numbers(path, no, parts, CORDEAU_HEADER, integer=("vehicles", "requests", "capacity"))
    m, n = int(head["vehicles"]), int(head["requests"])
    if m <= 0 or n <= 0:
        raise DataError(f"{path}: line {no}: vehicles and requests must be positive, got {m}, {n}")
    nodes = rows[1:]
    if len(nodes) != 2 * n + 2:
        raise DataError(
            f"{path}: expected {2 * n + 2} node lines for {n} requests, found {len(nodes)}"
        )
    table = np.zeros((2 * n + 2, len(CORDEAU_NODE)))
    for idx, (no, parts) in enumerate(nodes):
        vals = _numbers(path, no, parts, CORDEAU_NODE, integer=("id", "load"))
        if int(vals["id"]) != idx:
            raise DataError(f"{path}: line {no}: field 'id' is {int(vals['id'])}, expected {idx}")
        if vals["early"] > vals["late"]:
            raise DataError(
                f"{path}: line {no}: time window [{vals['early']}, {vals['late']}] is empty"
            )
        if vals["service"] < 0:
            raise DataError(f"{path}: line {no}: field 'service' is negative")
        table[idx] = [vals[k] for k in CORDEAU_NODE]
    x, y, service, load, early, late = (table[:, j] for j in range(1, 7))
    pickup = np.arange(1, n + 1, dtype=np.int64)
    dropoff = pickup + n
    for i in range(1, n + 1):
        if load[i] <= 0 or load[n + i] != -load[i]:
            no = nodes[n + i][0]
            raise DataError(
                f"{path}: line {no}: field 'load' of drop-off {n + i} is {load[n + i]:g}; "
                f"expected {-load[i]:g} (minus the load of pickup {i}, which must be positive)"
            )
    demand = np.zeros((2 * n + 2, 2), dtype=np.int64)
    demand[:, 0] = load.astype(np.int64)
    end = 2 * n + 1
    inst = Instance(
        name=path.stem,
        x=x.copy(),
        y=y.copy(),
        service=service.copy(),
        demand=demand,
        early=early.copy(),
        late=late.copy(),
        pickup=pickup,
        dropoff=dropoff,
        max_ride=np.full(n, head["max_ride_time"]),
        capacity=np.tile(np.array([[int(head["capacity"]), 0]], dtype=np.int64), (m, 1)),
        start_node=np.zeros(m, dtype=np.int64),
        end_node=np.full(m, end, dtype=np.int64),
        shift_start=np.full(m, early[0]),
        shift_end=np.full(m, late[end]),
        max_duration=np.full(m, head["max_route_duration"]),
        matrix=TravelMatrix.euclidean(x, y),
        objective="cost",
        family="cordeau",
    )
    log.debug("loaded %s: %d requests, %d vehicles", inst.name, n, m)
    return inst


def load_lilim(path: str | Path) -> Instance:
    """Load a Li & Lim pickup-and-delivery instance with time windows.

    Parameters
    ----------
    path : str or Path
        Header ``K Q speed``, then node lines ``id x y demand early late service
        pickup delivery``; node 0 is the depot. A pickup names its delivery in
        the last column, a delivery names its pickup in the 8th.

    Returns
    -------
    Instance
        ``K`` identical vehicles at the depot, no ride-time or duration limit
        beyond the depot's time window, hierarchical objective.
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: empty file; expected a Li & Lim PDPTW instance")
    no, parts = rows[0]
    head = _numbers(path, no, parts, LILIM_HEADER, integer=("vehicles", "capacity"))
    K = int(head["vehicles"])
    if K <= 0 or head["capacity"] <= 0:
        raise DataError(f"{path}: line {no}: vehicles and capacity must be positive")
    speed = head["speed"]
    if speed <= 0:
        # Several published files carry speed 0; every solver treats the column as 1.
        log.debug("%s: speed field is %g; using 1 (travel time = distance)", path, speed)
        speed = 1.0
    nodes = rows[1:]
    if len(nodes) < 3:
        raise DataError(f"{path}: expected a depot and at least one pickup/delivery pair")
    N = len(nodes)
    table = np.zeros((N, len(LILIM_NODE)))
    lines = np.zeros(N, dtype=np.int64)
    for idx, (no, parts) in enumerate(nodes):
        vals = _numbers(path, no, parts, LILIM_NODE, integer=("id", "demand", "pickup", "delivery"))
        if int(vals["id"]) != idx:
            raise DataError(f"{path}: line {no}: field 'id' is {int(vals['id'])}, expected {idx}")
        if vals["early"] > vals["late"]:
            raise DataError(
                f"{path}: line {no}: time window [{vals['early']}, {vals['late']}] is empty"
            )
        if vals["service"] < 0:
            raise DataError(f"{path}: line {no}: field 'service' is negative")
        for col in ("pickup", "delivery"):
            if not 0 <= vals[col] < N:
                raise DataError(
                    f"{path}: line {no}: field {col!r} is {int(vals[col])}, "
                    f"not a node in 0..{N - 1}"
                )
        table[idx] = [vals[k] for k in LILIM_NODE]
        lines[idx] = no
    x, y, dem, early, late, service = (table[:, j] for j in range(1, 7))
    psib, dsib = table[:, 7].astype(np.int64), table[:, 8].astype(np.int64)
    pickups: list[int] = []
    for i in range(1, N):
        if dsib[i] > 0:  # a pickup naming its delivery
            d = int(dsib[i])
            if psib[d] != i:
                raise DataError(
                    f"{path}: line {lines[d]}: field 'pickup' is {psib[d]}, but pickup {i} "
                    f"(line {lines[i]}) names this node as its delivery"
                )
            if dem[i] < 0 or dem[d] != -dem[i]:
                raise DataError(
                    f"{path}: line {lines[d]}: field 'demand' is {dem[d]:g}, expected {-dem[i]:g}"
                )
            pickups.append(i)
        elif psib[i] > 0:
            if dsib[psib[i]] != i:
                raise DataError(
                    f"{path}: line {lines[i]}: field 'pickup' is {psib[i]}, but that node does "
                    f"not name {i} as its delivery"
                )
        else:
            raise DataError(
                f"{path}: line {lines[i]}: node {i} names neither a pickup nor a delivery sibling"
            )
    pickup = np.asarray(pickups, dtype=np.int64)
    dropoff = dsib[pickup]
    demand = np.zeros((N, 2), dtype=np.int64)
    demand[:, 0] = dem.astype(np.int64)
    inst = Instance(
        name=path.stem,
        x=x.copy(),
        y=y.copy(),
        service=service.copy(),
        demand=demand,
        early=early.copy(),
        late=late.copy(),
        pickup=pickup,
        dropoff=dropoff,
        max_ride=np.full(pickup.size, np.inf),
        capacity=np.tile(np.array([[int(head["capacity"]), 0]], dtype=np.int64), (K, 1)),
        start_node=np.zeros(K, dtype=np.int64),
        end_node=np.zeros(K, dtype=np.int64),
        shift_start=np.full(K, early[0]),
        shift_end=np.full(K, late[0]),
        max_duration=np.full(K, np.inf),
        matrix=TravelMatrix.euclidean(x, y, speed=speed),
        objective="vehicles-cost",
        family="lilim",
    )
    log.debug("loaded %s: %d requests, %d vehicles", inst.name, pickup.size, K)
    return inst


def detect_family(path: str | Path) -> str:
    """Guess ``"cordeau"`` or ``"lilim"`` from the header line of an instance file."""
    rows = _read_rows(Path(path))
    if not rows:
        raise DataError(f"{path}: empty file")
    first = rows[0][1]
    if len(first) == 5:
        return "cordeau"
    if len(first) == 3:
        return "lilim"
    raise DataError(
        f"{path}: line {rows[0][0]}: header has {len(first)} fields; expected 5 (Cordeau "
        f"'m n T Q L') or 3 (Li & Lim 'K Q speed')"
    )


def load_instance(path: str | Path, *, family: str | None = None) -> Instance:
    """Load a Cordeau or Li & Lim instance, detecting the format from its header."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"instance file {path} does not exist")
    family = family or detect_family(path)
    if family == "cordeau":
        return load_cordeau(path)
    if family == "lilim":
        return load_lilim(path)
    raise DataError(f"unknown instance family {family!r}; use 'cordeau' or 'lilim'")


def load_best_known(path: str | Path) -> BestKnown | None:
    """The best known value for instance file ``path`` from ``bks.csv`` beside it.

    Returns ``None`` when there is no ``bks.csv`` or it does not name the instance.
    Understands the Cordeau layout (``instance, ..., optimal_cost``) and the Li &
    Lim layout (``instance, tasks, vehicles, distance, ...``).
    """
    path = Path(path)
    bks = path.parent / "bks.csv"
    if not bks.is_file():
        return None
    with bks.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        for lineno, row in enumerate(reader, start=2):
            if row.get("instance") != path.stem:
                continue
            try:
                if row.get("optimal_cost"):
                    return BestKnown(float(row["optimal_cost"]), None, True, str(bks))
                if row.get("distance"):
                    vehicles = int(row["vehicles"]) if row.get("vehicles") else None
                    return BestKnown(
                        float(row["distance"]), vehicles, False, row.get("source") or str(bks)
                    )
            except (TypeError, ValueError):
                raise DataError(f"{bks}: line {lineno}: unreadable best known value") from None
            raise DataError(f"{bks}: line {lineno}: no 'optimal_cost' or 'distance' column")
    return None
