"""FastAPI dependencies: the loaded region, operator authentication, component checks."""

from __future__ import annotations

import hmac
from typing import TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import AuthError, UnavailableError
from api.state import RegionState
from routing.errors import RequestError
from routing.road import RoadNetwork

T = TypeVar("T")

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Operator key (ELSTER_API_KEYS) for fleet and live-status endpoints.",
)


async def get_state(request: Request) -> RegionState:
    """Return the region state loaded by the lifespan.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency
    in its threadpool, and that hand-off costs more than every booking's own work.
    """
    state: RegionState = request.app.state.elster
    return state


bearer_header = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    scheme_name="OperatorBearer",
    description="The operator key as 'Bearer <key>' (for Prometheus scrapes); same keys.",
)


async def require_operator(
    key: str | None = Security(api_key_header),
    authorization: str | None = Security(bearer_header),
    state: RegionState = Depends(get_state),
) -> str:
    """Accept the request only with a configured operator key (constant-time comparison).

    The key comes in ``X-API-Key`` or as ``Authorization: Bearer <key>``.
    """
    if not key and authorization and authorization[:7].lower() == "bearer ":
        key = authorization[7:].strip()
    keys = state.settings.operator_keys()
    if not keys:
        raise AuthError(
            "operator endpoints are disabled: the server has no API key configured",
            fix="start the server with ELSTER_API_KEYS=<key> and send it as X-API-Key",
        )
    if not key:
        raise AuthError(
            "this endpoint needs an operator API key", fix="send it in the X-API-Key header"
        )
    given = key.encode()
    if not any(hmac.compare_digest(given, k.encode()) for k in keys):
        raise AuthError("the X-API-Key is not valid", fix="check the operator key")
    return key


def need(state: RegionState, name: str, what: str) -> None:
    """Raise 503 naming the missing component, why it is missing and the fix.

    Parameters
    ----------
    state : RegionState
        The loaded region.
    name : str
        The component (``road``, ``transit``, ...).
    what : str
        What the caller wanted, for the message (``"departures"``).
    """
    component = state.component(name)
    if not component.ready:
        raise UnavailableError(
            f"{what} not available on this server ({name}: {component.detail})",
            fix=component.fix or "see /api/v1/health for what this server provides",
        )


def require(state: RegionState, name: str, what: str, part: T | None) -> T:
    """``part`` of the state when component ``name`` is ready, else 503 as :func:`need`.

    Parameters
    ----------
    state : RegionState
        The loaded region.
    name : str
        The component ``part`` belongs to.
    what : str
        What the caller wanted, for the message.
    part : object or None
        The loaded piece (``state.transit``, ``state.stations``, ...).
    """
    need(state, name, what)
    if part is None:  # ready, yet not loaded: a state assembled by hand
        raise UnavailableError(
            f"{what} not available on this server ({name} is not loaded)",
            fix="see /api/v1/health for what this server provides",
        )
    return part


def network_for(state: RegionState, profile: str) -> RoadNetwork:
    """The loaded :class:`routing.road.RoadNetwork` of ``profile`` (4xx naming the loaded ones).

    It answers under the current live state (closures and traffic posted to any worker).

    Parameters
    ----------
    state : RegionState
        The loaded region.
    profile : str
        The road profile.
    """
    if state.live is not None:
        state.live.current()  # re-attaches a state changed by another worker
    network = state.networks.get(profile)
    if network is None:
        have = ", ".join(state.networks) or "none"
        raise RequestError(f"profile {profile!r} is not loaded on this server; use one of: {have}")
    return network
