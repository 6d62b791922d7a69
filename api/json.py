"""Fast JSON responses for answers the core already built as plain dicts.

orjson serialises a plan answer several times faster than the standard
library; numpy scalars that slip into a dict are converted, anything else
unknown is a bug (TypeError). Without orjson installed the standard library
is used, with the same output shape.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None  # type: ignore[assignment]


def _default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalar
    if item is not None:
        return item()
    tolist = getattr(value, "tolist", None)  # numpy array
    if tolist is not None:
        return tolist()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def dumps(content: Any) -> bytes:
    """Serialise ``content`` to compact UTF-8 JSON."""
    if orjson is not None:
        return orjson.dumps(content, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(content, default=_default, separators=(",", ":")).encode()


class FastJSONResponse(Response):
    """A JSON response rendered with :func:`dumps`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialise the content."""
        return dumps(content)


def json_response(content: Any, status_code: int = 200) -> Response:
    """A JSON response of an already-built dict (no response-model validation)."""
    return FastJSONResponse(content, status_code=status_code)
