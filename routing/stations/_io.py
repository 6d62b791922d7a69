"""Reading JSON documents from files or URLs with errors that name the source."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from routing.errors import DataError, FetchError

FETCH_TIMEOUT_S = 15.0


def is_url(location: str | Path) -> bool:
    """Whether ``location`` is an http(s) URL."""
    return isinstance(location, str) and location.startswith(("http://", "https://"))


def read_bytes(location: str | Path) -> bytes:
    """Read a local file or download an http(s) URL.

    Raises
    ------
    DataError
        The local file does not exist or cannot be read.
    FetchError
        The URL cannot be downloaded.
    """
    if is_url(location):
        request = urllib.request.Request(str(location), headers={"User-Agent": "elster"})
        try:
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
                return bytes(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FetchError(
                f"{location}: download failed ({exc}); check the URL and the network, "
                "or point the source at a local copy"
            ) from None
    path = Path(location)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; fetch the source or fix its path") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def load_json(location: str | Path, what: str = "JSON document") -> Any:
    """Parse a JSON document from a file or URL.

    Raises
    ------
    DataError
        The bytes are not valid UTF-8 JSON; the message names the line and column.
    """
    raw = read_bytes(location)
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{location}: {what} is not UTF-8 text (byte {exc.start}); re-download or re-encode it"
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{location}: {what} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); the file is damaged or truncated, fetch it again"
        ) from None
