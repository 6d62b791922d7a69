"""One conditional HTTP GET of a live feed: ETag / If-Modified-Since, timeout, size limit."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from routing.errors import FetchError

#: Largest payload accepted from a feed (a full-day TripUpdates feed is a few MB).
MAX_BYTES = 64 * 1024 * 1024
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class FetchResult:
    """What one request returned.

    Attributes
    ----------
    modified : bool
        False when the server answered 304 Not Modified (``body`` is empty).
    body : bytes
    etag, last_modified : str or None
        Validators to send with the next request.
    """

    modified: bool
    body: bytes
    etag: str | None
    last_modified: str | None


def conditional_get(
    url: str,
    *,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> FetchResult:
    """GET ``url`` unless it is unchanged since the validators of the last answer.

    Parameters
    ----------
    url : str
        ``http(s)://`` or ``file://`` address.
    timeout_s : float
        Whole-request deadline (connect, headers and body).
    headers : dict, optional
        Extra request headers (authentication).
    etag, last_modified : str, optional
        Validators of the previous good answer (``If-None-Match`` / ``If-Modified-Since``).
    max_bytes : int
        Larger bodies are refused.

    Raises
    ------
    FetchError
        Network error, timeout, an HTTP status other than 200/304, or a body too large.
    """
    request = urllib.request.Request(
        url, headers={"User-Agent": "elster-live/1", **(headers or {})}
    )
    if etag:
        request.add_header("If-None-Match", etag)
    if last_modified:
        request.add_header("If-Modified-Since", last_modified)
    deadline = time.monotonic() + timeout_s
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"{url}: no complete answer within {timeout_s:g} s")
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url}: answer larger than {max_bytes:,} bytes; refused")
                chunks.append(chunk)
            return FetchResult(
                True,
                b"".join(chunks),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
            )
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return FetchResult(False, b"", etag, last_modified)
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except TimeoutError:
        raise FetchError(f"{url}: no answer within {timeout_s:g} s (timeout)") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise FetchError(f"{url}: no answer within {timeout_s:g} s (timeout)") from None
        raise FetchError(f"{url}: {reason}") from None
