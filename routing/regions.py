"""Regions: TOML files naming a city's bounding box, timezone and data sources.

A region file lives in ``regions/NAME.toml``. Each ``[sources.KEY]`` table has a
``kind`` (osm, gtfs, zensus, bnetza, gbfs, ...), a ``path`` relative to the
data directory (and to a mirror directory, which has the same layout), a public
``url`` and, where the file is fixed, its ``sha256``. Any other keys are
kind-specific options (for example ``agencies`` for a GTFS filter). The
``[live.KEY]`` tables name the feeds the server polls
(:mod:`routing.live_sources`).

The file is validated by the pydantic model :class:`RegionFile`; a mistake
raises :class:`RegionError` naming the file, the key and the fix
(:func:`routing.validation.format_error`).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

from routing.errors import RegionError
from routing.live_sources import LiveSource, parse_live_sources
from routing.validation import validate

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGION = "heidelberg"


@dataclass(frozen=True)
class Source:
    """One data source of a region.

    Attributes
    ----------
    key : str
        The source's name in the region file (``osm``, ``gtfs``, ...).
    kind : str
        What the file is, which decides the loader.
    path : str
        Location relative to the data directory and to any mirror.
    url : str or None
        Public download address.
    sha256 : str or None
        Expected checksum when the published file is fixed.
    options : dict
        Kind-specific settings.
    """

    key: str
    kind: str
    path: str
    url: str | None = None
    sha256: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Region:
    """A city: bounding box, timezone, sample queries and data sources."""

    name: str
    title: str
    timezone: str
    bbox: tuple[float, float, float, float]
    sources: dict[str, Source]
    file: Path
    default_date: str | None = None
    sample_queries: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = ()
    live: dict[str, LiveSource] = field(default_factory=dict)

    def source(self, key: str) -> Source:
        """Return source ``key`` or raise :class:`RegionError` naming what exists."""
        try:
            return self.sources[key]
        except KeyError:
            have = ", ".join(sorted(self.sources)) or "none"
            raise RegionError(
                f"region {self.name!r} has no {key!r} source (it has: {have}); "
                f"add a [sources.{key}] table to {self.file}"
            ) from None

    def has_source(self, key: str) -> bool:
        """Return whether the region names a source ``key``."""
        return key in self.sources

    def source_file(self, key: str, data_dir: Path | None = None) -> Path:
        """Return where source ``key`` lives in the local data directory."""
        return (data_dir or default_data_dir()) / self.source(key).path

    def contains(self, lat: float, lon: float) -> bool:
        """Return whether a WGS84 point lies inside the region's bounding box."""
        min_lon, min_lat, max_lon, max_lat = self.bbox
        return min_lat <= lat <= max_lat and min_lon <= lon <= max_lon


def regions_dir() -> Path:
    """Directory holding the region TOML files (``ELSTER_REGIONS_DIR`` or ``regions/``)."""
    return Path(os.environ.get("ELSTER_REGIONS_DIR", PROJECT_ROOT / "regions"))


def default_data_dir() -> Path:
    """Local data directory (``ELSTER_DATA_DIR``, default ``./data``)."""
    return Path(os.environ.get("ELSTER_DATA_DIR", "data")).resolve()


def default_cache_dir() -> Path:
    """Directory for built artefacts (``ELSTER_CACHE_DIR``, default ``DATA_DIR/cache``)."""
    env = os.environ.get("ELSTER_CACHE_DIR")
    return Path(env).resolve() if env else default_data_dir() / "cache"


def available_regions() -> list[str]:
    """Names of all region files in :func:`regions_dir`."""
    return sorted(p.stem for p in regions_dir().glob("*.toml"))


def load_region(name_or_path: str | Path | None = None) -> Region:
    """Load a region by name (``regions/NAME.toml``) or by file path.

    Parameters
    ----------
    name_or_path : str or Path, optional
        Region name or path to a TOML file; default :data:`DEFAULT_REGION`.

    Raises
    ------
    RegionError
        The region is unknown or its file is invalid.
    """
    name_or_path = name_or_path or os.environ.get("ELSTER_REGION") or DEFAULT_REGION
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = regions_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(available_regions()) or "none"
        raise RegionError(
            f"unknown region {str(name_or_path)!r}: no file {path}; known regions: {known}"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegionError(f"{path}: not valid TOML ({exc}); fix the file's syntax") from None
    return _parse_region(raw, path)


def _bbox(value: Any) -> Any:
    """``[min_lon, min_lat, max_lon, max_lat]`` with min < max."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not (value[0] < value[2] and value[1] < value[3])
    ):
        raise ValueError(
            f"must be [min_lon, min_lat, max_lon, max_lat] with min < max, got {value!r}"
        )
    return tuple(float(v) for v in value)


def _sample_queries(value: Any) -> Any:
    """A list of ``[[lat, lon], [lat, lon]]`` pairs."""
    try:
        return tuple(((float(a[0]), float(a[1])), (float(b[0]), float(b[1]))) for a, b in value)
    except (TypeError, ValueError, IndexError):
        raise ValueError(
            f"must be a list of [[lat, lon], [lat, lon]] pairs, got {value!r}"
        ) from None


class SourceTable(BaseModel):
    """A ``[sources.KEY]`` table: kind and path, optional url and sha256, any options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    path: str
    url: str | None = None
    sha256: str | None = None

    @field_validator("kind", "path", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        """Kinds and paths are written as strings; numbers are taken as their text."""
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )


class RegionFile(BaseModel):
    """The top level of a region file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str | None = None
    timezone: str
    bbox: Annotated[tuple[float, float, float, float], BeforeValidator(_bbox)]
    default_date: str | None = None
    sample_queries: Annotated[
        tuple[tuple[tuple[float, float], tuple[float, float]], ...],
        BeforeValidator(_sample_queries),
    ] = ()
    sources: dict[str, SourceTable] = {}
    # Checked by routing.live_sources (its own model), which needs the file's path.
    live: Any = None

    @field_validator("default_date", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        """TOML dates (``default_date = 2022-09-14``) are kept as ISO text."""
        return value.isoformat() if isinstance(value, dt.date) else value


def _parse_region(raw: dict[str, Any], path: Path) -> Region:
    """Validate a parsed region file (raises :class:`RegionError` naming the key and fix)."""
    model = validate(RegionFile, raw, source=str(path), error=RegionError)
    sources = {
        key: Source(
            key=key,
            kind=table.kind,
            path=table.path,
            url=table.url,
            sha256=table.sha256,
            options=dict(table.model_extra or {}),
        )
        for key, table in model.sources.items()
    }
    return Region(
        name=model.name,
        title=model.title if model.title is not None else model.name,
        timezone=model.timezone,
        bbox=model.bbox,
        sources=sources,
        file=path,
        default_date=model.default_date,
        sample_queries=model.sample_queries,
        live=parse_live_sources(model.live, path),
    )
