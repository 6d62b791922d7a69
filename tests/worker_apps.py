"""Tiny app factories for the worker-supervisor tests (no region to load: they start at once)."""

from __future__ import annotations

import os
from typing import Any


def tiny_app() -> Any:
    """A plain ASGI app answering every GET with this worker process's id as the body."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = str(os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    return app


def broken_app() -> Any:
    """A factory that fails, as a worker whose region cannot load would."""
    raise RuntimeError("this worker cannot start")
