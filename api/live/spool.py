"""The newest payload of one feed, shared by the server's worker processes on disk.

With several workers (``api.workers``), a feed must be fetched once and every
worker must plan on the same version. Per feed, a directory under
``DATA_DIR/live/feeds/REGION/`` holds:

* ``KEY.lock`` - whoever holds its ``flock`` is the feed's *leader* and polls the
  feed; the lock dies with the process, so another worker takes over;
* ``KEY.VERSION.bin`` - a good payload, written to a temporary file and renamed;
* ``KEY.json`` - the current version, its payload file, the validators and the
  feed's health (last good fetch, errors), replaced atomically after the payload.

Followers look at ``KEY.json``'s modification stamp (one ``stat``) and load a
newer version when it appears. A reader therefore never sees a half-written
payload, and every worker applies the same bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any


class FeedSpool:
    """Shared on-disk state of one feed.

    Parameters
    ----------
    directory : Path
        Spool directory of the region (created when missing).
    key : str
        The feed's key (``[live.KEY]``).
    """

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.meta_path = self.directory / f"{key}.json"
        self._lock_path = self.directory / f"{key}.lock"
        self._lock_fd: int | None = None
        self._stamp: tuple[int, int] | None = None
        self._meta: dict[str, Any] | None = None

    # ------------------------------------------------------------------ leadership
    @property
    def leader(self) -> bool:
        """Whether this process holds the feed's lock."""
        return self._lock_fd is not None

    def try_lead(self) -> bool:
        """Become the feed's leader if no other process is (non-blocking); keep it."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def release(self) -> None:
        """Give up leadership (another process may take it)."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ writing (leader)
    def publish(self, meta: dict[str, Any], payload: bytes | None = None) -> dict[str, Any]:
        """Write a new version (``payload`` given) or new health for the current one.

        Returns the metadata written. The payload file is in place before the
        metadata names it.
        """
        meta = dict(meta)
        current = self.read_meta() or {}
        if payload is not None:
            version = int(current.get("version", 0)) + 1
            name = f"{self.key}.{version}.bin"
            self._atomic_write(self.directory / name, payload)
            meta["version"], meta["payload"] = version, name
        else:
            meta["version"] = int(current.get("version", 0))
            meta["payload"] = current.get("payload")
        self._atomic_write(self.meta_path, json.dumps(meta).encode())
        if payload is not None:
            self._prune(keep={meta["payload"], current.get("payload")})
        return meta

    def _atomic_write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _prune(self, keep: set[Any]) -> None:
        for path in self.directory.glob(f"{self.key}.*.bin"):
            if path.name not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()

    # ------------------------------------------------------------------ reading (everyone)
    def read_meta(self) -> dict[str, Any] | None:
        """The current metadata (re-read only when the file changed), or None."""
        try:
            st = os.stat(self.meta_path)
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            try:
                self._meta = json.loads(self.meta_path.read_bytes())
            except (OSError, ValueError):
                return self._meta  # being replaced right now: keep the last one
            self._stamp = stamp
        return self._meta

    def read_payload(self, meta: dict[str, Any]) -> bytes | None:
        """The payload a metadata record names, or None if it is gone (a newer one replaced it)."""
        name = meta.get("payload")
        if not name:
            return None
        try:
            return (self.directory / str(name)).read_bytes()
        except FileNotFoundError:
            return None
