"""Trip-request streams: seeded generation, the request schema, CSV/Parquet I/O, validation.

Generation draws Poisson arrivals per (time slice, purpose, origin zone,
destination zone) cell. Independent Poisson counts with means ``lambda_k``
are the same as a Poisson total ``K ~ Poisson(sum lambda)`` split
multinomially over the cells, and given a cell's count its arrival times are
uniform in the slice; so the stream is drawn as ``K`` independent requests,
each picking its cell with probability ``lambda_k / sum lambda`` (vectorised,
``O(K log cells)`` instead of one draw per cell). With ``exact_total`` the
total is fixed to ``N`` (the Poisson process conditioned on its count).

Points are drawn inside the zone (from its weight-grid sub-cells, else
uniformly in the cell), kept only inside the service area, then snapped to
the nearest walk-graph node of the area (see :class:`demand.network.NodeSnapper`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

import numpy as np
import pandas as pd

from demand.area import ServiceArea
from demand.model import DemandModel
from demand.profiles import TimeSlices, day_slices, expected_requests, purpose_mix
from demand.zensus import laea_to_wgs84
from routing.errors import DataError, RequestError

log = logging.getLogger(__name__)

#: The request schema shared by the generator, the fleet simulator and booking-log import.
#: Column name -> meaning. Times are ISO 8601 with a UTC offset in CSV (timezone-aware
#: timestamps in memory and in Parquet); coordinates are WGS84 degrees.
REQUEST_SCHEMA: dict[str, str] = {
    "request_id": "unique id of the request (text)",
    "request_time": "when the request was made (ISO 8601 with offset)",
    "origin_lat": "pickup latitude (WGS84 degrees; a walk-graph node inside the area)",
    "origin_lon": "pickup longitude",
    "destination_lat": "drop-off latitude (WGS84 degrees)",
    "destination_lon": "drop-off longitude",
    "passengers": "number of travellers (integer >= 1)",
    "wheelchair": "whether a wheelchair place is needed (true/false)",
    "earliest_pickup": "earliest pickup time (ISO 8601 with offset, >= request_time)",
    "latest_arrival": "latest arrival at the destination (ISO 8601, > earliest_pickup)",
    "purpose": "trip purpose (work, education, shopping, health, leisure, home, ...)",
}
REQUEST_COLUMNS: tuple[str, ...] = tuple(REQUEST_SCHEMA)
_TIME_COLUMNS = ("request_time", "earliest_pickup", "latest_arrival")
_COORD_COLUMNS = ("origin_lat", "origin_lon", "destination_lat", "destination_lon")


@dataclass(frozen=True)
class GenerationStats:
    """What a generation run did (for summaries and logs)."""

    requests: int
    expected: float
    snapped: bool
    redrawn_points: int
    fallback_points: int
    mean_snap_m: float
    day_type: str


def generate_requests(
    model: DemandModel,
    *,
    day: date,
    n_requests: float | None = None,
    seed: int = 0,
    window: tuple[time, time] | None = None,
) -> tuple[pd.DataFrame, GenerationStats]:
    """Draw a reproducible stream of trip requests for one day (or a window of it).

    Parameters
    ----------
    model : DemandModel
        Zones, trip matrices, service area and walk snapper.
    day : date
        Service day (local, in the model's timezone).
    n_requests : float, optional
        Requests in the period: exactly this many with ``[requests] exact_total``,
        else the Poisson expectation. Default: residents x trips per person x
        shuttle share (x weekend factor) x the window's share of the day.
    seed : int
        Seed of the random stream: the same seed gives the same requests.
    window : (time, time), optional
        Local time window inside the day.

    Returns
    -------
    requests : DataFrame
        Columns :data:`REQUEST_COLUMNS`, sorted by request time.
    stats : GenerationStats

    Raises
    ------
    RequestError
        A negative request count or an empty window.
    """
    cfg = model.config
    rc = cfg.requests
    slices = day_slices(day, model.timezone, cfg, window=window)
    expected = (
        expected_requests(model.zones.population.sum(), slices.day_type, cfg, slices.window_share)
        if n_requests is None
        else float(n_requests)
    )
    if not (expected >= 0 and math.isfinite(expected)):
        raise RequestError(f"number of requests must be >= 0, got {n_requests}")
    rng = np.random.default_rng(seed)
    total = round(expected) if rc.exact_total else int(rng.poisson(expected))
    names, mix = purpose_mix(slices.day_type, cfg)

    # Cell of each request: slice x purpose (independent), then OD given purpose.
    slice_idx = rng.choice(slices.share.size, size=total, p=slices.share)
    purpose_idx = rng.choice(len(names), size=total, p=mix)
    n = model.zones.size
    origin = np.empty(total, dtype=np.int64)
    dest = np.empty(total, dtype=np.int64)
    for k, name in enumerate(names):
        members = np.flatnonzero(purpose_idx == k)
        if members.size == 0:
            continue
        cdf = np.cumsum(model.purposes[name].trips.ravel())
        cdf /= cdf[-1]
        cell = np.searchsorted(cdf, rng.random(members.size), side="right")
        cell = np.minimum(cell, cdf.size - 1)
        origin[members] = cell // n
        dest[members] = cell % n

    t0 = slices.start[slice_idx]
    width = slices.end[slice_idx] - t0
    request_s = t0 + np.floor(rng.random(total) * width).astype(np.int64)

    o_lat, o_lon, o_stats = _draw_points(model, origin, rng)
    d_lat, d_lon, d_stats = _draw_points(model, dest, rng, avoid=(o_lat, o_lon))

    passengers = rng.choice(len(rc.passengers), size=total, p=rc.passengers) + 1
    wheelchair = rng.random(total) < rc.wheelchair_share
    prebooked = rng.random(total) < rc.prebooked_share
    lo, hi = rc.prebook_lead_minutes
    lead_s = np.where(prebooked, np.round(rng.uniform(lo, hi, total) * 60.0), 0.0)
    pickup_s = request_s + lead_s.astype(np.int64)
    direct_s = model.cost_minutes[origin, dest] * 60.0
    arrive_s = pickup_s + np.ceil(rc.max_wait_minutes * 60.0 + rc.detour_factor * direct_s).astype(
        np.int64
    )

    order = np.lexsort((np.arange(total), request_s))
    tz = model.timezone
    frame = pd.DataFrame(
        {
            "request_id": [f"R{i + 1:06d}" for i in range(total)],
            "request_time": _times(request_s[order], tz),
            "origin_lat": np.round(o_lat[order], 7),
            "origin_lon": np.round(o_lon[order], 7),
            "destination_lat": np.round(d_lat[order], 7),
            "destination_lon": np.round(d_lon[order], 7),
            "passengers": passengers[order].astype(np.int64),
            "wheelchair": wheelchair[order],
            "earliest_pickup": _times(pickup_s[order], tz),
            "latest_arrival": _times(arrive_s[order], tz),
            "purpose": np.asarray(names, dtype=object)[purpose_idx[order]],
        }
    )
    snapped = model.walk_snapper is not None
    dist = np.concatenate([o_stats[2], d_stats[2]])
    stats = GenerationStats(
        requests=total,
        expected=expected,
        snapped=snapped,
        redrawn_points=o_stats[0] + d_stats[0],
        fallback_points=o_stats[1] + d_stats[1],
        mean_snap_m=float(dist.mean()) if snapped and dist.size else 0.0,
        day_type=slices.day_type,
    )
    log.info(
        "generated %d requests for %s (%s, seed %d): %d points redrawn, %d by fallback",
        total,
        day,
        slices.day_type,
        seed,
        stats.redrawn_points,
        stats.fallback_points,
    )
    return frame, stats


def _times(seconds: np.ndarray, tz: str) -> pd.Series:
    return pd.Series(pd.to_datetime(seconds, unit="s", utc=True)).dt.tz_convert(tz)


def _draw_points(
    model: DemandModel,
    zone: np.ndarray,
    rng: np.random.Generator,
    *,
    avoid: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, np.ndarray]]:
    """Points in each request's zone, inside the area, snapped to the walk graph.

    Returns lat, lon and (redrawn count, fallback count, snap distances).
    """
    z = model.zones
    rc = model.config.requests
    area = model.area
    snapper = model.walk_snapper
    size = zone.size
    lat = np.full(size, np.nan)
    lon = np.full(size, np.nan)
    dist = np.zeros(size)
    todo = np.arange(size)
    redrawn = 0
    # Cumulative sub-cell weights per zone, offset by the zone index (one sorted array).
    wsum = np.bincount(z.sub_zone, weights=z.sub_weight, minlength=z.size)
    within = np.cumsum(z.sub_weight) - np.repeat(
        np.concatenate([[0.0], np.cumsum(wsum)[:-1]]), np.diff(z.sub_first)
    )
    key = z.sub_zone + within / wsum[z.sub_zone]
    for round_ in range(rc.snap_rounds):
        if todo.size == 0:
            break
        if round_:
            redrawn += todo.size
        zt = zone[todo]
        pick = np.searchsorted(key, zt + rng.random(todo.size), side="left")
        pick = np.clip(pick, z.sub_first[zt], z.sub_first[zt + 1] - 1)
        x = z.sub_x[pick] + (rng.random(todo.size) * 2 - 1) * z.sub_half[pick]
        y = z.sub_y[pick] + (rng.random(todo.size) * 2 - 1) * z.sub_half[pick]
        plat, plon = laea_to_wgs84(x, y)
        ok = area.contains(plat, plon)
        if snapper is not None:
            _, slat, slon, d = snapper.snap(plat, plon)
            ok &= d <= rc.max_snap_m
            plat, plon = slat, slon
            dist[todo] = d
        if avoid is not None:
            ok &= (plat != avoid[0][todo]) | (plon != avoid[1][todo])
        lat[todo[ok]] = plat[ok]
        lon[todo[ok]] = plon[ok]
        todo = todo[~ok]
    fallback = int(todo.size)
    if fallback:
        # Drawn points that keep missing the network (a zone with few roads): take
        # the eligible node nearest to one more drawn point, however far; without
        # a walk graph, the zone's centroid (inside the area).
        zt = zone[todo]
        if snapper is not None:
            pick = np.searchsorted(key, zt + rng.random(todo.size), side="left")
            pick = np.clip(pick, z.sub_first[zt], z.sub_first[zt + 1] - 1)
            plat, plon = laea_to_wgs84(z.sub_x[pick], z.sub_y[pick])
            _, lat[todo], lon[todo], dist[todo] = snapper.snap(plat, plon)
        else:
            lat[todo], lon[todo] = z.lat[zt], z.lon[zt]
    return lat, lon, (redrawn, fallback, dist)


# --------------------------------------------------------------------------- I/O


def write_requests(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write requests as CSV (ISO 8601 times) or Parquet (by the file suffix)."""
    path = Path(path)
    missing = [c for c in REQUEST_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"requests lack columns {missing}; they must follow REQUEST_SCHEMA")
    out = frame.loc[:, list(REQUEST_COLUMNS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    if path.suffix.lower() == ".parquet":
        out.to_parquet(tmp, index=False)
    elif path.suffix.lower() == ".csv":
        text = out.copy()
        for col in _TIME_COLUMNS:
            text[col] = _iso(text[col])
        text["wheelchair"] = np.where(text["wheelchair"].astype(bool), "true", "false")
        text.to_csv(tmp, index=False)
    else:
        raise DataError(f"{path}: unknown request file type; use .csv or .parquet")
    tmp.replace(path)
    return path


def _iso(col: pd.Series) -> pd.Series:
    text = col.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return text.str[:-2] + ":" + text.str[-2:]


@dataclass(frozen=True)
class RowProblem:
    """One bad row of a request file: its line (CSV) or row number (Parquet)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"


@dataclass(frozen=True)
class ImportResult:
    """Valid requests and the problems of the rows left out."""

    requests: pd.DataFrame
    problems: list[RowProblem]
    rows_read: int


def read_requests(
    path: Path | str,
    *,
    timezone: str = "Europe/Berlin",
    area: ServiceArea | None = None,
    on_error: str = "raise",
) -> ImportResult:
    """Read and validate requests (generated, or a real booking log in the same schema).

    Parameters
    ----------
    path : Path or str
        ``.csv`` (header row = line 1, so the first request is line 2) or
        ``.parquet`` (problems name the 1-based row as ``line``).
    timezone : str
        Zone to express the times in (they keep their instant).
    area : ServiceArea, optional
        When given, points outside it are bad rows.
    on_error : {"raise", "drop"}
        ``"raise"``: any bad row raises :class:`DataError` listing the first
        problems with their line numbers. ``"drop"``: bad rows are left out
        and reported in the result.

    Raises
    ------
    DataError
        Missing file or columns, unreadable file, or bad rows with ``on_error="raise"``.
    """
    path = Path(path)
    if on_error not in ("raise", "drop"):
        raise ValueError(f"on_error must be 'raise' or 'drop', got {on_error!r}")
    if not path.is_file():
        raise DataError(f"request file {path} does not exist")
    if path.suffix.lower() == ".parquet":
        try:
            raw = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read as Parquet ({exc})") from None
        first_line = 1
    elif path.suffix.lower() == ".csv":
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{path}: cannot parse as CSV ({exc})") from None
        first_line = 2
    else:
        raise DataError(f"{path}: unknown request file type; use .csv or .parquet")
    missing = [c for c in REQUEST_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: missing columns {missing}; a request file needs {list(REQUEST_COLUMNS)}"
        )
    frame, problems = validate_requests(raw, timezone=timezone, area=area, first_line=first_line)
    if problems and on_error == "raise":
        shown = "; ".join(str(p) for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise DataError(f"{path}: {len(problems)} bad values in {len(raw)} rows: {shown}{more}")
    if problems:
        log.warning(
            "%s: dropped %d of %d rows with bad values (first: %s)",
            path,
            len({p.line for p in problems}),
            len(raw),
            problems[0],
        )
    return ImportResult(frame, problems, len(raw))


def validate_requests(
    raw: pd.DataFrame,
    *,
    timezone: str = "Europe/Berlin",
    area: ServiceArea | None = None,
    first_line: int = 2,
) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Check every row of a request table; return the good rows (typed) and the problems.

    ``first_line`` is the line number of the first row (2 for a CSV with a header).
    """
    n = len(raw)
    lines = np.arange(n) + first_line
    bad = np.zeros(n, dtype=bool)
    problems: list[RowProblem] = []

    def flag(mask: np.ndarray, column: str, message: str | list[str]) -> None:
        for k in np.flatnonzero(mask & ~bad):
            text = message if isinstance(message, str) else message[k]
            problems.append(RowProblem(int(lines[k]), column, text))
        bad[:] |= mask

    def text(col: str) -> pd.Series:
        return raw[col].astype("string").fillna("").str.strip()

    ids = text("request_id")
    flag((ids == "").to_numpy(), "request_id", "empty request id")
    dup = ids.duplicated(keep="first").to_numpy() & (ids != "").to_numpy()
    flag(dup, "request_id", [f"duplicate id {v!r}" for v in ids])

    times = {}
    for col in _TIME_COLUMNS:
        t, msg = _parse_times(raw[col], timezone)
        flag(msg != "", col, list(msg))
        times[col] = t
    coords = {}
    for col in _COORD_COLUMNS:
        v = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float)
        limit = 90.0 if col.endswith("lat") else 180.0
        wrong = ~np.isfinite(v) | (np.abs(v) > limit)
        flag(
            wrong,
            col,
            [
                f"{raw[col].iloc[k]!r} is not a WGS84 {col.split('_')[1]}itude" if wrong[k] else ""
                for k in range(n)
            ],
        )
        coords[col] = v
    pax = pd.to_numeric(raw["passengers"], errors="coerce").to_numpy(dtype=float)
    wrong = ~np.isfinite(pax) | (pax < 1) | (pax != np.round(pax))
    flag(
        wrong,
        "passengers",
        [
            f"{raw['passengers'].iloc[k]!r} is not a whole number >= 1" if wrong[k] else ""
            for k in range(n)
        ],
    )
    wheel, wrong = _parse_bool(raw["wheelchair"])
    flag(
        wrong,
        "wheelchair",
        [f"{raw['wheelchair'].iloc[k]!r} is not true/false" if wrong[k] else "" for k in range(n)],
    )
    purpose = text("purpose")
    flag((purpose == "").to_numpy(), "purpose", "empty purpose")

    rt, ep, la = (times[c] for c in _TIME_COLUMNS)
    early = (ep < rt).to_numpy(dtype=bool, na_value=False)
    flag(early, "earliest_pickup", "earlier than request_time")
    late = (la <= ep).to_numpy(dtype=bool, na_value=False)
    flag(late, "latest_arrival", "not after earliest_pickup")
    same = (coords["origin_lat"] == coords["destination_lat"]) & (
        coords["origin_lon"] == coords["destination_lon"]
    )
    flag(same, "destination_lat", "destination equals origin")
    if area is not None:
        ok = ~bad
        for end in ("origin", "destination"):
            inside = np.ones(n, dtype=bool)
            inside[ok] = area.contains(coords[f"{end}_lat"][ok], coords[f"{end}_lon"][ok])
            flag(~inside, f"{end}_lat", f"{end} lies outside the service area {area.name}")

    keep = ~bad
    frame = pd.DataFrame(
        {
            "request_id": ids[keep].astype(str).to_numpy(dtype=object),
            "request_time": rt[keep].reset_index(drop=True),
            **{c: coords[c][keep] for c in _COORD_COLUMNS[:2]},
            **{c: coords[c][keep] for c in _COORD_COLUMNS[2:]},
            "passengers": pax[keep].astype(np.int64),
            "wheelchair": wheel[keep],
            "earliest_pickup": ep[keep].reset_index(drop=True),
            "latest_arrival": la[keep].reset_index(drop=True),
            "purpose": purpose[keep].astype(str).to_numpy(dtype=object),
        }
    )
    problems.sort(key=lambda p: p.line)
    return frame, problems


def _parse_times(col: pd.Series, timezone: str) -> tuple[pd.Series, np.ndarray]:
    """Timezone-aware times in ``timezone`` and a message per row ('' = fine)."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert(timezone).reset_index(drop=True), np.full(
            len(col), "", dtype=object
        )
    if pd.api.types.is_datetime64_any_dtype(col):
        msg = np.full(len(col), "time without a UTC offset; add one (e.g. +02:00)", dtype=object)
        return pd.Series(pd.NaT, index=range(len(col)), dtype=f"datetime64[ns, {timezone}]"), msg
    values = col.astype("string").fillna("").str.strip().reset_index(drop=True)
    has_offset = values.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True).fillna(False)
    parsed = pd.to_datetime(values.where(has_offset), utc=True, errors="coerce", format="ISO8601")
    msg = np.where(
        values == "",
        "empty time",
        np.where(
            ~has_offset.to_numpy(dtype=bool),
            "not an ISO 8601 time with a UTC offset (e.g. 2022-09-14T07:30:00+02:00)",
            np.where(parsed.isna().to_numpy(), "not a valid ISO 8601 time", ""),
        ),
    ).astype(object)
    return parsed.dt.tz_convert(timezone), msg


def _parse_bool(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=bool), np.zeros(len(col), dtype=bool)
    values = col.astype("string").fillna("").str.strip().str.lower().to_numpy(dtype=object)
    true = np.isin(values, ["true", "1", "yes", "y", "t"])
    false = np.isin(values, ["false", "0", "no", "n", "f"])
    return true, ~(true | false)


def summarize(frame: pd.DataFrame) -> dict[str, object]:
    """Counts for a summary table: requests, passengers, per purpose, peak hour."""
    if frame.empty:
        return {"requests": 0}
    hours = frame["request_time"].dt.hour
    peak = int(hours.value_counts().idxmax())
    return {
        "requests": len(frame),
        "passengers": int(frame["passengers"].sum()),
        "wheelchair": int(frame["wheelchair"].sum()),
        "first": frame["request_time"].min().isoformat(),
        "last": frame["request_time"].max().isoformat(),
        "peak_hour": f"{peak:02d}:00-{peak + 1:02d}:00",
        "purposes": frame["purpose"].value_counts().to_dict(),
    }


__all__ = [
    "REQUEST_COLUMNS",
    "REQUEST_SCHEMA",
    "GenerationStats",
    "ImportResult",
    "RowProblem",
    "TimeSlices",
    "generate_requests",
    "read_requests",
    "summarize",
    "validate_requests",
    "write_requests",
]
