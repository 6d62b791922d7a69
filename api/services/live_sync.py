"""One live road state (closures, traffic) shared by every worker process of the server.

:class:`routing.live.LiveState` lives in one process and persists itself to
``DATA_DIR/live/REGION.json``. With several uvicorn workers, a closure posted
to one worker must change the next route answered by any worker, and two
operators changing the state at once through two workers must not overwrite
each other. :class:`LiveSync` does both:

* changes (:meth:`LiveSync.change`) hold an ``flock`` on ``REGION.json.lock``,
  load what other workers wrote first, apply the change, save, and then count
  the change in the first 8 bytes of that lock file (memory-mapped by every
  worker: a shared change counter);
* reads (:meth:`LiveSync.current`, once per route request) compare that counter
  with the last one seen: a memory read, no system call. When another worker
  counted a change, the file's modification stamp is compared and the file
  loaded into a new ``LiveState``, re-attached to the served networks and the
  planner. So the next request after a change sees it, on every worker.
  Writers that bypass :class:`LiveSync` (the file replaced by hand) are noticed
  by a ``stat`` of the file at most :data:`STAT_INTERVAL_S` apart. Where the
  counter cannot be mapped (read-only directory) every read looks at the file.

Attaching a state is cheap: networks share their graph, snapper and
hierarchy (:meth:`routing.road.RoadNetwork.with_live`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Longest time (seconds) between two looks at the live-state file itself, for changes
#: written without :class:`LiveSync` (a change through it is seen at the next read).
STAT_INTERVAL_S = 0.05


class ChangeCounter:
    """A 64-bit change counter in the first 8 bytes of a file, memory-mapped (shared).

    Every worker maps the same file, so a writer's :meth:`bump` is what every
    other worker's next :meth:`read` returns. Writers bump while holding the
    file's ``flock`` (no lost updates); reads take no lock (an aligned 8-byte
    load).

    Parameters
    ----------
    path : Path
        The file (created owner-only, extended to 8 bytes when shorter).

    Raises
    ------
    OSError
        The file cannot be created or mapped.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)  # extending fills zeros; a counter already there stays
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)  # the mapping keeps the file's pages
        self._view = memoryview(self._map).cast("Q")

    def read(self) -> int:
        """The current count."""
        return int(self._view[0])

    def bump(self) -> int:
        """Count one change (call it holding the file's ``flock``); return the new count."""
        value = (self._view[0] + 1) & 0xFFFF_FFFF_FFFF_FFFF
        self._view[0] = value
        return value


class LiveSync:
    """The current :class:`routing.live.LiveState` of a region, kept in step across processes.

    Parameters
    ----------
    graphs : mapping of str to RoadGraph
        Graphs the closures resolve on (every served profile, ``wheelchair`` too).
    path : Path
        The persisted state (shared by the worker processes).
    timezone : str
        Zone of naive timestamps.
    snapper : object, optional
        Car-graph snapper for traffic readings given by coordinates.
    on_attach : callable
        Called with every newly loaded ``LiveState`` (to attach it to networks).
    """

    def __init__(
        self,
        graphs: dict[str, Any],
        path: Path,
        *,
        timezone: str,
        snapper: Any = None,
        on_attach: Callable[[Any], None] = lambda live: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.graphs = dict(graphs)
        self.path = Path(path)
        self.timezone = timezone
        self.snapper = snapper
        self.on_attach = on_attach
        self._clock = clock
        self._lock = threading.RLock()
        self._stamp: tuple[int, int, int] | None = None
        self._counter: ChangeCounter | None
        try:
            self._counter = ChangeCounter(self._lock_path())
        except OSError as exc:
            logger.warning("live state: no shared change counter (%s); every read looks at %s",
                           exc, self.path)  # fmt: skip
            self._counter = None
        self._seen = self._count()
        self._next_stat = clock() + STAT_INTERVAL_S
        self.live = self._load()
        self.reloads = 0

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _count(self) -> int:
        """The shared change count (-1 without a counter: never equal to a seen count)."""
        return self._counter.read() if self._counter is not None else -1

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> Any:
        from routing.live import LiveState

        stamp = self._file_stamp()
        live = LiveState(self.graphs, path=self.path, timezone=self.timezone, snapper=self.snapper)
        self._stamp = stamp
        self.on_attach(live)
        return live

    def current(self) -> Any:
        """The live state, reloaded first when another worker changed the file.

        The hot path (every route request): one read of the shared change counter
        and of the clock; the file is looked at only when the counter moved or
        :data:`STAT_INTERVAL_S` passed.
        """
        counter = self._counter
        if counter is not None and counter.read() == self._seen and self._clock() < self._next_stat:
            return self.live
        return self._refresh()

    def _refresh(self) -> Any:
        """Compare the file's stamp with the loaded one; reload it when it differs."""
        with self._lock:
            # The count first: a change counted after this read is seen by the next one.
            self._seen = self._count()
            self._next_stat = self._clock() + STAT_INTERVAL_S
            if self._file_stamp() != self._stamp:
                self.live = self._load()
                self.reloads += 1
                logger.info("live state reloaded (changed by another worker)")
            return self.live

    @contextlib.contextmanager
    def change(self) -> Iterator[Any]:
        """The live state to change, with every other writer held off until it is saved."""
        lock_path = self._lock_path()
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                live = self._refresh()  # what every other writer saved, whatever the counter
                try:
                    yield live
                finally:
                    # Our own write is not a change by another worker; theirs learn of it
                    # from the counter (after the save: they then find the new file).
                    stamp = self._file_stamp()
                    if stamp != self._stamp and self._counter is not None:
                        self._seen = self._counter.bump()
                    self._stamp = stamp
            finally:
                os.close(fd)  # closing releases the flock
