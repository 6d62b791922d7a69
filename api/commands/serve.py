"""CLI verb ``elster serve``: run the trip-planning API and the map page."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``elster`` app."""
    app.command("serve")(serve)


def serve(
    region: str = typer.Argument("heidelberg", help="Region name or path to a region TOML."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(
        2,
        min=1,
        help="Worker processes (one per core; shuttle plans stay in step through the "
        "bookings database).",
    ),
    data_dir: Path | None = typer.Option(None, help="Data directory (default: $ELSTER_DATA_DIR)."),
    cache_dir: Path | None = typer.Option(None, help="Build cache (default: $ELSTER_CACHE_DIR)."),
    database_url: str | None = typer.Option(
        None, help="Bookings database URL (default: SQLite in the data directory)."
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API under /api/v1 and the map at / (settings also from ELSTER_* variables)."""
    from api.workers import run, uvicorn_speedups
    from routing.regions import load_region

    load_region(region)  # fail fast with a clear message on an unknown region
    os.environ["ELSTER_REGION"] = region
    if data_dir is not None:
        os.environ["ELSTER_DATA_DIR"] = str(data_dir.resolve())
    if cache_dir is not None:
        os.environ["ELSTER_CACHE_DIR"] = str(cache_dir.resolve())
    if database_url is not None:
        os.environ["ELSTER_DATABASE_URL"] = database_url
    os.environ["ELSTER_WORKERS"] = str(workers)  # per-worker shares of the rate limits
    typer.echo(f"serving {region} on http://{host}:{port}/ (API docs at /docs)")
    # One listening socket per worker (SO_REUSEPORT): the kernel balances connections.
    status = run(
        "api.app:create_app",
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        **uvicorn_speedups(),
    )
    if status != 0:  # the supervisor gave up: a process manager should restart us
        raise typer.Exit(code=status)
