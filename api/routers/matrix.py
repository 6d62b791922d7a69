"""``/matrix``: travel times and distances between many points (road profiles)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.deps import get_state, need, network_for
from api.schemas import ERROR_RESPONSES, LatLon
from api.state import RegionState
from api.validation import check_in_region
from routing.errors import SnapError
from routing.road import MAX_SNAP_M

router = APIRouter(tags=["road"])


class MatrixRequest(BaseModel):
    """Sources and targets (each at most 100 points)."""

    model_config = ConfigDict(extra="forbid")

    profile: Literal["walk", "bike", "car"] = "car"
    sources: list[LatLon] = Field(min_length=1, max_length=100)
    targets: list[LatLon] = Field(min_length=1, max_length=100)


class MatrixResponse(BaseModel):
    """Row i, column j: from source i to target j; null where no route exists."""

    model_config = ConfigDict(populate_by_name=True)

    profile: str
    durations: list[list[float | None]] = Field(description="Seconds.")
    distances: list[list[float | None]] = Field(description="Metres along the fastest route.")
    snap_distances: dict[str, list[float]] = Field(
        alias="snapDistances",
        description="Metres from each point to the network node it was matched to.",
    )


def _nodes(
    state: RegionState, profile: str, points: list[LatLon], what: str
) -> tuple[np.ndarray, np.ndarray]:
    for i, p in enumerate(points):
        check_in_region(state, p.lat, p.lon, name=f"{what}[{i}]")
    lats = np.array([p.lat for p in points])
    lons = np.array([p.lon for p in points])
    nodes, metres = network_for(state, profile).snapper.snap_many(
        lats, lons, max_distance_m=MAX_SNAP_M
    )
    far = np.flatnonzero(nodes < 0)
    if far.size:
        i = int(far[0])
        raise SnapError(
            f"{what}[{i}] ({lats[i]:.5f}, {lons[i]:.5f}) is {metres[i]:,.0f} m from the nearest "
            f"{profile} network node (limit {MAX_SNAP_M:,.0f} m); move it nearer a road"
        )
    return nodes, metres


def _listify(matrix: np.ndarray, digits: int) -> list[list[float | None]]:
    return [[round(float(v), digits) if math.isfinite(v) else None for v in row] for row in matrix]


@router.post(
    "/matrix",
    response_model=MatrixResponse,
    responses=ERROR_RESPONSES,
    summary="Travel-time matrix",
)
def travel_matrix(
    body: MatrixRequest = Body(...), state: RegionState = Depends(get_state)
) -> MatrixResponse:
    """Fastest travel times and distances between every source and every target.

    Points are matched to their nearest network node (the snap distance is reported).
    """
    need(state, "road", "road matrices")
    network = network_for(state, body.profile)
    src, src_m = _nodes(state, body.profile, body.sources, "sources")
    dst, dst_m = _nodes(state, body.profile, body.targets, "targets")
    seconds, metres = network.matrix(src, dst)
    return MatrixResponse(
        profile=body.profile,
        durations=_listify(seconds, 1),
        distances=_listify(metres, 1),
        snapDistances={
            "sources": [round(float(m), 1) for m in src_m],
            "targets": [round(float(m), 1) for m in dst_m],
        },
    )
