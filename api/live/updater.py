"""The poll loop of one live feed: schedule, conditional requests, backoff with jitter, health.

:meth:`FeedUpdater.step` does one round and returns at once when nothing is
due, so a thread can call it in a loop and tests can call it with a fake
clock. A round:

1. if this process leads the feed (:class:`api.live.spool.FeedSpool`) and a poll
   is due, fetch it conditionally. A good answer is checked by the feed's
   ``validate`` (a malformed payload is an error, and the last good data stays)
   and published as a new version; 304 only renews the data's age. An error
   schedules the next try after ``interval * 2**failures`` (capped) times a
   random factor in [0.5, 1] so that restarted servers do not poll in step;
2. whoever leads, load the newest published version if it is newer than the
   one applied here, and hand it to ``apply``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from api.live.fetch import conditional_get
from api.live.spool import FeedSpool
from routing.errors import ElsterError
from routing.live_sources import LiveSource

logger = logging.getLogger(__name__)

#: Longest wait between two tries of a failing feed.
MAX_BACKOFF_S = 600.0

Fetcher = Callable[..., Any]


class FeedUpdater:
    """Polls one feed and applies each new version once.

    Parameters
    ----------
    source : LiveSource
        The feed.
    spool : FeedSpool
        Shared storage of its payloads.
    validate : callable
        ``validate(payload)`` raises :class:`~routing.errors.ElsterError` (or
        ``ValueError``) for a payload that must not be published.
    apply : callable
        ``apply(payload, fetched_at) -> int`` puts a version into service and
        returns the number of entities it applied.
    fetch : callable
        ``fetch(source, etag=..., last_modified=...) -> FetchResult``
        (default: a conditional GET of ``source.url``).
    clock : callable
        Unix time now (tests pass a fake).
    rng : random.Random, optional
        Jitter source.
    """

    def __init__(
        self,
        source: LiveSource,
        spool: FeedSpool,
        *,
        validate: Callable[[bytes], Any],
        apply: Callable[[bytes, float], int],
        fetch: Fetcher | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self.spool = spool
        self.validate = validate
        self.apply = apply
        self.fetch = fetch or _http_fetch
        self.clock = clock
        self.rng = rng or random.Random()
        self.next_poll_at = 0.0
        self.failures = 0
        self.applied_version = 0
        self.applied_fetched_at: float | None = None
        self.entities = 0
        self.apply_errors = 0
        self.last_apply_error: str | None = None

    # ------------------------------------------------------------------ one round
    def step(self, now: float | None = None) -> bool:
        """Poll if due (leader only) and apply a newer version; True when one was applied."""
        now = self.clock() if now is None else now
        if self.spool.try_lead() and now >= self.next_poll_at:
            self._poll(now)
        return self._sync()

    def seconds_to_next(self, now: float | None = None) -> float:
        """Seconds until the next poll is due (for the thread's wait)."""
        now = self.clock() if now is None else now
        return max(0.0, self.next_poll_at - now)

    def _poll(self, now: float) -> None:
        meta = self.spool.read_meta() or {}
        headers_ok = True
        try:
            result = self.fetch(
                self.source, etag=meta.get("etag"), last_modified=meta.get("last_modified")
            )
            if result.modified:
                self.validate(result.body)
        except (ElsterError, ValueError, OSError) as exc:
            headers_ok = False
            self._failed(meta, now, str(exc))
        if not headers_ok:
            return
        self.failures = 0
        self.next_poll_at = now + self.source.interval_s
        health = {
            **_health_fields(meta),
            "last_good_at": now,
            "last_attempt_at": now,
            "consecutive_failures": 0,
            "etag": result.etag,
            "last_modified": result.last_modified,
        }
        if result.modified:
            health["fetched_at"] = now
            health["bytes"] = len(result.body)
            self.spool.publish(health, result.body)
        else:
            health["fetched_at"] = meta.get("fetched_at", now)
            health["not_modified_total"] = int(meta.get("not_modified_total", 0)) + 1
            self.spool.publish(health)

    def _failed(self, meta: dict[str, Any], now: float, message: str) -> None:
        self.failures += 1
        backoff = min(MAX_BACKOFF_S, self.source.interval_s * 2 ** (self.failures - 1))
        backoff = max(backoff, self.source.interval_s) * self.rng.uniform(0.5, 1.0)
        self.next_poll_at = now + backoff
        logger.warning(
            "live feed %s: %s (failure %d; next try in %.1f s)",
            self.source.key,
            message,
            self.failures,
            backoff,
        )
        self.spool.publish(
            {
                **_health_fields(meta),
                "last_attempt_at": now,
                "errors_total": int(meta.get("errors_total", 0)) + 1,
                "consecutive_failures": self.failures,
                "last_error": message,
                "last_error_at": now,
            }
        )

    def _sync(self) -> bool:
        meta = self.spool.read_meta()
        if not meta or int(meta.get("version", 0)) <= self.applied_version:
            return False
        return self._apply(meta)

    def reapply(self) -> bool:
        """Apply the current version again (a feed back after an outage confirmed it)."""
        meta = self.spool.read_meta()
        current = int((meta or {}).get("version", 0))
        if not meta or not self.applied_version or current != self.applied_version:
            return False
        return self._apply(meta)

    def _apply(self, meta: dict[str, Any]) -> bool:
        payload = self.spool.read_payload(meta)
        if payload is None:
            return False
        version = int(meta["version"])
        fetched_at = float(meta.get("fetched_at") or self.clock())
        try:
            self.entities = int(self.apply(payload, fetched_at))
        except (ElsterError, ValueError) as exc:  # validated by the leader; belt and braces
            self.apply_errors += 1
            self.last_apply_error = str(exc)
            logger.warning(
                "live feed %s: version %d not applied: %s", self.source.key, version, exc
            )
        self.applied_version = version
        self.applied_fetched_at = fetched_at
        return True

    # ------------------------------------------------------------------ health
    def last_good_at(self) -> float | None:
        """When the feed last answered well (a 200 or a 304), by any worker."""
        meta = self.spool.read_meta() or {}
        value = meta.get("last_good_at")
        return float(value) if value is not None else None

    def failing(self) -> bool:
        """Whether the feed's last poll failed (by whichever worker leads it)."""
        meta = self.spool.read_meta() or {}
        return int(meta.get("consecutive_failures", 0)) > 0

    def expired(self, now: float | None = None) -> bool:
        """Whether the feed's data is older than its ``max_age_s`` (or there is none)."""
        now = self.clock() if now is None else now
        good = self.last_good_at()
        return good is None or self.applied_version == 0 or now - good > self.source.max_age_s

    def health(self, now: float | None = None) -> dict[str, Any]:
        """The feed's state for ``/health`` and ``/metrics``."""
        now = self.clock() if now is None else now
        meta = self.spool.read_meta() or {}
        good = meta.get("last_good_at")
        return {
            "key": self.source.key,
            "kind": self.source.kind,
            "url": self.source.url,
            "ok": not self.expired(now) and int(meta.get("consecutive_failures", 0)) == 0,
            "expired": self.expired(now),
            "age_s": round(now - float(good), 3) if good is not None else None,
            "max_age_s": self.source.max_age_s,
            "interval_s": self.source.interval_s,
            "version": self.applied_version,
            "entities": self.entities,
            "errors_total": int(meta.get("errors_total", 0)) + self.apply_errors,
            "consecutive_failures": int(meta.get("consecutive_failures", 0)),
            "not_modified_total": int(meta.get("not_modified_total", 0)),
            "last_error": meta.get("last_error") or self.last_apply_error,
            "leader": self.spool.leader,
        }


def _health_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """The fields of the previous metadata that carry over to the next record."""
    keep = (
        "last_good_at",
        "fetched_at",
        "errors_total",
        "not_modified_total",
        "last_error",
        "last_error_at",
        "etag",
        "last_modified",
        "bytes",
    )
    return {k: meta[k] for k in keep if k in meta}


def _http_fetch(source: LiveSource, *, etag: str | None, last_modified: str | None) -> Any:
    return conditional_get(
        source.url,
        timeout_s=source.timeout_s,
        headers=source.headers(),
        etag=etag,
        last_modified=last_modified,
    )
