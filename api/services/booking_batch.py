"""Group commit of booking creations on one event loop.

Booking calls run on the event loop (see :mod:`api.routers.shuttle`). Taken
one at a time, every booking pays for the cross-worker lock, the catch-up
with the other workers' log entries and a database commit; under load a
worker that just released the lock also takes it straight back for its next
request while the other worker waits, so one worker's clients starve.

Here the bookings that are ready on the loop at the same moment wait for one
``call_soon`` turn and are then decided together by
:meth:`api.services.shuttle.BookingService.book_many`: one lock hold, one
catch-up, one commit, in arrival order. Between two batches the worker answers
and reads requests, which leaves the lock to the other worker in the
meantime. A lone booking on a quiet server waits for no one.

Refusing a trip the full fleet cannot take outside the lock (on slightly
older plans, so that workers refuse in parallel) was tried: it raised
throughput but let refusals overtake bookings, and the booking tail doubled
(`benchmarks/api_load.py`, fleet row: p95 65-89 ms against 44-57 ms).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any

from api.services.shuttle import BookingCall, BookingResult, BookingService

logger = logging.getLogger(__name__)

#: At most this many bookings share one lock hold (bounds a batch's time on the loop).
MAX_BATCH = 32


class BookingBatcher:
    """Collects the booking calls of each event loop and books them in batches.

    Parameters
    ----------
    service : BookingService
        Where the batches are booked.
    max_batch : int
        Largest batch.

    Attributes
    ----------
    on_batch : callable
        Called with the size of every batch (the app counts them in ``/metrics``).
    """

    def __init__(self, service: BookingService, *, max_batch: int = MAX_BATCH) -> None:
        self.service = service
        self.max_batch = max_batch
        self.on_batch: Callable[[int], None] = lambda size: None  # metrics hook
        self.batches = 0
        self.calls = 0
        self.largest = 0
        # Waiting calls per event loop (test clients may run more than one loop).
        self._waiting: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[tuple[BookingCall, asyncio.Future[Any]]]
        ] = weakref.WeakKeyDictionary()

    async def book(self, call: BookingCall) -> BookingResult:
        """Book ``call`` together with the calls that are ready at the same time.

        Returns what :meth:`BookingService.book` returns and raises what it raises.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        waiting = self._waiting.setdefault(loop, [])
        waiting.append((call, future))
        if len(waiting) == 1:
            # After the request handlers already scheduled on this loop turn.
            loop.call_soon(self._flush, loop)
        result: BookingResult = await future
        return result

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._waiting.get(loop, [])
        batch, rest = waiting[: self.max_batch], waiting[self.max_batch :]
        self._waiting[loop] = rest
        if rest:
            loop.call_soon(self._flush, loop)
        if not batch:
            return
        self.batches += 1
        self.calls += len(batch)
        self.largest = max(self.largest, len(batch))
        self.on_batch(len(batch))
        try:
            results: list[Any] = self.service.book_many([call for call, _ in batch])
        except Exception as exc:  # the whole batch failed the same way (e.g. no dispatcher)
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.cancelled():  # the client went away; its booking stands
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
