"""CLI verbs of the transit domain: ``elster plan`` (the multimodal planner)."""

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
    at: str = typer.Option(
        ..., "--at", help='Departure (or arrival with --arrive-by), local time: "2022-09-14T08:00".'
    ),
    modes: str = typer.Option(
        "walk,transit",
        "--modes",
        help="Comma-separated: walk, transit, bike, bike_ride, bike_share, free_floating "
        "(e-scooters and dockless bikes), car, ev, ev_park_charge (or 'all').",
    ),
    arrive_by: bool = typer.Option(False, "--arrive-by", help="--at is the latest arrival."),
    wheelchair: bool = typer.Option(
        False, "--wheelchair", help="Step-free trips: no steps, accessible stops and vehicles."
    ),
    strict_access: bool = typer.Option(
        False,
        "--strict-access",
        help="With --wheelchair: only stops and trips published as accessible (not unknown).",
    ),
    window: float = typer.Option(0, "--window", help="Also depart up to this many minutes later."),
    max_transfers: int = typer.Option(5, "--max-transfers", help="Maximum number of changes."),
    max_walk: float = typer.Option(900, "--max-walk", help="Longest access/egress walk, seconds."),
    ev_capacity: float | None = typer.Option(
        None, "--ev-capacity", help="EV usable battery, kWh (enables the ev modes with 'all')."
    ),
    ev_battery: float = typer.Option(80, "--ev-battery", help="EV state of charge, percent."),
    ev_consumption: float = typer.Option(0.18, "--ev-consumption", help="EV use, kWh per km."),
    ev_connectors: str = typer.Option(
        "IEC_62196_T2,IEC_62196_T2_COMBO", "--ev-connectors", help="OCPI plug standards."
    ),
    parked_bike_at: str | None = typer.Option(
        None, "--parked-bike-at", help="Bike-box station id holding your bike (bike_ride home)."
    ),
    realtime: Path | None = typer.Option(
        None, "--realtime", help="GTFS-RT TripUpdates file to apply."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print MOTIS/OTP-style JSON."),
    geojson: bool = typer.Option(False, "--geojson", help="Print a GeoJSON FeatureCollection."),
    data_dir: Path | None = typer.Option(None, help="Data directory (default: $ELSTER_DATA_DIR)."),
    cache_dir: Path | None = typer.Option(None, help="Build cache (default: $ELSTER_CACHE_DIR)."),
) -> None:
    """Plan door-to-door trips with the multimodal planner: the Pareto set of itineraries."""
    import datetime as dt

    from routing.errors import NoRouteError
    from routing.planner import EvSpec, PlanRequest, load_plan_context, plan_to_geojson
    from routing.planner import plan as run_plan
    from routing.planner.request import MODES, parse_modes

    origin, destination = _latlon(from_, "from"), _latlon(to, "to")
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        raise RequestError(f"--at must be ISO 8601 like 2022-09-14T08:00, got {at!r}") from None
    from api.validation import attach_zone
    from routing.regions import load_region

    attach_zone(when, load_region(region).timezone, name="--at")  # DST gap: exit 2
    ev = None
    if ev_capacity is not None:
        ev = EvSpec(
            capacity_kwh=ev_capacity,
            battery_percent=ev_battery,
            consumption_kwh_per_km=ev_consumption,
            connectors=tuple(c.strip() for c in ev_connectors.split(",") if c.strip()),
        )
    if modes.strip().lower() == "all":
        chosen = set(MODES) - {"shuttle"}
        if ev is None:
            chosen -= {"ev", "ev_park_charge"}
        if wheelchair:
            chosen -= {"bike", "bike_ride", "bike_share", "free_floating"}
    else:
        chosen = set(parse_modes(modes))
    if "shuttle" in chosen:
        raise RequestError(
            "the shuttle mode needs the fleet dispatcher of a running server; plan it through "
            "the API, or drop it from --modes"
        )
    needs_transit = bool(chosen & {"transit", "bike_ride"})
    ctx = load_plan_context(
        region,
        date=when.date(),
        data_dir=data_dir,
        cache_dir=cache_dir,
        transit=needs_transit,
        wheelchair=wheelchair,
    )
    if realtime is not None and ctx.transit is not None:
        from routing.transit.realtime import apply_trip_updates

        updated, report = apply_trip_updates(ctx.transit.timetable, realtime)
        ctx.transit = ctx.transit.with_timetable(updated)
        typer.echo(
            f"realtime: {report.updated_trips} trips updated, {report.cancelled_trips} cancelled",
            err=True,
        )
    if ctx.transit is not None:
        ctx.transit.seconds(when)  # a clear error when --at is not on the timetable day
    request = PlanRequest(
        origin,
        destination,
        when,
        modes=frozenset(chosen),
        ev=ev,
        parked_bike_at=parked_bike_at,
        max_walk_s=max_walk,
        max_transfers=max_transfers,
        wheelchair=wheelchair,
        allow_unknown_access=not strict_access,
        arrive_by=arrive_by,
        window_s=window * 60,
        timezone=ctx.transit.timetable.timezone if ctx.transit is not None else "Europe/Berlin",
    )
    result = run_plan(request, ctx)
    if not result.itineraries:
        why = "; ".join(f"{m}: {r}" for m, r in sorted(result.reasons.items()))
        raise NoRouteError(
            f"no itinerary from {origin} to {destination}: {why}; try another time, more "
            "--modes or a larger --max-walk"
        )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    if geojson:
        typer.echo(json.dumps(plan_to_geojson(result), ensure_ascii=False))
        return
    for line in format_itineraries([it.itinerary for it in result.itineraries]):
        typer.echo(line)
    for mode, reason in sorted(result.reasons.items()):
        typer.echo(f"({mode}: {reason})", err=True)


def _minutes(seconds: float) -> str:
    return f"{round(seconds / 60):d} min"


def format_itineraries(itineraries) -> list[str]:
    """Human-readable lines: one header per itinerary, one line per leg."""
    lines = []
    for i, it in enumerate(itineraries, 1):
        lines.append(
            f"{i}. {it.start:%H:%M} -> {it.end:%H:%M}  {_minutes(it.duration_s)}, "
            f"{it.transfers} transfer(s), walk {_minutes(it.walk_time_s)} "
            f"({it.walk_distance_m:,.0f} m)"
        )
        for leg in it.legs:
            if leg.transit:
                toward = f" towards {leg.headsign}" if leg.headsign else ""
                what = f"{leg.mode:5s} {leg.route_short_name}{toward}"
                extra = f"  ({len(leg.intermediate_stops)} stops between)"
            else:
                what = f"{leg.mode:5s} {leg.distance_m:,.0f} m"
                extra = ""
            if leg.extra.get("availability") == "unknown":
                extra += "  [availability unknown: no live data]"
            elif leg.extra.get("reliesOnRealtime"):
                extra += "  [live availability]"
            access = leg.extra.get("accessibility")
            if access and access.get("unknownSegments"):
                extra += f"  [{access['unknownSegments']} segment(s) of unknown accessibility]"
            elif access and access.get("note"):
                extra += f"  [{access['note']}]"
            lines.append(
                f"   {leg.start:%H:%M}-{leg.end:%H:%M}  {what}: {leg.from_place.name} -> "
                f"{leg.to_place.name}{extra}"
            )
    return lines
