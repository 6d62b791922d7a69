"""Run the app in several worker processes, each with its own listening socket.

uvicorn's ``--workers`` shares one listening socket between the processes:
whichever worker wakes first accepts every connection waiting, so a burst of
keep-alive clients (a phone app's, a load test's) can land almost all on one
worker while the other idles. Here every worker binds the port itself with
``SO_REUSEPORT`` and the kernel spreads new connections evenly over them.
The parent only supervises: it restarts a worker that dies (the others keep
serving; a worker that keeps dying right after its start is restarted with an
exponential back-off, and after :data:`MAX_FAST_FAILURES` such failures in a
row the supervisor stops and exits with status :data:`GIVE_UP_EXIT`, so that
a process manager restarts the whole server), and passes SIGINT/SIGTERM on for
a graceful shutdown (exit status 0).

    python -m api.workers benchmarks.support.shuttle_doubles:crash_app --workers 2 --port 8000
"""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from routing.errors import RequestError

logger = logging.getLogger(__name__)

#: A worker that dies this soon after its start counts as a failed start: its
#: replacement waits (exponential back-off) instead of starting at once.
MIN_UPTIME_S = 10.0
#: First and largest wait before restarting a worker that failed soon after its start.
BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
#: After this many failed starts in a row of one worker slot the supervisor gives up:
#: it stops every worker and exits with :data:`GIVE_UP_EXIT` (a process manager restarts it).
MAX_FAST_FAILURES = 6
#: Exit status of a supervisor that gave up (non-zero, unlike a requested shutdown).
GIVE_UP_EXIT = 3


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


class _ListenAfterStartup:
    """A uvicorn server that binds its socket only once the app's startup has finished.

    With ``SO_REUSEPORT`` the kernel hands new connections to every listening
    socket, so a worker listening while it still loads the region and warms
    its numba kernels would hold connections waiting for seconds. Here the
    lifespan (load, warm-up) runs first; then the socket is bound and served.
    """

    def __init__(self, config: Any, host: str, port: int) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await self.lifespan.startup()
                if self.lifespan.should_exit:
                    sys.exit(3)  # uvicorn's status for a failed startup
                freeze_startup_objects()

                async def done() -> None:  # already started: do not run it twice
                    return None

                self.lifespan.startup = done
                await super().startup(sockets=[listening_socket(host, port)])

        self.server = Server(config)

    def run(self) -> None:
        """Serve until told to stop."""
        self.server.run()


def freeze_startup_objects() -> None:
    """Collect once, then exempt every object alive after startup from later collections.

    The loaded region (graphs, hierarchies, the app and its routes) is hundreds of
    thousands of long-lived objects. The cyclic garbage collector's full
    collections walk all of them, every few thousand requests for tens of
    milliseconds (about 40 us per route request on average); frozen, they are
    skipped (``gc.freeze``; objects made later are collected as before).
    """
    gc.collect()
    gc.freeze()


#: Seconds a stopping worker waits for its open requests.
GRACEFUL_SHUTDOWN_S = 15


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    # A request that never finishes must not keep a stopping worker alive: after this
    # many seconds the open requests are cancelled and the worker exits.
    options.setdefault("timeout_graceful_shutdown", GRACEFUL_SHUTDOWN_S)
    config = uvicorn.Config(app, factory=True, host=host, port=port, **options)
    _ListenAfterStartup(config, host, port).run()


class _Slot:
    """One worker position: its process and its recent failures (for the back-off)."""

    def __init__(self) -> None:
        self.proc: Any = None
        self.started_at = 0.0
        self.fast_failures = 0
        self.restart_at: float | None = None


def run(
    app: str,
    *,
    host: str,
    port: int,
    workers: int,
    min_uptime_s: float = MIN_UPTIME_S,
    backoff_s: float = BACKOFF_S,
    max_backoff_s: float = MAX_BACKOFF_S,
    max_fast_failures: int = MAX_FAST_FAILURES,
    **options: Any,
) -> int:
    """Serve the app factory ``app`` ("module:function") with ``workers`` processes.

    ``options`` go to ``uvicorn.Config`` (log level, loop, http, access log).
    One worker runs in this process; several are supervised child processes.
    A worker that dies is replaced while the others keep serving. A worker
    that dies within ``min_uptime_s`` of its start is replaced after a wait
    that doubles with each such failure in a row (``backoff_s`` up to
    ``max_backoff_s``); after ``max_fast_failures`` of them the supervisor
    stops every worker and gives up.

    Returns
    -------
    int
        The exit status for the process: 0 after SIGTERM/SIGINT, :data:`GIVE_UP_EXIT`
        when a worker kept failing.
    """
    if workers <= 1:
        _worker(app, host, port, options)
        return 0
    listening_socket(host, port).close()  # fail here, clearly, when the port is taken
    metrics_dir = _metrics_dir()
    context = multiprocessing.get_context("spawn")
    stopping = False
    gave_up = False

    def start(slot: _Slot) -> None:
        proc = context.Process(target=_worker, args=(app, host, port, options), daemon=False)
        proc.start()
        slot.proc, slot.started_at, slot.restart_at = proc, time.monotonic(), None

    slots = [_Slot() for _ in range(workers)]
    for slot in slots:
        start(slot)

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for slot in slots:
            if slot.proc is not None and slot.proc.is_alive():
                slot.proc.terminate()  # SIGTERM: uvicorn finishes open requests, then exits

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        time.sleep(0.2)
        now = time.monotonic()
        for slot in slots:
            if stopping:
                break
            if slot.restart_at is not None:
                if now >= slot.restart_at:
                    start(slot)
                continue
            proc = slot.proc
            if proc.is_alive():
                if now - slot.started_at >= min_uptime_s:
                    slot.fast_failures = 0  # it came up and stayed up
                continue
            proc.join(timeout=0)
            lived = now - slot.started_at
            if lived >= min_uptime_s:
                slot.fast_failures = 0
                logger.warning("worker %d exited with %s after %.0f s; starting a new one",
                               proc.pid, proc.exitcode, lived)  # fmt: skip
                start(slot)
                continue
            slot.fast_failures += 1
            if slot.fast_failures >= max_fast_failures:
                logger.error("worker %d exited with %s after %.1f s, the %d. failed start in "
                             "a row; giving up and stopping the server", proc.pid,
                             proc.exitcode, lived, slot.fast_failures)  # fmt: skip
                gave_up = True
                stop(signal.SIGTERM, None)
                break
            wait = min(backoff_s * 2 ** (slot.fast_failures - 1), max_backoff_s)
            logger.error("worker %d exited with %s after %.1f s (failed start %d of %d); "
                         "the other workers keep serving, a new one starts in %.1f s",
                         proc.pid, proc.exitcode, lived, slot.fast_failures,
                         max_fast_failures, wait)  # fmt: skip
            slot.restart_at = now + wait
    for slot in slots:
        if slot.proc is None:
            continue
        slot.proc.join(timeout=30)
        if slot.proc.is_alive():
            slot.proc.kill()
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return GIVE_UP_EXIT if gave_up else 0


def _metrics_dir() -> str | None:
    """Give this server run an empty ``PROMETHEUS_MULTIPROC_DIR`` (inherited by the workers).

    Every worker writes its metrics there and ``/metrics`` sums them, whichever
    worker answers. A directory set by the caller is emptied (one run's counts
    only) and kept; otherwise a temporary one is made and removed at the end
    (the returned path).
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink(missing_ok=True)
        return None
    made = tempfile.mkdtemp(prefix="elster-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    return made


def main() -> None:
    """Command line for tests and benchmarks (``elster serve`` is the user's command)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="App factory, module:function.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--min-uptime", type=float, default=MIN_UPTIME_S)
    parser.add_argument("--backoff", type=float, default=BACKOFF_S)
    parser.add_argument("--max-backoff", type=float, default=MAX_BACKOFF_S)
    parser.add_argument("--max-fast-failures", type=int, default=MAX_FAST_FAILURES)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    status = run(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        min_uptime_s=args.min_uptime,
        backoff_s=args.backoff,
        max_backoff_s=args.max_backoff,
        max_fast_failures=args.max_fast_failures,
        log_level=args.log_level,
        access_log=False,
        **uvicorn_speedups(),
    )
    sys.exit(status)


def uvicorn_speedups() -> dict[str, Any]:
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
