"""CLI verbs of the demand domain: ``elster demand REGION ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _parse_window(text: str | None):  # returns (time, time) or None
    from datetime import time

    from routing.errors import RequestError

    if not text:
        return None
    try:
        start, end = text.split("-")
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise RequestError(f"--window {text!r}: use HH:MM-HH:MM, e.g. 06:00-10:00") from None


def demand(
    region: Annotated[str, typer.Argument(help="Region name (regions/NAME.toml) or TOML path.")],
    day: Annotated[
        str | None, typer.Option("--date", help="Service day YYYY-MM-DD (default: the region's).")
    ] = None,
    requests: Annotated[
        int | None,
        typer.Option(
            "--requests", "-n", min=0, help="Number of requests (default: from population)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same stream).")] = 0,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output file (.csv or .parquet); PNGs go beside it.")
    ] = Path("requests.csv"),
    config: Annotated[
        Path | None, typer.Option("--config", help="Demand config TOML (overrides the defaults).")
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help="Local time window HH:MM-HH:MM.")
    ] = None,
    travel_times: Annotated[
        str,
        typer.Option(
            "--travel-times",
            help="auto (road if the map exists, else crow-fly estimate), road or crowfly.",
        ),
    ] = "auto",
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write the PNG charts.")] = True,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Build cache directory.")
    ] = None,
) -> None:
    """Generate a seeded stream of trip requests for a region and a day."""
    from datetime import date

    from demand.config import load_config
    from demand.model import build_demand_model
    from demand.plots import plot_heatmap, plot_hourly
    from demand.requests import generate_requests, summarize, write_requests
    from routing.errors import RequestError
    from routing.regions import load_region

    reg = load_region(region)
    text = day or reg.default_date or date.today().isoformat()
    try:
        service_day = date.fromisoformat(text)
    except ValueError:
        raise RequestError(f"--date {text!r} is not a date; use YYYY-MM-DD") from None
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise RequestError(f"--out {out}: use a .csv or .parquet file name")
    cfg = load_config(config)
    model = build_demand_model(
        reg, config=cfg, data_dir=data_dir, cache_dir=cache_dir, travel_times=travel_times
    )
    frame, stats = generate_requests(
        model, day=service_day, n_requests=requests, seed=seed, window=_parse_window(window)
    )
    write_requests(frame, out)
    written = [out]
    if plots:
        stem = out.with_suffix("")
        title = f"{reg.title}, {service_day} ({stats.day_type}), seed {seed}"
        written.append(plot_heatmap(frame, f"{stem}_heatmap.png", area=model.area, title=title))
        written.append(plot_hourly(frame, f"{stem}_hourly.png", title=title))
    summary = summarize(frame)
    rows = [
        (
            "region",
            f"{reg.name} ({model.zones.size} zones, "
            f"{round(model.zones.population.sum()):,} residents)",
        ),
        ("day", f"{service_day} ({stats.day_type})"),
        ("service area", model.area.name),
        ("travel times", model.travel_times),
        ("attractors", model.attractors),
        ("requests", f"{stats.requests:,} (expected {stats.expected:,.0f})"),
        ("passengers", f"{summary.get('passengers', 0):,}"),
        ("wheelchair", f"{summary.get('wheelchair', 0):,}"),
        ("peak hour", str(summary.get("peak_hour", "-"))),
        (
            "points",
            f"snapped to walk graph, mean {stats.mean_snap_m:.0f} m, "
            f"{stats.fallback_points} beyond max_snap_m"
            if stats.snapped
            else "not snapped (no walk graph offline)",
        ),
    ]
    for name, p in model.purposes.items():
        by_purpose = summary.get("purposes", {})
        count = by_purpose.get(name, 0) if isinstance(by_purpose, dict) else 0
        rows.append(
            (
                f"  {name}",
                f"{count:>6,}  mean {p.mean_minutes:4.1f} min, {p.parameter}={p.value:.4f}",
            )
        )
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        typer.echo(f"{name:<{width}}  {value}")
    for path in written:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add this domain's verbs to the elster app."""
    app.command("demand")(demand)
