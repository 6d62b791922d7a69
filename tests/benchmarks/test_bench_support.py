"""What the benchmarks and the tests share (``benchmarks/support``): the load client, server env."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

from benchmarks.support.http_client import encode_request, read_response, send_all
from benchmarks.support.server import children, free_port, server_env


def test_encode_request_puts_get_payload_in_the_query_and_post_payload_in_the_body() -> None:
    get = encode_request("h:1", "GET", "/api/v1/route", {"a": "1,2", "b": 3})
    assert get.startswith(b"GET /api/v1/route?a=1%2C2&b=3 HTTP/1.1\r\nHost: h:1\r\n")
    assert get.endswith(b"Content-Length: 0\r\n\r\n")
    post = encode_request("h:1", "POST", "/x", {"k": [1]}, {"Idempotency-Key": "z"})
    head, body = post.split(b"\r\n\r\n", 1)
    assert json.loads(body) == {"k": [1]}
    assert b"Content-Length: %d" % len(body) in head
    assert b"Content-Type: application/json" in head and b"Idempotency-Key: z" in head


def test_read_response_reads_sized_and_chunked_bodies() -> None:
    async def read(raw: bytes) -> tuple[int, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_response(reader)

    sized = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello"
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    assert asyncio.run(read(sized)) == (201, b"hello")
    assert asyncio.run(read(chunked)) == (200, b"abcde")


def test_send_all_answers_every_request_once_and_reports_lost_connections() -> None:
    """Every request gets one callback; a connection the server drops counts as status 0."""

    async def scenario() -> tuple[list[float], dict[int, tuple[int, bytes]]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                path = head.split(b" ")[1]
                if path == b"/drop":
                    writer.close()
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        paths = [f"/ok/{i}" for i in range(9)] + ["/drop"]
        encoded = [encode_request(f"127.0.0.1:{port}", "GET", p) for p in paths]
        answers: dict[int, tuple[int, bytes]] = {}

        def on_answer(i: int, status: int, body: bytes, detail: str) -> None:
            assert i not in answers
            answers[i] = (status, body)
            assert detail

        async with server:
            latencies, _wall = await send_all(
                "127.0.0.1", port, encoded, concurrency=3, timeout_s=5, on_answer=on_answer
            )
        return latencies, answers

    latencies, answers = asyncio.run(scenario())
    assert len(latencies) == len(answers) == 10
    assert answers[9] == (0, b"")
    assert all(answers[i] == (200, f"/ok/{i}".encode()) for i in range(9))


def test_server_env_names_the_settings_of_a_heidelberg_server(tmp_path: Path) -> None:
    env = server_env(
        data_dir=tmp_path / "d",
        cache_dir=tmp_path / "c",
        database_url="sqlite:///x.db",
        profiles="shuttle",
        shuttle_vehicles=3,
        reoptimise_s=2,
        ELSTER_TOKEN_SECRET="s" * 40,
    )
    assert env["ELSTER_REGION"] == "heidelberg"
    assert env["ELSTER_DATA_DIR"] == str(tmp_path / "d")
    assert env["ELSTER_PROFILES"] == "shuttle"
    assert (env["ELSTER_TRANSIT"], env["ELSTER_WHEELCHAIR"]) == ("false", "false")
    assert (env["ELSTER_SHUTTLE_VEHICLES"], env["ELSTER_SHUTTLE_REOPTIMISE_S"]) == ("3", "2")
    assert env["ELSTER_TOKEN_SECRET"] == "s" * 40
    assert env.get("ELSTER_API_KEYS") == os.environ.get("ELSTER_API_KEYS")  # not set unless given
    assert Path(env["PYTHONPATH"], "benchmarks", "support", "server.py").is_file()


def test_free_port_is_bindable_and_children_of_a_gone_process_are_none() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert children(2**22 + 12345) == []
