"""``/shuttle``: quotes and bookings of the on-demand shuttle (passenger side).

Booking calls run on the event loop, not in the threadpool: a booking is
about a millisecond of work (sqlite3 statements and the dispatcher's insertion
under the booking lock), and a thread hand-off costs more than that under
load. Creations that arrive together are booked as one batch
(:mod:`api.services.booking_batch`). Answers are built as plain dicts of the documented shape
(:func:`booking_dict`) and serialised once, without re-validation.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import get_state
from api.errors import ApiError, ConflictError, UnavailableError
from api.json import json_response
from api.schemas import (
    ERROR_RESPONSES,
    BookingOut,
    ErrorBody,
    PickupWindow,
    ShuttleQuoteOut,
    ShuttleTripRequest,
)
from api.services.shuttle import BookingCall
from api.state import RegionState
from api.storage import Booking
from api.storage.bookings import FINAL_STATUSES, OPEN_STATUSES
from api.validation import check_in_region, check_time_window, local_time, shuttle_window
from fleet.online.protocol import Capability, ShuttleQuote, ShuttleRequest

router = APIRouter(prefix="/shuttle", tags=["shuttle"])

BOOKING_ID = Path(
    pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    description="Booking id as returned at creation.",
)
RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorBody, "description": "Missing booking token"},
    409: {"model": ErrorBody, "description": "Idempotency key reused / booking not cancellable"},
}


def to_request(state: RegionState, body: ShuttleTripRequest) -> ShuttleRequest:
    """Validate a trip request against the region and the bookable window."""
    check_in_region(state, body.from_.lat, body.from_.lon, name="from")
    check_in_region(state, body.to.lat, body.to.lon, name="to")
    pickup = local_time(state, body.pickup_after, name="pickupAfter")
    earliest, latest = shuttle_window(state)
    check_time_window(
        pickup,
        earliest=earliest,
        latest=latest,
        name="pickupAfter",
        why="shuttles are booked from now up to 7 days ahead",
    )
    # A pickup a few minutes in the past (clock skew) means "now".
    pickup = max(pickup, earliest + timedelta(minutes=15))
    return ShuttleRequest(
        origin=(body.from_.lat, body.from_.lon),
        destination=(body.to.lat, body.to.lon),
        earliest_pickup=pickup.timestamp(),
        passengers=body.passengers,
        wheelchairs=body.wheelchairs,
    )


def local_datetime(state: RegionState, seconds: float | None) -> datetime | None:
    """UNIX seconds as an aware datetime in the region's zone (None stays None)."""
    return (
        None
        if seconds is None
        else datetime.fromtimestamp(seconds, ZoneInfo(state.region.timezone))
    )


def quote_out(state: RegionState, quote: ShuttleQuote) -> ShuttleQuoteOut:
    """Map a dispatcher quote to its wire shape."""
    window = None
    if quote.pickup_earliest is not None and quote.pickup_latest is not None:
        tz = ZoneInfo(state.region.timezone)
        window = PickupWindow(
            start=datetime.fromtimestamp(quote.pickup_earliest, tz),
            end=datetime.fromtimestamp(quote.pickup_latest, tz),
        )
    return ShuttleQuoteOut(
        accepted=quote.accepted,
        reason=quote.reason,
        pickupWindow=window,
        dropoffEta=local_datetime(state, quote.dropoff_eta),
        priceEur=quote.price_eur,
        vehicleId=quote.vehicle_id,
    )


def _iso(state: RegionState, seconds: float | None) -> str | None:
    return None if seconds is None else local_datetime(state, seconds).isoformat()  # type: ignore[union-attr]


def quote_dict(state: RegionState, quote: dict[str, Any]) -> dict[str, Any]:
    """A stored quote (dict) in the wire shape of :class:`ShuttleQuoteOut`."""
    start, end = quote.get("pickup_earliest"), quote.get("pickup_latest")
    return {
        "accepted": bool(quote.get("accepted")),
        "reason": quote.get("reason") or "",
        "pickupWindow": (
            None
            if start is None or end is None
            else {"start": _iso(state, start), "end": _iso(state, end)}
        ),
        "dropoffEta": _iso(state, quote.get("dropoff_eta")),
        "priceEur": quote.get("price_eur"),
        "vehicleId": quote.get("vehicle_id"),
    }


def live_dict(state: RegionState, live: dict[str, Any] | None) -> dict[str, Any] | None:
    """The dispatcher's live view of a booking in the wire shape of ``BookingLiveOut``."""
    if live is None:
        return None
    return {
        "vehicleId": live["vehicle"],
        "position": (
            {"lat": live["lat"], "lon": live["lon"]} if math.isfinite(live["lat"]) else None
        ),
        "positionAt": _iso(state, live["position_at"]),
        "pickupEta": _iso(state, live["pickup_eta"]),
        "dropoffEta": _iso(state, live["dropoff_eta"]),
        "delayed": bool(live["delayed"]),
    }


def booking_dict(
    state: RegionState,
    booking: Booking,
    *,
    token: str | None = None,
    with_events: bool = True,
    live: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A stored booking in the wire shape of :class:`BookingOut` (no model round trip)."""
    r = booking.request
    events = state.bookings.events(booking.id) if with_events else []
    return {
        "id": booking.id,
        "status": booking.status,
        "token": token,
        "from": {"lat": float(r["origin"][0]), "lon": float(r["origin"][1])},
        "to": {"lat": float(r["destination"][0]), "lon": float(r["destination"][1])},
        "pickupAfter": _iso(state, float(r["earliest_pickup"])),
        "passengers": int(r.get("passengers", 1)),
        "wheelchairs": int(r.get("wheelchairs", 0)),
        "quote": quote_dict(state, booking.quote),
        "createdAt": _iso(state, booking.created_at),
        "updatedAt": _iso(state, booking.updated_at),
        "events": [
            {"at": _iso(state, e.at), "status": e.status, "detail": e.detail} for e in events
        ],
        "pickupCode": state.bookings.pickup_code(booking.id),
        "live": live_dict(state, live),
    }


@router.post("/quote", response_model=ShuttleQuoteOut, responses=RESPONSES, summary="Quote a ride")
async def quote(
    body: ShuttleTripRequest, state: RegionState = Depends(get_state)
) -> ShuttleQuoteOut:
    """Ask for a pickup window, arrival and price without booking."""
    request = to_request(state, body)
    result = state.shuttle.quote(request)
    return quote_out(state, result)


@router.post(
    "/bookings",
    response_model=BookingOut,
    status_code=201,
    responses={
        **RESPONSES,
        200: {"model": BookingOut, "description": "Replayed (same Idempotency-Key)"},
        201: {
            "description": "Booked",
            "links": {
                "ReadBooking": {
                    "operationId": "read_booking",
                    "parameters": {
                        "path.booking_id": "$response.body#/id",
                        "header.X-Booking-Token": "$response.body#/token",
                    },
                },
                "CancelBooking": {
                    "operationId": "cancel_booking",
                    "parameters": {
                        "path.booking_id": "$response.body#/id",
                        "header.X-Booking-Token": "$response.body#/token",
                    },
                },
            },
        },
    },
    summary="Book a ride",
)
async def create_booking(
    body: ShuttleTripRequest,
    state: RegionState = Depends(get_state),
    idempotency_key: str | None = Header(
        default=None,
        alias="Idempotency-Key",
        min_length=8,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Client-chosen unique key: a retry with it returns the same booking.",
    ),
) -> Any:
    """Book the quoted ride; the answer carries the passenger token (keep it)."""
    request = to_request(state, body)
    fingerprint = body.model_dump(mode="json", by_alias=True)
    booking, token, created = await state.booking_batcher.book(
        BookingCall(request, idempotency_key, fingerprint)
    )
    return json_response(
        booking_dict(state, booking, token=token, with_events=False),
        status_code=201 if created else 200,
    )


TOKEN = Header(
    default=None,
    alias="X-Booking-Token",
    max_length=200,
    description="The token returned when the booking was created.",
)


@router.get(
    "/bookings/{booking_id}",
    response_model=BookingOut,
    responses=RESPONSES,
    summary="Read a booking",
    operation_id="read_booking",
)
async def read_booking(
    booking_id: str = BOOKING_ID,
    token: str | None = TOKEN,
    state: RegionState = Depends(get_state),
) -> Any:
    """Return a booking, its history and its shuttle's live position to the holder of its token."""
    return json_response(current_booking(state, booking_id, token))


def current_booking(state: RegionState, booking_id: str, token: str | None) -> dict[str, Any]:
    """A booking as its passenger reads it now (with the live view while it is served)."""
    booking = state.shuttle.get(booking_id, token)
    live = None
    dispatcher = state.dispatcher
    if (
        booking.status in OPEN_STATUSES
        and dispatcher is not None
        and Capability.LIVE in dispatcher.capabilities
    ):
        live = state.shuttle.booking_live(booking.id)
    return booking_dict(state, booking, live=live)


#: Seconds between two looks at a streamed booking, and between keep-alive comments.
STREAM_POLL_S = 2.0
STREAM_KEEPALIVE_S = 15.0
#: A stream ends after this long (the client reconnects); bounds what one client holds.
STREAM_MAX_S = 1800.0
#: Open streams per worker process; more get 503 (memory and threads stay bounded).
STREAM_LIMIT = 200
#: Open streams of one booking per worker (a phone and a watch, say); more get 409.
STREAM_LIMIT_PER_BOOKING = 3
_open_streams = 0
_streams_of: dict[str, int] = {}


@router.get(
    "/bookings/{booking_id}/stream",
    responses={
        **RESPONSES,
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-sent events: one 'booking' event (the booking as read "
            "by GET) at the start and at every change, until it is final.",
        },
    },
    summary="Follow a booking live",
    operation_id="stream_booking",
)
async def stream_booking(
    request: Request,
    booking_id: str = BOOKING_ID,
    token: str | None = TOKEN,
    token_param: str | None = Query(
        default=None,
        alias="token",
        max_length=200,
        description="The booking token, for clients that cannot send headers (EventSource).",
    ),
    state: RegionState = Depends(get_state),
) -> StreamingResponse:
    """Server-sent events of a booking: status, live position and ETAs as they change.

    Polling ``GET /shuttle/bookings/{id}`` works as well; the stream saves the
    client from polling. It ends when the booking is final or after 30 minutes
    (reconnect then).
    """
    global _open_streams
    token = token or token_param
    first = await run_in_threadpool(current_booking, state, booking_id, token)  # 401/404 now
    if _open_streams >= STREAM_LIMIT:
        raise UnavailableError(
            "too many live booking streams on this server",
            fix="poll GET /shuttle/bookings/{id} instead, or retry later",
        )
    if _streams_of.get(booking_id, 0) >= STREAM_LIMIT_PER_BOOKING:
        raise ConflictError(
            f"this booking already has {STREAM_LIMIT_PER_BOOKING} live streams open",
            fix="close a stream you no longer read, or poll GET /shuttle/bookings/{id}",
        )
    _open_streams += 1
    _streams_of[booking_id] = _streams_of.get(booking_id, 0) + 1

    async def events() -> AsyncIterator[bytes]:
        global _open_streams
        try:
            body, last, sent_at, seq = first, "", 0.0, 0
            started = time.monotonic()
            while True:
                payload = json.dumps(body, separators=(",", ":"))
                now = time.monotonic()
                if payload != last:
                    seq += 1
                    yield f"id: {seq}\nevent: booking\ndata: {payload}\n\n".encode()
                    last, sent_at = payload, now
                elif now - sent_at >= STREAM_KEEPALIVE_S:
                    yield b": keep-alive\n\n"
                    sent_at = now
                if body["status"] in FINAL_STATUSES or now - started > STREAM_MAX_S:
                    return
                await asyncio.sleep(STREAM_POLL_S)
                if await request.is_disconnected():
                    return
                try:
                    body = await run_in_threadpool(current_booking, state, booking_id, token)
                except ApiError as exc:
                    yield f"event: error\ndata: {json.dumps({'message': str(exc)})}\n\n".encode()
                    return
        finally:
            _open_streams -= 1
            left = _streams_of.pop(booking_id, 1) - 1
            if left > 0:
                _streams_of[booking_id] = left

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/bookings/{booking_id}/cancel",
    response_model=BookingOut,
    responses=RESPONSES,
    summary="Cancel a booking",
    operation_id="cancel_booking",
)
async def cancel_booking(
    booking_id: str = BOOKING_ID,
    token: str | None = TOKEN,
    state: RegionState = Depends(get_state),
) -> Any:
    """Cancel a booking (repeating the call is harmless)."""
    booking = state.shuttle.cancel(booking_id, token)
    return json_response(booking_dict(state, booking))
