"""CLI verbs of the transit domain: ``elster plan``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from routing.errors import RequestError


def register(app: typer.Typer) -> None:
    """Add ``plan`` to the ``elster`` app."""
    app.command("plan")(plan)


def _latlon(text: str, what: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise RequestError(
            f"--{what} must be LAT,LON in degrees (e.g. 49.4094,8.6937), got {text!r}"
        ) from None
    return lat, lon


def plan(
    region: str = typer.Argument("heidelberg", help="Region name or path to a region TOML."),
    from_: str = typer.Option(..., "--from", help="Origin as LAT,LON."),
    to: str = typer.Option(..., "--to", help="Destination as LAT,LON."),
    at: str = typer.Option(..., "--at", help='Departure, local time, e.g. "2022-09-14T08:00".'),
    window: float = typer.Option(0, "--window", help="Also depart up to this many minutes later."),
    max_transfers: int = typer.Option(5, "--max-transfers", help="Maximum number of changes."),
    max_walk: float = typer.Option(900, "--max-walk", help="Longest access/egress walk, seconds."),
    realtime: Path | None = typer.Option(
        None, "--realtime", help="GTFS-RT TripUpdates file to apply."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print MOTIS/OTP-style JSON."),
    geojson: bool = typer.Option(False, "--geojson", help="Print a GeoJSON FeatureCollection."),
    data_dir: Path | None = typer.Option(None, help="Data directory (default: $ELSTER_DATA_DIR)."),
    cache_dir: Path | None = typer.Option(None, help="Build cache (default: $ELSTER_CACHE_DIR)."),
) -> None:
    """Plan walk + public transport trips: the Pareto set of departure, arrival and changes."""
    import datetime as dt

    from routing.transit.door_to_door import load_transit_network, plan_transit

    origin, destination = _latlon(from_, "from"), _latlon(to, "to")
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        raise RequestError(f"--at must be ISO 8601 like 2022-09-14T08:00, got {at!r}") from None
    network = load_transit_network(region, when.date(), data_dir=data_dir, cache_dir=cache_dir)
    if realtime is not None:
        from routing.transit.realtime import apply_trip_updates

        updated, report = apply_trip_updates(network.timetable, realtime)
        network = network.with_timetable(updated)
        typer.echo(
            f"realtime: {report.updated_trips} trips updated, {report.cancelled_trips} cancelled",
            err=True,
        )
    itineraries = plan_transit(
        network,
        origin,
        destination,
        when,
        window_min=window,
        max_transfers=max_transfers,
        max_walk_s=max_walk,
    )
    if as_json:
        typer.echo(
            json.dumps(
                {"itineraries": [it.to_dict() for it in itineraries]}, indent=2, ensure_ascii=False
            )
        )
        return
    if geojson:
        features = []
        for i, it in enumerate(itineraries):
            for f in it.to_geojson()["features"]:
                f["properties"]["itinerary"] = i
                features.append(f)
        typer.echo(
            json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        )
        return
    for line in format_itineraries(itineraries):
        typer.echo(line)


def _minutes(seconds: float) -> str:
    return f"{round(seconds / 60):d} min"


def format_itineraries(itineraries) -> list[str]:
    """Human-readable lines: one header per itinerary, one line per leg."""
    lines = []
    for i, it in enumerate(itineraries, 1):
        lines.append(
            f"{i}. {it.start:%H:%M} -> {it.end:%H:%M}  {_minutes(it.duration_s)}, "
            f"{it.transfers} transfer(s), walk {_minutes(it.walk_time_s)} ({it.walk_distance_m:,.0f} m)"
        )
        for leg in it.legs:
            if leg.transit:
                toward = f" towards {leg.headsign}" if leg.headsign else ""
                what = f"{leg.mode:5s} {leg.route_short_name}{toward}"
                extra = f"  ({len(leg.intermediate_stops)} stops between)"
            else:
                what = f"{leg.mode:5s} {leg.distance_m:,.0f} m"
                extra = ""
            lines.append(
                f"   {leg.start:%H:%M}-{leg.end:%H:%M}  {what}: {leg.from_place.name} -> "
                f"{leg.to_place.name}{extra}"
            )
    return lines
