"""Regions: TOML files naming a city's bounding box, timezone and data sources.

A region file lives in ``regions/NAME.toml``. Each ``[sources.KEY]`` table has a
``kind`` (osm, gtfs, zensus, bnetza, gbfs, ...), a ``path`` relative to the
data directory (and to a mirror directory, which has the same layout), a public
``url`` and, where the file is fixed, its ``sha256``. Any other keys are
kind-specific options (for example ``agencies`` for a GTFS filter). The
``[live.KEY]`` tables name the feeds the server polls
(:mod:`routing.live_sources`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing.errors import RegionError
from routing.live_sources import LiveSource, parse_live_sources

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGION = "heidelberg"
_SOURCE_KEYS = {"kind", "path", "url", "sha256"}


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


def _parse_region(raw: dict[str, Any], path: Path) -> Region:
    def need(key: str) -> Any:
        if key not in raw:
            raise RegionError(f"{path}: missing key {key!r}; add it at the top level")
        return raw[key]

    bbox = need("bbox")
    if (
        not isinstance(bbox, list)
        or len(bbox) != 4
        or not all(isinstance(v, int | float) for v in bbox)
        or not (bbox[0] < bbox[2] and bbox[1] < bbox[3])
    ):
        raise RegionError(
            f"{path}: 'bbox' must be [min_lon, min_lat, max_lon, max_lat] with min < max, "
            f"got {bbox!r}"
        )
    sources: dict[str, Source] = {}
    for key, table in (raw.get("sources") or {}).items():
        if not isinstance(table, dict) or "kind" not in table or "path" not in table:
            raise RegionError(f"{path}: [sources.{key}] needs at least 'kind' and 'path'")
        options = {k: v for k, v in table.items() if k not in _SOURCE_KEYS}
        sources[key] = Source(
            key=key,
            kind=str(table["kind"]),
            path=str(table["path"]),
            url=table.get("url"),
            sha256=table.get("sha256"),
            options=options,
        )
    queries = tuple(
        ((float(a[0]), float(a[1])), (float(b[0]), float(b[1])))
        for a, b in raw.get("sample_queries", [])
    )
    return Region(
        name=str(need("name")),
        title=str(raw.get("title", raw["name"])),
        timezone=str(need("timezone")),
        bbox=(float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])),
        sources=sources,
        file=path,
        default_date=raw.get("default_date"),
        sample_queries=queries,
        live=parse_live_sources(raw.get("live"), path),
    )
