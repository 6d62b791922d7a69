"""``/fleet``: the dispatcher's view of vehicles and ride requests (operator key required)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from api.deps import get_state, require_operator
from api.errors import UnavailableError
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
