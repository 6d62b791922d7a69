"""Placement inputs: candidate sites (OSM car parks, transit stops, a file) and demand points.

Demand is the Zensus population grid spread over the walk-graph nodes of each
cell, or the origins and destinations of a trip-request CSV.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routing.errors import DataError
from routing.graph import RoadGraph


@dataclass(frozen=True)
class Sites:
    """Candidate sites: parallel arrays of id, name, lat, lon."""

    ids: list[str]
    names: list[str]
    lat: np.ndarray
    lon: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Demand:
    """Demand points with weights (people, trips)."""

    lat: np.ndarray
    lon: np.ndarray
    weight: np.ndarray
    source: str = ""

    @property
    def total(self) -> float:
        """Sum of the weights."""
        return float(self.weight.sum())


def read_sites(path: Path | str) -> Sites:
    """Candidate sites from a CSV (``id,name,lat,lon``; id/name optional) or GeoJSON of points.

    Raises
    ------
    DataError
        Missing file, missing columns, or coordinates that are not WGS84.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"candidate file {path} does not exist; give a CSV or GeoJSON of points")
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path} is not valid JSON: {exc}") from None
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list):
            raise DataError(f"{path}: expected a GeoJSON FeatureCollection of Point features")
        ids, names, lats, lons = [], [], [], []
        for i, feature in enumerate(features):
            geometry = (feature or {}).get("geometry") or {}
            coords = geometry.get("coordinates")
            if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
                raise DataError(f"{path}: feature {i} is not a Point; only points can be sites")
            props = feature.get("properties") or {}
            ids.append(str(props.get("id", feature.get("id", i))))
            names.append(str(props.get("name", "")))
            lons.append(float(coords[0]))
            lats.append(float(coords[1]))
        lat, lon = np.asarray(lats, float), np.asarray(lons, float)
    else:
        try:
            frame = pd.read_csv(path, sep=None, engine="python", dtype=str)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read candidate CSV {path}: {exc}") from None
        frame.columns = [c.strip().lower() for c in frame.columns]
        if not {"lat", "lon"} <= set(frame.columns):
            raise DataError(f"{path}: needs columns lat and lon (and optionally id, name)")
        lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(float)
        lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(float)
        ids = frame["id"].tolist() if "id" in frame.columns else [str(i) for i in range(len(frame))]
        names = frame["name"].fillna("").tolist() if "name" in frame.columns else [""] * len(frame)
    bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: site {row + 1} has no valid lat/lon (WGS84 degrees)")
    if not len(ids):
        raise DataError(f"{path} lists no sites")
    return Sites([str(i) for i in ids], [str(n) for n in names], lat, lon, str(path))


def osm_parking_sites(
    osm_path: Path | str, *, bbox: tuple[float, float, float, float] | None = None
) -> Sites:
    """Public car parks (``amenity=parking``, not private) from an OSM file, as points.

    Ways (the usual mapping) are placed at the mean of their nodes.
    """
    import osmium

    ids, names, lats, lons = [], [], [], []
    wanted = osmium.filter.TagFilter(("amenity", "parking"))
    try:
        processor = osmium.FileProcessor(str(osm_path)).with_locations().with_filter(wanted)
        for obj in processor:
            if obj.tags.get("access") in ("private", "no", "customers"):
                continue
            if isinstance(obj, osmium.osm.Node):
                lat, lon = obj.location.lat, obj.location.lon
                kind = "n"
            elif isinstance(obj, osmium.osm.Way):
                points = [(n.location.lat, n.location.lon) for n in obj.nodes if n.location.valid()]
                if not points:
                    continue
                lat, lon = (float(v) for v in np.mean(points, axis=0))
                kind = "w"
            else:
                continue
            ids.append(f"osm:{kind}{obj.id}")
            names.append(obj.tags.get("name", "") or "parking")
            lats.append(lat)
            lons.append(lon)
    except (RuntimeError, OSError) as exc:
        raise DataError(f"cannot read OSM file {osm_path}: {exc}") from None
    site_lat, site_lon = np.asarray(lats, float), np.asarray(lons, float)
    keep = _in_bbox(site_lat, site_lon, bbox)
    sites = Sites(
        [i for i, k in zip(ids, keep, strict=True) if k],
        [n for n, k in zip(names, keep, strict=True) if k],
        site_lat[keep],
        site_lon[keep],
        f"{osm_path} (amenity=parking)",
    )
    if not len(sites):
        raise DataError(
            f"{osm_path} has no public amenity=parking in the region; give --candidates"
        )
    return sites


def stop_sites(
    gtfs_path: Path | str, *, bbox: tuple[float, float, float, float] | None = None
) -> Sites:
    """Transit stops of a GTFS feed as candidate sites (one per parent station or stop)."""
    from routing.transit.gtfs import read_gtfs

    feed = read_gtfs(gtfs_path, bbox=bbox)
    stops = feed.stops.copy()
    stops["key"] = [p or s for p, s in zip(stops["parent_station"], stops["stop_id"], strict=True)]
    grouped = stops.groupby("key", sort=True).agg(
        name=("station_name", "first"), lat=("lat", "mean"), lon=("lon", "mean")
    )
    return Sites(
        [f"stop:{k}" for k in grouped.index],
        grouped["name"].astype(str).tolist(),
        grouped["lat"].to_numpy(float),
        grouped["lon"].to_numpy(float),
        f"{gtfs_path} (stops)",
    )


def population_demand(grid: Any, graph: RoadGraph) -> Demand:
    """Spread each Zensus cell's population evenly over the graph nodes inside the cell.

    Cells without a node put their people on the node nearest the cell centre.
    """
    from demand.zensus import wgs84_to_laea

    size = float(grid.cell_size_m)
    x, y = wgs84_to_laea(np.asarray(graph.lat), np.asarray(graph.lon))
    node_cell = np.floor(x / size).astype(np.int64) * 1_000_000 + np.floor(y / size).astype(
        np.int64
    )
    cx = np.floor(np.asarray(grid.x) / size).astype(np.int64)
    cy = np.floor(np.asarray(grid.y) / size).astype(np.int64)
    cell_key = cx * 1_000_000 + cy
    order = np.argsort(node_cell, kind="stable")
    sorted_cells = node_cell[order]
    lats, lons, weights = [], [], []
    population = np.asarray(grid.population, dtype=float)
    for key, people, clat, clon in zip(cell_key, population, grid.lat, grid.lon, strict=True):
        if people <= 0:
            continue
        lo, hi = np.searchsorted(sorted_cells, key), np.searchsorted(sorted_cells, key, "right")
        nodes = order[lo:hi]
        if nodes.size == 0:
            lats.append([float(clat)])
            lons.append([float(clon)])
            weights.append([float(people)])
            continue
        lats.append(graph.lat[nodes].tolist())
        lons.append(graph.lon[nodes].tolist())
        weights.append([float(people) / nodes.size] * nodes.size)
    flat = lambda parts: np.asarray([v for p in parts for v in p], dtype=float)  # noqa: E731
    return Demand(flat(lats), flat(lons), flat(weights), str(getattr(grid, "source", "zensus")))


def request_demand(path: Path | str) -> Demand:
    """Origins and destinations of a trip-request CSV (``origin_lat``... columns) as demand.

    Each endpoint counts ``passengers`` (1 when the column is absent).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"request file {path} does not exist")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read request CSV {path}: {exc}") from None
    need = {"origin_lat", "origin_lon", "destination_lat", "destination_lon"}
    if not need <= set(frame.columns):
        raise DataError(f"{path}: needs columns {', '.join(sorted(need))} (the request schema)")
    weight = (
        pd.to_numeric(frame["passengers"], errors="coerce").fillna(1).to_numpy(float)
        if "passengers" in frame.columns
        else np.ones(len(frame))
    )
    lat = np.concatenate([frame["origin_lat"], frame["destination_lat"]]).astype(float)
    lon = np.concatenate([frame["origin_lon"], frame["destination_lon"]]).astype(float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        raise DataError(f"{path} has no request with valid coordinates")
    return Demand(lat[ok], lon[ok], np.concatenate([weight, weight])[ok], str(path))


def _in_bbox(lat, lon, bbox) -> np.ndarray:
    if bbox is None:
        return np.ones(np.shape(lat), dtype=bool)
    min_lon, min_lat, max_lon, max_lat = bbox
    return (lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)
