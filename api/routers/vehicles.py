"""``/vehicles``: what real shuttles and their drivers report, and the driver's manifest.

Each vehicle has its own credential (``X-Vehicle-Token``, issued by an
operator with ``POST /fleet/vehicles/{id}/credential``): it is valid for that
vehicle's paths only, so one vehicle cannot report for another. Every report
carries a ``reportId`` chosen by the device; sending the same report again
(a retry after a lost answer) answers what was answered the first time and
counts once. Reports need ``ELSTER_SHUTTLE_OPERATION=live``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import get_state
from api.errors import AuthError, NotFoundError
from api.json import json_response
from api.routers.shuttle import local_datetime
from api.schemas import ERROR_RESPONSES, ErrorBody
from api.state import RegionState
from api.validation import check_in_region
from fleet.online.protocol import VehicleReport
from routing.errors import RequestError

router = APIRouter(
    prefix="/vehicles",
    tags=["vehicles"],
    responses={
        **ERROR_RESPONSES,
        401: {"model": ErrorBody, "description": "Missing or wrong X-Vehicle-Token"},
        409: {"model": ErrorBody, "description": "The report does not fit the vehicle's state"},
    },
)

VEHICLE_ID = Path(pattern=r"^[A-Za-z0-9_-]{1,36}$", description="Vehicle id, e.g. V001.")
REPORT_ID = Field(
    alias="reportId",
    min_length=8,
    max_length=100,
    pattern=r"^[A-Za-z0-9._:-]+$",
    description="Device-chosen unique id of this report: a retry with it counts once.",
)
TS = Field(description="When it happened, device time (ISO 8601 with offset).")


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    report_id: str = REPORT_ID
    ts: AwareDatetime = TS


class ShiftStartIn(_Report):
    """A vehicle joins the fleet where it stands."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    seats: int = Field(ge=0, le=60, description="Seats available on this shift.")
    wheelchairs: int = Field(default=0, ge=0, le=8, description="Wheelchair places.")
    soc_kwh: float | None = Field(default=None, alias="socKwh", ge=0, le=1000)


class ShiftEndIn(_Report):
    """A vehicle leaves the fleet (refused while passengers are on board)."""


class PositionIn(_Report):
    """A GPS fix."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class StopEventIn(_Report):
    """Something happened at a stop (or the vehicle broke down)."""

    kind: Literal["arrived", "picked_up", "dropped_off", "no_show", "out_of_service"]
    booking: str | None = Field(
        default=None, max_length=36, description="The booking (every kind but out_of_service)."
    )
    stop: Literal["pickup", "dropoff"] | None = Field(
        default=None, description="arrived: at the pickup or the drop-off."
    )
    passengers: int = Field(default=0, ge=0, le=60, description="picked_up: people boarding.")
    wheelchairs: int = Field(default=0, ge=0, le=8, description="picked_up: wheelchairs.")
    reason: str = Field(default="", max_length=200, description="out_of_service: what happened.")


class ReportOut(BaseModel):
    """The answer to a report."""

    report_id: str = Field(alias="reportId")
    applied: bool
    replayed: bool = Field(description="True when this reportId was answered before.")
    changes: dict[str, Any] = Field(
        default_factory=dict,
        description="Bookings moved, delayed, cancelled, rescued or stranded by this report.",
    )


class ManifestStopOut(BaseModel):
    """One stop of a driver's manifest."""

    booking: str
    kind: Literal["pickup", "dropoff"]
    lat: float
    lon: float
    eta: datetime | None
    window_start: datetime | None = Field(alias="windowStart")
    window_end: datetime | None = Field(alias="windowEnd")
    passengers: int
    wheelchairs: int
    status: Literal["planned", "arrived"]
    rescue: bool = Field(description="A pickup of passengers from a broken-down vehicle.")
    pickup_code: str | None = Field(alias="pickupCode", description="The passenger shows it.")


class ManifestOut(BaseModel):
    """A vehicle's next stops in order."""

    vehicle: str
    stops: list[ManifestStopOut]


async def require_vehicle(
    vehicle_id: str = VEHICLE_ID,
    token: str | None = Header(
        default=None,
        alias="X-Vehicle-Token",
        max_length=200,
        description="The vehicle's credential (POST /fleet/vehicles/{id}/credential).",
    ),
    state: RegionState = Depends(get_state),
) -> str:
    """Accept the request only with this vehicle's own credential."""
    valid = state.bookings.check_vehicle_token(vehicle_id, token)
    if valid is None:
        raise NotFoundError(
            f"no vehicle {vehicle_id!r} has a credential on this server",
            fix="use the vehicle id an operator issued the credential for "
            "(POST /fleet/vehicles/{id}/credential)",
        )
    if not token:
        raise AuthError(
            "vehicle reports need the vehicle's credential",
            fix="send it in the X-Vehicle-Token header; an operator issues it",
        )
    if not valid:
        raise AuthError(
            f"the X-Vehicle-Token is not valid for vehicle {vehicle_id}",
            fix="use this vehicle's current credential (a new one revokes the old)",
        )
    return vehicle_id


def _report(state: RegionState, body: _Report, report: VehicleReport) -> dict[str, Any]:
    answer, replayed = state.shuttle.report(report, body.report_id)
    return {
        "reportId": body.report_id,
        "applied": bool(answer.get("applied")),
        "replayed": replayed,
        "changes": answer.get("changes", {}),
    }


@router.post("/{vehicle_id}/shift/start", response_model=ReportOut, summary="Start a shift")
async def shift_start(
    body: ShiftStartIn,
    vehicle_id: str = Depends(require_vehicle),
    state: RegionState = Depends(get_state),
) -> Any:
    """Join the fleet at this position with these seats; bookings are planned on it from now."""
    check_in_region(state, body.lat, body.lon, name="lat/lon")
    report = VehicleReport(
        vehicle=vehicle_id, kind="shift_start", ts=body.ts.timestamp(), lat=body.lat,
        lon=body.lon, passengers=body.seats, wheelchairs=body.wheelchairs, soc_kwh=body.soc_kwh,
    )  # fmt: skip
    return json_response(await run_in_threadpool(_report, state, body, report))


@router.post("/{vehicle_id}/shift/end", response_model=ReportOut, summary="End a shift")
async def shift_end(
    body: ShiftEndIn,
    vehicle_id: str = Depends(require_vehicle),
    state: RegionState = Depends(get_state),
) -> Any:
    """Leave the fleet; planned pickups go to other vehicles (refused with passengers on board)."""
    report = VehicleReport(vehicle=vehicle_id, kind="shift_end", ts=body.ts.timestamp())
    return json_response(await run_in_threadpool(_report, state, body, report))


@router.post("/{vehicle_id}/positions", response_model=ReportOut, summary="Report a GPS fix")
async def position(
    body: PositionIn,
    vehicle_id: str = Depends(require_vehicle),
    state: RegionState = Depends(get_state),
) -> Any:
    """A fix, snapped to the shuttle's roads; older than the last fix or impossible: 409/422."""
    check_in_region(state, body.lat, body.lon, name="lat/lon")
    report = VehicleReport(
        vehicle=vehicle_id, kind="position", ts=body.ts.timestamp(), lat=body.lat, lon=body.lon
    )
    return json_response(await run_in_threadpool(_report, state, body, report))


@router.post("/{vehicle_id}/events", response_model=ReportOut, summary="Report a stop event")
async def stop_event(
    body: StopEventIn,
    vehicle_id: str = Depends(require_vehicle),
    state: RegionState = Depends(get_state),
) -> Any:
    """``arrived``, ``picked_up``, ``dropped_off``, ``no_show`` or ``out_of_service``."""
    if body.kind != "out_of_service" and not body.booking:
        raise RequestError(f"{body.kind} needs the booking it is about; send booking")
    if body.kind == "arrived" and body.stop is None:
        raise RequestError("arrived needs stop: pickup or dropoff")
    report = VehicleReport(
        vehicle=vehicle_id, kind=body.kind, ts=body.ts.timestamp(), booking=body.booking,
        stop=body.stop or "", passengers=body.passengers, wheelchairs=body.wheelchairs,
        reason=body.reason,
    )  # fmt: skip
    return json_response(await run_in_threadpool(_report, state, body, report))


@router.get("/{vehicle_id}/manifest", response_model=ManifestOut, summary="The driver's manifest")
async def manifest(
    vehicle_id: str = Depends(require_vehicle), state: RegionState = Depends(get_state)
) -> Any:
    """The next stops in order with planned times, passengers and pickup codes."""
    stops = await run_in_threadpool(state.shuttle.manifest, vehicle_id)

    def iso(t: float | None) -> str | None:
        return None if t is None else local_datetime(state, t).isoformat()  # type: ignore[union-attr]

    return json_response(
        {
            "vehicle": vehicle_id,
            "stops": [
                {
                    "booking": s["booking"],
                    "kind": s["kind"],
                    "lat": s["lat"],
                    "lon": s["lon"],
                    "eta": iso(s["eta"]),
                    "windowStart": iso(s["window"][0]),
                    "windowEnd": iso(s["window"][1]),
                    "passengers": s["passengers"],
                    "wheelchairs": s["wheelchairs"],
                    "status": s["status"],
                    "rescue": s["rescue"],
                    "pickupCode": s["pickup_code"],
                }
                for s in stops
            ],
        }
    )
