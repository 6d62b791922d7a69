"""CLI verbs of the road domain: fetch, build, route."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``fetch``, ``build`` and ``route`` to the ``elster`` app."""
    app.command("fetch")(fetch)


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
