"""CLI verbs of the road domain: fetch, build, route."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from api.commands.common import parse_latlon

PROFILE_HELP = "Road profile: walk, bike or car."


def register(app: typer.Typer) -> None:
    """Add ``fetch``, ``build`` and ``route`` to the ``elster`` app."""
    app.command("fetch")(fetch)
    app.command("build")(build)
    app.command("route")(route)


def fetch(
    region: str = typer.Argument("heidelberg", help="Region name or path to a region TOML."),
    mirror: Path | None = typer.Option(
        None, help="Copy sources from this directory (default: $ELSTER_MIRROR)."
    ),
    data_dir: Path | None = typer.Option(None, help="Data directory (default: $ELSTER_DATA_DIR)."),
    only: list[str] | None = typer.Option(None, help="Fetch only these source keys."),
    force: bool = typer.Option(False, help="Fetch again even if a verified copy exists."),
) -> None:
    """Download or copy a region's data sources into the data directory."""
    from routing.fetch import fetch_region
    from routing.regions import load_region

    results = fetch_region(
        load_region(region), data_dir=data_dir, mirror=mirror, only=only, force=force
    )
    for result in results:
        typer.echo(f"{result.key:12s} {result.action:10s} {result.path}")


def build(
    region: str = typer.Argument("heidelberg", help="Region name or path to a region TOML."),
    profiles: str = typer.Option("walk,bike,car", help="Comma-separated road profiles."),
    data_dir: Path | None = typer.Option(None, help="Data directory (default: $ELSTER_DATA_DIR)."),
    cache_dir: Path | None = typer.Option(None, help="Build cache (default: DATA_DIR/cache)."),
) -> None:
    """Build (or load from cache) the region's road graphs and contraction hierarchies."""
    from routing.regions import load_region
    from routing.road import load_road_networks

    started = time.perf_counter()
    networks = load_road_networks(
        load_region(region),
        tuple(p.strip() for p in profiles.split(",") if p.strip()),
        data_dir=data_dir,
        cache_dir=cache_dir,
    )
    for profile, network in networks.items():
        typer.echo(
            f"{profile:5s} {network.graph.n_nodes:>8,} nodes {network.graph.n_edges:>9,} edges "
            f"{network.hierarchy.n_shortcuts:>9,} shortcuts"
        )
    typer.echo(f"ready in {time.perf_counter() - started:.1f} s")


def route(
    region: str = typer.Argument("heidelberg", help="Region name or path to a region TOML."),
    origin: str | None = typer.Option(None, "--from", help="Origin as LAT,LON."),
    destination: str | None = typer.Option(None, "--to", help="Destination as LAT,LON."),
    profile: str = typer.Option("car", help=PROFILE_HELP),
    samples: bool = typer.Option(
        False, help="Route the region's sample queries with every profile instead."
    ),
    geojson: bool = typer.Option(True, help="Print the route as a GeoJSON line."),
    data_dir: Path | None = typer.Option(None, help="Data directory (default: $ELSTER_DATA_DIR)."),
    cache_dir: Path | None = typer.Option(None, help="Build cache (default: DATA_DIR/cache)."),
) -> None:
    """Fastest road route between two points: distance, time and the line."""
    from routing.errors import RequestError
    from routing.regions import load_region
    from routing.road import load_road_networks

    reg = load_region(region)
    if samples:
        queries = list(reg.sample_queries)
        profiles: tuple[str, ...] = ("walk", "bike", "car")
        if not queries:
            raise RequestError(f"region {reg.name!r} has no sample_queries; use --from/--to")
    else:
        if origin is None or destination is None:
            raise RequestError("give both --from LAT,LON and --to LAT,LON (or use --samples)")
        queries = [(parse_latlon(origin), parse_latlon(destination, option="--to"))]
        profiles = (profile,)
    for point in (p for q in queries for p in q):
        if not reg.contains(*point):
            raise RequestError(
                f"({point[0]}, {point[1]}) lies outside region {reg.name!r} "
                f"(bbox lon {reg.bbox[0]}..{reg.bbox[2]}, lat {reg.bbox[1]}..{reg.bbox[3]}); "
                "pick a point inside it or another region"
            )
    networks = load_road_networks(reg, profiles, data_dir=data_dir, cache_dir=cache_dir)
    for a, b in queries:
        for name in profiles:
            result = networks[name].route(a, b)
            typer.echo(
                f"{name:5s} {a[0]:.5f},{a[1]:.5f} -> {b[0]:.5f},{b[1]:.5f}: "
                f"{result.distance_m / 1000:.2f} km, {result.duration_s / 60:.1f} min"
            )
            if geojson and not samples:
                typer.echo(json.dumps(result.geojson()))
