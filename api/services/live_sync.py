"""One live road state (closures, traffic) shared by every worker process of the server.

:class:`routing.live.LiveState` lives in one process and persists itself to
``DATA_DIR/live/REGION.json``. With several uvicorn workers, a closure posted
to one worker must change the next route answered by any worker, and two
operators changing the state at once through two workers must not overwrite
each other. :class:`LiveSync` does both:

* reads (:meth:`LiveSync.current`) look at the file's modification stamp (one
  ``stat``) and, when another worker wrote it, load it into a new
  ``LiveState`` and re-attach it to the served networks and the planner;
* changes (:meth:`LiveSync.change`) hold an ``flock`` on ``REGION.json.lock``,
  load what other workers wrote first, apply the change, save, release.

Attaching a state is cheap: networks share their graph, snapper and
hierarchy (:meth:`routing.road.RoadNetwork.with_live`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


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
    ) -> None:
        self.graphs = dict(graphs)
        self.path = Path(path)
        self.timezone = timezone
        self.snapper = snapper
        self.on_attach = on_attach
        self._lock = threading.RLock()
        self._stamp: tuple[int, int, int] | None = None
        self.live = self._load()
        self.reloads = 0

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
        """The live state, reloaded first when another worker changed the file."""
        if self._file_stamp() == self._stamp:
            return self.live
        with self._lock:
            if self._file_stamp() != self._stamp:
                self.live = self._load()
                self.reloads += 1
                logger.info("live state reloaded (changed by another worker)")
            return self.live

    @contextlib.contextmanager
    def change(self) -> Iterator[Any]:
        """The live state to change, with every other writer held off until it is saved."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                live = self.current()
                try:
                    yield live
                finally:
                    # Our own write is not a change by another worker.
                    self._stamp = self._file_stamp()
            finally:
                os.close(fd)  # closing releases the flock
