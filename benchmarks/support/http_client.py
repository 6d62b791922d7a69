"""A deliberately light HTTP/1.1 load client: raw requests over asyncio streams.

On a 2-core machine a heavy client library would take the CPU the server is
being measured on. Requests are encoded before the clock starts; latency runs
from writing a request to reading the last byte of its answer. The same
client measures our API (``benchmarks.api_load``) and OSRM
(``benchmarks.osrm_compare``), so their figures compare.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

#: Called for every answer: ``(request index, status, body, detail)``; status 0 is a
#: transport error, ``detail`` then names it (else the status and the body's start).
OnAnswer = Callable[[int, int, bytes, str], None]


def encode_request(
    host: str,
    method: str,
    path: str,
    payload: Any = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """Encode one HTTP/1.1 keep-alive request.

    Parameters
    ----------
    host : str
        ``HOST:PORT`` for the ``Host`` header.
    method : str
        ``GET`` (``payload`` becomes the query string) or another method (``payload`` is
        sent as a JSON body).
    path : str
        The request path (with its query when ``payload`` is None).
    payload : Any, optional
        Query parameters (GET) or the JSON document (other methods).
    headers : mapping of str to str, optional
        Further header fields.

    Returns
    -------
    bytes
        The request, ready to write.
    """
    fields = dict(headers or {})
    body = b""
    if method == "GET":
        if payload:
            path = f"{path}?{urlencode(payload)}"
    else:
        body = json.dumps(payload).encode()
        fields["Content-Type"] = "application/json"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read the status and body of one answer (``Content-Length`` or chunked).

    Parameters
    ----------
    reader : asyncio.StreamReader
        The connection, positioned at the start of an answer.

    Returns
    -------
    tuple of (int, bytes)
        The HTTP status and the whole body.
    """
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
    if "content-length" in fields:
        return status, await reader.readexactly(int(fields["content-length"]))
    chunks: list[bytes] = []
    while True:  # chunked; a chunk size may carry extensions after ';'
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, b"".join(chunks)
        chunks.append(chunk[:-2])


async def send_all(
    host: str,
    port: int,
    encoded: Sequence[bytes],
    *,
    concurrency: int,
    timeout_s: float,
    on_answer: OnAnswer,
) -> tuple[list[float], float]:
    """Send ``encoded`` requests over ``concurrency`` keep-alive connections.

    A connection that fails (reset, closed, timed out) is opened again and the
    request counts as answered with status 0.

    Parameters
    ----------
    host : str
        Server address.
    port : int
        Server port.
    encoded : sequence of bytes
        Requests from :func:`encode_request`, taken in order by whichever connection is free.
    concurrency : int
        How many connections send at once.
    timeout_s : float
        Per-request timeout.
    on_answer : callable
        ``on_answer(index, status, body, detail)``, called once per request.

    Returns
    -------
    tuple of (list of float, float)
        Latency of each request in seconds (in answer order) and the wall time.
    """
    latencies: list[float] = []
    jobs = iter(range(len(encoded)))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in jobs:
                start = time.perf_counter()
                try:
                    writer.write(encoded[i])
                    status, body = await asyncio.wait_for(read_response(reader), timeout_s)
                    detail = f"{status} {body[:160]!r}"
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    status, body, detail = 0, b"", repr(exc)
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                latencies.append(time.perf_counter() - start)
                on_answer(i, status, body, detail)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started
