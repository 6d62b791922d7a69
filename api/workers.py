"""Run the app in several worker processes, each with its own listening socket.

uvicorn's ``--workers`` shares one listening socket between the processes:
whichever worker wakes first accepts every connection waiting, so a burst of
keep-alive clients (a phone app's, a load test's) can land almost all on one
worker while the other idles. Here every worker binds the port itself with
``SO_REUSEPORT`` and the kernel spreads new connections evenly over them.
The parent only supervises: it restarts a worker that dies and passes
SIGINT/SIGTERM on for a graceful shutdown.

    python -m api.workers tests.shuttle_doubles:crash_app --workers 2 --port 8000
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import socket
import time
from typing import Any

from routing.errors import RequestError

logger = logging.getLogger(__name__)

#: A worker that dies this soon after its start is not restarted (it would die again).
MIN_UPTIME_S = 10.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with SO_REUSEPORT, listening.

    Raises
    ------
    RequestError
        The address is taken by another program or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RequestError(
            f"cannot listen on {host}:{port}: {exc.strerror}; stop the program using it "
            "or choose another --port"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(app, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def run(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve the app factory ``app`` ("module:function") with ``workers`` processes.

    ``options`` go to ``uvicorn.Config`` (log level, loop, http, access log).
    One worker runs in this process; several are supervised child processes.
    """
    if workers <= 1:
        _worker(app, host, port, options)
        return
    listening_socket(host, port).close()  # fail here, clearly, when the port is taken
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> Any:
        proc = context.Process(target=_worker, args=(app, host, port, options), daemon=False)
        proc.start()
        proc.started_at = time.monotonic()  # type: ignore[attr-defined]
        return proc

    procs = [start() for _ in range(workers)]

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn finishes open requests, then exits

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        time.sleep(0.5)
        for i, proc in enumerate(procs):
            if proc.is_alive() or stopping:
                continue
            lived = time.monotonic() - proc.started_at
            if lived < MIN_UPTIME_S:
                logger.error("worker %d exited with %s after %.0f s; stopping the server",
                             proc.pid, proc.exitcode, lived)  # fmt: skip
                stop(signal.SIGTERM, None)
                break
            logger.warning("worker %d exited with %s; starting a new one", proc.pid, proc.exitcode)
            procs[i] = start()
    for proc in procs:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()


def main() -> None:
    """Command line for tests and benchmarks (``elster serve`` is the user's command)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="App factory, module:function.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
        **uvicorn_speedups(),
    )


def uvicorn_speedups() -> dict[str, str]:
    """uvloop and httptools when installed (uvicorn[standard]), else uvicorn's defaults."""
    import importlib.util

    def has(name: str) -> bool:
        return importlib.util.find_spec(name) is not None

    return {
        "loop": "uvloop" if has("uvloop") else "auto",
        "http": "httptools" if has("httptools") else "auto",
    }


if __name__ == "__main__":
    main()
