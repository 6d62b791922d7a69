"""Worker sockets: SO_REUSEPORT lets every worker bind the port; a taken port is a clear error."""

from __future__ import annotations

import socket

import pytest

from api.workers import listening_socket
from routing.errors import RequestError


def test_workers_share_a_port_and_a_taken_port_is_named():
    first = listening_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port)  # another worker on the same port
    assert second.getsockname()[1] == port
    first.close()
    second.close()
    other = socket.socket()  # a program without SO_REUSEPORT holds the port
    other.bind(("127.0.0.1", 0))
    other.listen()
    try:
        with pytest.raises(RequestError, match=r"cannot listen on 127\.0\.0\.1:\d+.*--port"):
            listening_socket("127.0.0.1", other.getsockname()[1])
    finally:
        other.close()
