"""``/fleet``: the dispatcher's view of vehicles and ride requests (operator key required)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import get_state, require_operator
from api.errors import NotFoundError, UnavailableError
from api.routers.shuttle import local_datetime
from api.schemas import ERROR_RESPONSES, ErrorBody, FleetRequestOut, LatLon, VehicleOut
from api.services.shuttle import NOT_AVAILABLE
from api.state import RegionState
from api.storage.bookings import FINAL_STATUSES, OPEN_STATUSES
from fleet.online.protocol import ShuttleRequest

router = APIRouter(
    prefix="/fleet",
    tags=["fleet"],
    dependencies=[Depends(require_operator)],
    responses={
        **ERROR_RESPONSES,
        401: {"model": ErrorBody, "description": "Missing or wrong X-API-Key"},
    },
)


@router.get("/vehicles", response_model=list[VehicleOut], summary="Vehicles and their plans")
async def vehicles(state: RegionState = Depends(get_state)) -> list[dict[str, Any]]:
    """Every shuttle vehicle with its position, load and planned stops.

    The plans hold every confirmed booking, whichever worker process took it.
    """
    if state.dispatcher is None:
        raise UnavailableError(NOT_AVAILABLE, fix="this build serves no shuttle fleet")
    return state.shuttle.vehicles()


@router.get("/requests", response_model=list[FleetRequestOut], summary="Ride requests")
async def requests(
    status: Literal["open", "final", "all"] = Query("open", description="Which bookings to list."),
    limit: int = Query(200, ge=1, le=2000),
    state: RegionState = Depends(get_state),
) -> list[FleetRequestOut]:
    """Stored bookings, newest first: open ones (default), finished ones, or all."""
    statuses = {"open": OPEN_STATUSES, "final": FINAL_STATUSES, "all": None}[status]
    bookings = await run_in_threadpool(lambda: state.bookings.list(statuses=statuses, limit=limit))
    out = []
    for b in bookings:
        r = ShuttleRequest.from_dict(b.request)
        out.append(
            FleetRequestOut(
                id=b.id,
                status=b.status,
                **{"from": LatLon(lat=r.origin[0], lon=r.origin[1])},
                to=LatLon(lat=r.destination[0], lon=r.destination[1]),
                pickupAfter=local_datetime(state, r.earliest_pickup),  # type: ignore[arg-type]
                passengers=r.passengers,
                wheelchairs=r.wheelchairs,
                vehicleId=b.quote.get("vehicle_id"),
                createdAt=local_datetime(state, b.created_at),  # type: ignore[arg-type]
            )
        )
    return out


class CredentialOut(BaseModel):
    """A vehicle's new credential (every earlier one stops working)."""

    vehicle: str
    token: str = Field(description="Send it as X-Vehicle-Token on the vehicle's reports.")


class KpisOut(BaseModel):
    """The day's service figures (null where nothing was measured yet)."""

    served: float | None = None
    refused: int = 0
    no_shows: float | None = Field(default=None, alias="noShows")
    cancelled_by_operator: float | None = Field(default=None, alias="cancelledByOperator")
    open: float | None = None
    on_time_pickup_share: float | None = Field(default=None, alias="onTimePickupShare")
    wait_mean_s: float | None = Field(default=None, alias="waitMeanS")
    wait_p95_s: float | None = Field(default=None, alias="waitP95S")
    occupancy: float | None = None
    vehicle_km: float | None = Field(default=None, alias="vehicleKm")
    empty_km: float | None = Field(default=None, alias="emptyKm")
    delayed: float | None = None
    replans: float | None = None
    rescues: float | None = None


class AlertOut(BaseModel):
    """Something that needs a dispatcher's attention."""

    kind: str = Field(
        description="delayed_booking, off_plan, stale_gps, no_driver_events or stranded."
    )
    vehicle: str | None = None
    booking: str | None = None
    since: str | None = None
    message: str


def _dispatcher(state: RegionState) -> None:
    if state.dispatcher is None:
        raise UnavailableError(NOT_AVAILABLE, fix="this build serves no shuttle fleet")


@router.post(
    "/vehicles/{vehicle_id}/credential",
    response_model=CredentialOut,
    summary="Issue a vehicle's credential",
)
async def issue_credential(
    vehicle_id: str = Path(pattern=r"^[A-Za-z0-9_-]{1,36}$"),
    state: RegionState = Depends(get_state),
) -> CredentialOut:
    """A new X-Vehicle-Token for one vehicle (its driver app keeps it); the old one is revoked."""
    _dispatcher(state)
    known = [v["id"] for v in await run_in_threadpool(state.shuttle.vehicles)]
    if vehicle_id not in known:
        raise NotFoundError(
            f"no vehicle {vehicle_id!r} in this fleet", fix=f"use one of {', '.join(known)}"
        )
    token = await run_in_threadpool(state.bookings.issue_vehicle_token, vehicle_id)
    return CredentialOut(vehicle=vehicle_id, token=token)


_KPI_NAMES = {
    "no_shows": "noShows",
    "cancelled_by_operator": "cancelledByOperator",
    "on_time_pickup_share": "onTimePickupShare",
    "wait_mean_s": "waitMeanS",
    "wait_p95_s": "waitP95S",
    "vehicle_km": "vehicleKm",
    "empty_km": "emptyKm",
}


@router.get("/kpis", response_model=KpisOut, summary="The day's KPIs")
async def kpis(state: RegionState = Depends(get_state)) -> Any:
    """Served, refused, on-time pickups, waits, occupancy, vehicle-km and empty km so far."""
    import math

    _dispatcher(state)
    raw = await run_in_threadpool(state.shuttle.day_kpis)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        finite = not (isinstance(value, float) and not math.isfinite(value))
        out[_KPI_NAMES.get(key, key)] = value if finite else None
    return KpisOut.model_validate(out)


@router.get("/alerts", response_model=list[AlertOut], summary="Alerts")
async def alerts(state: RegionState = Depends(get_state)) -> list[AlertOut]:
    """Delayed bookings, vehicles off their plan, stale GPS, silent drivers, stranded riders."""
    import math

    _dispatcher(state)
    rows = await run_in_threadpool(state.shuttle.alerts)
    out = []
    for a in rows:
        since = a.get("since")
        when = local_datetime(state, since) if since is not None and math.isfinite(since) else None
        out.append(
            AlertOut(
                kind=a["kind"],
                vehicle=a.get("vehicle"),
                booking=a.get("booking"),
                since=when.isoformat() if when else None,
                message=a["message"],
            )
        )
    return out
