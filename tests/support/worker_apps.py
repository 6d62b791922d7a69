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


def slow_start_app() -> Any:
    """Like :func:`tiny_app`, but its startup waits for ``$ELSTER_TEST_GATE`` to exist.

    It writes ``$ELSTER_TEST_GATE.started`` when its startup begins, so a test
    can probe the port while the worker is provably still starting.
    """
    import asyncio
    from pathlib import Path

    gate = Path(os.environ["ELSTER_TEST_GATE"])
    inner = tiny_app()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            gate.with_suffix(".started").touch()
            while not gate.exists():  # the warm-up of a real worker
                await asyncio.sleep(0.05)
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await inner(scope, receive, send)

    return app
