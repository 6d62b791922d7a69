"""CLI verbs of city operations: ``place`` (where to put chargers or eBoxes)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from routing.errors import RequestError

KINDS = ("chargers", "eboxes")


def register(app: typer.Typer) -> None:
    """Add ``place`` to the ``elster`` app."""
    app.command("place")(place)


def place(
    region: str = typer.Argument("heidelberg", help="Region name or path to a region TOML."),
    kind: str = typer.Option("chargers", help="What to place: chargers or eboxes."),
    k: int = typer.Option(10, "--k", min=1, max=500, help="Number of sites to choose."),
    radius_min: float = typer.Option(
        5.0, "--radius-min", help="Covered if the site is within this many minutes."
    ),
    mode: str = typer.Option("walk", help="How people reach a site: walk or bike."),
    candidates: str | None = typer.Option(
        None,
        help="Candidate sites: 'parking' (OSM car parks), 'stops' (transit stops) or a "
        "CSV/GeoJSON file of points. Default: parking for chargers, stops for eboxes.",
    ),
    demand: Path | None = typer.Option(
        None, help="Trip requests CSV (origins and destinations); default: population grid."
    ),
    method: str = typer.Option("auto", help="auto (exact for city sizes), exact or greedy."),
    out: Path = typer.Option(Path("placement"), help="Directory for JSON, GeoJSON and PNG."),
    data_dir: Path | None = typer.Option(None, help="Data directory (default: $ELSTER_DATA_DIR)."),
    cache_dir: Path | None = typer.Option(None, help="Build cache (default: DATA_DIR/cache)."),
    time_limit: float = typer.Option(60.0, help="Solver time limit in seconds."),
) -> None:
    """Choose K sites for chargers or eBoxes covering the most demand within a walk/ride time."""
    from demand import placement
    from routing.build import road_graph
    from routing.regions import load_region

    if kind not in KINDS:
        raise RequestError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if mode not in ("walk", "bike"):
        raise RequestError(f"--mode must be walk or bike, got {mode!r}")
    reg = load_region(region)
    graph = road_graph(reg, mode, data_dir=data_dir, cache_dir=cache_dir)
    source = candidates or ("parking" if kind == "chargers" else "stops")
    if source == "parking":
        sites = placement.osm_parking_sites(reg.source_file("osm", data_dir), bbox=reg.bbox)
    elif source == "stops":
        sites = placement.stop_sites(reg.source_file("gtfs", data_dir), bbox=reg.bbox)
    else:
        sites = placement.read_sites(Path(source))
    if demand is not None:
        points = placement.request_demand(demand)
    else:
        from demand.zensus import load_population_grid

        grid = load_population_grid(reg.source_file("population", data_dir), bbox=reg.bbox)
        points = placement.population_demand(grid, graph)
    result = placement.place(
        graph, sites, points, kind=kind, k=k, radius_min=radius_min, method=method,
        time_limit_s=time_limit,
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    stem = f"placement-{reg.name}-{kind}"
    (out / f"{stem}.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (out / f"{stem}.geojson").write_text(json.dumps(result.geojson()), encoding="utf-8")
    png = result.plot(out / f"{stem}.png", graph)
    typer.echo(
        f"{len(summary['chosen'])} {kind} sites cover {summary['covered']:,.0f} of "
        f"{summary['demand_total']:,.0f} ({summary['covered_share']:.1%}) within "
        f"{radius_min:g} min by {mode} [{summary['method']}"
        f"{', optimal' if summary['optimal'] else ''}; greedy {summary['greedy_covered']:,.0f}]"
    )
    typer.echo(f"{'rank':>4}  {'gain':>10}  {'share':>6}  site")
    for site in summary["chosen"]:
        typer.echo(
            f"{site['rank']:>4}  {site['gain']:>10,.1f}  {site['gain_share']:>6.1%}  "
            f"{site['id']} {site['name']} ({site['lat']:.5f}, {site['lon']:.5f})"
        )
    typer.echo(f"wrote {out / f'{stem}.json'}, {out / f'{stem}.geojson'}, {png}")
