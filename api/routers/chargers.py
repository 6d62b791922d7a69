"""``/chargers``: EV charging points with connector details and live EVSE status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import get_state, require, require_operator
from api.errors import NotFoundError
from api.routers.stations import OPERATOR_RESPONSES, UpdateOut, _records, point_query, report_out
from api.schemas import ERROR_RESPONSES, GeoJSON
from api.state import RegionState
from api.validation import attach_zone
from routing.errors import RequestError

router = APIRouter(prefix="/chargers", tags=["chargers"])

CHARGER_ID = Path(max_length=200, description="Charger id, e.g. 'bnetza:13d47117de88'.")
EVSE_UID = Path(max_length=100, description="EVSE uid within the charger.")
EvseStatusName = Literal[
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
]


class ChargersOut(BaseModel):
    """Chargers as plain records (``format=json``)."""

    chargers: list[dict[str, Any]]


class EvseStatusUpdate(BaseModel):
    """A new status of one EVSE (OCPI 2.2.1 status names)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    status: EvseStatusName
    last_updated: datetime | None = Field(
        default=None,
        alias="lastUpdated",
        description="When the status changed; older updates than the stored one are refused.",
    )


@router.get("", response_model=ChargersOut | GeoJSON, responses=ERROR_RESPONSES, summary="Chargers")
def list_chargers(
    lat: float | None = Query(None, ge=-90, le=90, description="Centre of a radius search."),
    lon: float | None = Query(None, ge=-180, le=180),
    radius: float = Query(2000.0, gt=0, le=50_000, description="Search radius in metres."),
    standard: str | None = Query(
        None,
        max_length=40,
        pattern=r"^[A-Z0-9_]+$",
        description="OCPI connector standard, e.g. IEC_62196_T2 or IEC_62196_T2_COMBO.",
    ),
    min_power_kw: float = Query(0.0, alias="minPowerKw", ge=0, le=1000),
    available_only: bool = Query(
        False, alias="availableOnly", description="Only with an AVAILABLE EVSE."
    ),
    limit: int = Query(500, ge=1, le=5000),
    format: Literal["json", "geojson"] = Query("json"),
    state: RegionState = Depends(get_state),
) -> Any:
    """All chargers (or those within ``radius`` of lat/lon with a matching connector)."""
    chargers = require(state, "chargers", "chargers", state.chargers)
    from routing.stations import chargers_to_geojson
    from routing.stations.store import charger_filter

    centre = point_query(state, lat, lon, radius)
    keep = charger_filter(standard, min_power_kw, available_only=available_only)
    items = chargers.select(keep, near=centre, radius_m=radius, limit=limit)
    doc = chargers_to_geojson(items)
    return doc if format == "geojson" else {"chargers": _records(doc)}


@router.get("/{charger_id}", responses=ERROR_RESPONSES, summary="One charger")
def get_charger(
    charger_id: str = CHARGER_ID, state: RegionState = Depends(get_state)
) -> dict[str, Any]:
    """One charging location with its EVSEs and connectors."""
    chargers = require(state, "chargers", "chargers", state.chargers)
    from routing.stations import chargers_to_geojson

    charger = chargers.get(charger_id)
    if charger is None:
        raise NotFoundError(
            f"no charger {charger_id!r}", fix="list chargers with GET /api/v1/chargers"
        )
    return _records(chargers_to_geojson([charger]))[0]


@router.put(
    "/{charger_id}/evses/{evse_uid}/status",
    response_model=UpdateOut,
    responses=OPERATOR_RESPONSES,
    dependencies=[Depends(require_operator)],
    summary="Update an EVSE's live status (operator)",
)
def update_evse_status(
    update: EvseStatusUpdate = Body(...),
    charger_id: str = CHARGER_ID,
    evse_uid: str = EVSE_UID,
    state: RegionState = Depends(get_state),
) -> UpdateOut:
    """Set one EVSE's status (operator key required); out-of-order updates are refused."""
    chargers = require(state, "chargers", "chargers", state.chargers)
    changed = update.last_updated
    if changed is not None:
        changed = attach_zone(changed, state.region.timezone, name="lastUpdated")
        if changed > datetime.now(UTC) + timedelta(minutes=5):
            raise RequestError(
                f"lastUpdated {changed.isoformat()} lies in the future; send the time the "
                "status changed (or leave it out)"
            )
    report = chargers.update_evse_status(charger_id, evse_uid, update.status, last_updated=changed)
    return report_out(report, what=f"EVSE {charger_id}/{evse_uid}")
