"""The demand model of a region: zones, travel times and one trip matrix per purpose.

:func:`zone_model` is the pure computation (zones + a travel-time matrix ->
calibrated, balanced trip matrices); :func:`build_demand_model` loads a
region's files and the road network and calls it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from demand.area import ServiceArea, region_service_area
from demand.attractors import Attractors, read_attractors
from demand.config import DemandConfig, load_config
from demand.gravity import Calibration, balance, calibrate, deterrence, prepare_costs
from demand.network import NodeSnapper, TravelTimeFn, crowfly_travel_times, road_travel_times
from demand.zensus import load_population_grid, load_weight_grid
from demand.zones import Zones, build_zones
from routing.errors import DataError
from routing.regions import Region, load_region

log = logging.getLogger(__name__)

TRAVEL_TIME_MODES = ("auto", "road", "crowfly")


@dataclass(frozen=True)
class PurposeModel:
    """Balanced trips of one purpose and how its deterrence was set."""

    name: str
    trips: np.ndarray
    production: np.ndarray
    attraction: np.ndarray
    parameter: str
    value: float
    mean_minutes: float
    iterations: int
    max_error: float


@dataclass(frozen=True)
class DemandModel:
    """Everything request generation needs.

    Attributes
    ----------
    region : str
        Region name.
    timezone : str
        IANA timezone of the region.
    zones : Zones
        Zones (only those reachable on the travel-time matrix).
    area : ServiceArea
        Where requests may start and end.
    cost_minutes : ndarray, shape (n, n)
        Zone-to-zone travel times (intrazonal estimate on the diagonal).
    purposes : dict of str to PurposeModel
        Trip matrices.
    config : DemandConfig
        Parameters used.
    travel_times : str
        How the matrix was obtained (shown in summaries).
    attractors : str
        Where the attractors came from (or why there are none).
    walk_snapper : NodeSnapper or None
        Snaps request points onto the walk graph; ``None`` when no walk graph
        exists (points then stay where drawn, inside the area).
    """

    region: str
    timezone: str
    zones: Zones
    area: ServiceArea
    cost_minutes: np.ndarray
    purposes: dict[str, PurposeModel]
    config: DemandConfig
    travel_times: str
    attractors: str
    walk_snapper: NodeSnapper | None


def zone_model(
    zones: Zones,
    seconds: np.ndarray,
    config: DemandConfig,
    *,
    area: ServiceArea,
    region: str = "",
    timezone: str = "Europe/Berlin",
    travel_times: str = "given matrix",
    attractors: str = "",
    walk_snapper: NodeSnapper | None = None,
) -> DemandModel:
    """Build per-purpose trip matrices from zones and a travel-time matrix in seconds.

    Zones without a finite travel time to at least half of the other zones
    (no road nearby) are dropped with a warning. Each purpose's deterrence
    is calibrated to ``[gravity] target_mean_minutes`` when ``calibrate`` is
    on, then Furness-balanced.

    Raises
    ------
    DataError
        The matrix does not match the zones, or no usable zone remains.
    """
    seconds = np.asarray(seconds, dtype=float)
    if seconds.shape != (zones.size, zones.size):
        raise DataError(
            f"travel-time matrix has shape {seconds.shape}, expected "
            f"{zones.size} x {zones.size} zones"
        )
    finite = np.isfinite(seconds)
    usable = (finite.sum(axis=1) > zones.size / 2) & (finite.sum(axis=0) > zones.size / 2)
    if not usable.all():
        lost = ~usable
        log.warning(
            "dropping %d of %d zones (%d residents) without travel times: no road "
            "near their centroid",
            int(lost.sum()),
            zones.size,
            round(zones.population[lost].sum()),
        )
        zones = subset_zones(zones, usable)
        seconds = seconds[np.ix_(usable, usable)]
    if zones.size == 0 or zones.population.sum() <= 0:
        raise DataError("no populated zone has travel times; check the map and the area")
    g = config.gravity
    cost = prepare_costs(seconds, min_minutes=g.min_minutes, intrazonal_share=g.intrazonal_share)
    purposes: dict[str, PurposeModel] = {}
    for name, purpose in config.purposes.items():
        P = zones.weighted(purpose.production, config.attractor_weights)
        A = zones.weighted(purpose.attraction, config.attractor_weights)
        if P.sum() <= 0 or A.sum() <= 0:
            log.info(
                "purpose %s: no %s in the zones; using residents instead",
                name,
                "production" if P.sum() <= 0 else "attraction",
            )
            P = P if P.sum() > 0 else zones.population.copy()
            A = A if A.sum() > 0 else zones.population.copy()
        P = P / P.sum()
        A = A / A.sum()
        if g.calibrate:
            cal: Calibration = calibrate(
                P,
                A,
                cost,
                kind=g.deterrence,
                target_mean=g.target_mean_minutes,
                alpha=g.alpha,
                beta=g.beta,
                method=g.calibration_method,
                tolerance=g.calibration_tolerance,
                balance_tolerance=g.balance_tolerance,
                max_iterations=g.max_iterations,
            )
            result, param, value = cal.result, cal.parameter, cal.value
        else:
            param = "alpha" if g.deterrence == "power" else "beta"
            value = g.alpha if param == "alpha" else g.beta
            result = balance(
                P,
                A,
                deterrence(cost, g.deterrence, alpha=g.alpha, beta=g.beta),
                tolerance=g.balance_tolerance,
                max_iterations=g.max_iterations,
            )
        purposes[name] = PurposeModel(
            name=name,
            trips=result.trips,
            production=P,
            attraction=A,
            parameter=param,
            value=float(value),
            mean_minutes=result.mean_cost(cost),
            iterations=result.iterations,
            max_error=result.max_error,
        )
    log.info(
        "demand model: %d zones, %d purposes, mean trip %s min",
        zones.size,
        len(purposes),
        "/".join(f"{p.mean_minutes:.1f}" for p in purposes.values()),
    )
    return DemandModel(
        region,
        timezone,
        zones,
        area,
        cost,
        purposes,
        config,
        travel_times,
        attractors,
        walk_snapper,
    )


def subset_zones(zones: Zones, keep: np.ndarray) -> Zones:
    """The zones where ``keep`` is true (sub-cells follow their zones)."""
    keep = np.asarray(keep, dtype=bool)
    remap = np.full(zones.size, -1, dtype=np.int64)
    remap[keep] = np.arange(int(keep.sum()))
    sub_keep = keep[zones.sub_zone]
    sz = remap[zones.sub_zone[sub_keep]].astype(np.int32)
    first = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.add.at(first, sz.astype(np.int64) + 1, 1)
    return replace(
        zones,
        cell_id=zones.cell_id[keep],
        x=zones.x[keep],
        y=zones.y[keep],
        lat=zones.lat[keep],
        lon=zones.lon[keep],
        population=zones.population[keep],
        inside_share=zones.inside_share[keep],
        attractors=zones.attractors[keep],
        geometry=zones.geometry[keep],
        sub_zone=sz,
        sub_x=zones.sub_x[sub_keep],
        sub_y=zones.sub_y[sub_keep],
        sub_half=zones.sub_half[sub_keep],
        sub_weight=zones.sub_weight[sub_keep],
        sub_first=np.cumsum(first),
    )


def region_zones(
    region: Region, config: DemandConfig, *, data_dir: Path | None = None
) -> tuple[Zones, ServiceArea, str]:
    """Load a region's grid, weight grid, service area and attractors; build its zones.

    Returns the zones, the service area and a note on the attractors' source.
    """
    area = region_service_area(region, data_dir)
    grid = load_population_grid(region.source_file("population", data_dir), bbox=region.bbox)
    weights = None
    if config.use_weight_grid and region.has_source("buildings"):
        weights = load_weight_grid(region.source_file("buildings", data_dir))
    attractors = Attractors.empty()
    note = "none"
    if region.has_source("osm") and region.source_file("osm", data_dir).is_file():
        attractors = read_attractors(region.source_file("osm", data_dir), bbox=region.bbox)
        note = f"OSM ({attractors.size} features)"
    else:
        log.warning(
            "region %s: no OSM extract at %s; attractors fall back to population only",
            region.name,
            region.source_file("osm", data_dir) if region.has_source("osm") else "(no osm source)",
        )
        note = "none (no OSM extract): population only"
    zones = build_zones(
        grid,
        area,
        attractors=attractors,
        weight_grid=weights,
        min_inside_share=config.min_inside_share,
    )
    return zones, area, note


def build_demand_model(
    region: Region | str,
    *,
    config: DemandConfig | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    travel_times: str | TravelTimeFn = "auto",
) -> DemandModel:
    """Build a region's demand model from its files and road network.

    Parameters
    ----------
    region : Region or str
        The region.
    config : DemandConfig, optional
        Parameters (default: :func:`demand.config.load_config`).
    data_dir, cache_dir : Path, optional
        Data and build-cache directories.
    travel_times : {"auto", "road", "crowfly"} or callable
        ``"road"``: car travel times on the region's road graph (needs its OSM
        extract). ``"crowfly"``: straight-line estimate. ``"auto"``: road when
        the extract exists, else the estimate with a warning. A callable
        ``f(lat, lon) -> seconds`` supplies the matrix directly.

    Raises
    ------
    DataError
        Missing or malformed inputs (the message names the file and the fix).
    """
    region = load_region(region) if isinstance(region, str) else region
    config = config or load_config()
    started = time.perf_counter()
    zones, area, att_note = region_zones(region, config, data_dir=data_dir)
    has_map = region.has_source("osm") and region.source_file("osm", data_dir).is_file()
    walk_snapper = None
    if callable(travel_times):
        seconds = travel_times(zones.lat, zones.lon)
        how = "supplied matrix"
    elif travel_times not in TRAVEL_TIME_MODES:
        raise DataError(
            f"travel_times must be one of {', '.join(TRAVEL_TIME_MODES)}, got {travel_times!r}"
        )
    elif travel_times == "crowfly" or (travel_times == "auto" and not has_map):
        if travel_times == "auto":
            log.warning(
                "region %s has no OSM extract offline: zone travel times are a "
                "crow-fly estimate (x%.2f at %.0f km/h) and points are not snapped",
                region.name,
                config.crowfly_detour,
                config.crowfly_speed_kmh,
            )
        seconds = crowfly_travel_times(
            zones.lat, zones.lon, speed_kmh=config.crowfly_speed_kmh, detour=config.crowfly_detour
        )
        how = (
            f"crow-fly estimate (x{config.crowfly_detour:g} detour at "
            f"{config.crowfly_speed_kmh:g} km/h)"
        )
    else:
        if not has_map:
            raise DataError(
                f"region {region.name} has no OSM extract at "
                f"{region.source_file('osm', data_dir) if region.has_source('osm') else '-'}; "
                f"run `elster fetch {region.name}` or use the crow-fly estimate (--travel-times "
                f"crowfly)"
            )
        seconds, how = None, ""
    if has_map:
        from routing.build import road_graphs
        from routing.ch import customized_hierarchy
        from routing.regions import default_cache_dir

        graphs = road_graphs(region, ("car", "walk"), data_dir=data_dir, cache_dir=cache_dir)
        walk_snapper = NodeSnapper.for_graph(graphs["walk"], area)
        if seconds is None:
            hierarchy = customized_hierarchy(
                graphs["car"], cache_dir=cache_dir or default_cache_dir()
            )
            seconds = road_travel_times(
                graphs["car"],
                zones.lat,
                zones.lon,
                max_snap_m=config.centroid_max_snap_m,
                hierarchy=hierarchy,
            )
            how = f"road (car graph, {graphs['car'].n_nodes} nodes)"
    if seconds is None:  # pragma: no cover - every branch above sets it
        raise DataError(f"no travel times for region {region.name}")
    model = zone_model(
        zones,
        seconds,
        config,
        area=area,
        region=region.name,
        timezone=region.timezone,
        travel_times=how,
        attractors=att_note,
        walk_snapper=walk_snapper,
    )
    log.info("built demand model of %s in %.2f s", region.name, time.perf_counter() - started)
    return model
