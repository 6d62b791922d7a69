"""A content-keyed on-disk cache of numpy arrays (r5py / RoutingKit style).

An entry is a directory holding one ``NAME.npy`` per array plus ``meta.json``
with the format version, the key and each array's dtype and shape. Entries are
written to a temporary directory and renamed into place, so a crash never
leaves a half-written entry; a corrupt or incomplete entry is detected on load,
removed, and reported as a miss so the caller rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_META = "meta.json"


def file_digest(path: Path, *, chunk_size: int = 1 << 20) -> str:
    """Return the sha256 hex digest of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def cache_key(*parts: Any) -> str:
    """Combine input digests, profile names, options and format versions into a short key."""
    text = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def save_arrays(
    cache_dir: Path,
    kind: str,
    key: str,
    arrays: dict[str, np.ndarray],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Store ``arrays`` atomically as ``cache_dir/kind-key/``; return that directory.

    Parameters
    ----------
    cache_dir : Path
        Root of the cache.
    kind : str
        Short name of what is stored (``"graph-car"``, ``"ch-car"``, ``"timetable"``).
    key : str
        Content key from :func:`cache_key`.
    arrays : dict of str to ndarray
        The arrays; names must be valid file names.
    meta : dict, optional
        JSON-serialisable extra information returned by :func:`load_arrays`.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / f"{kind}-{key}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=cache_dir))
    try:
        shapes = {}
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
            shapes[name] = {"dtype": array.dtype.str, "shape": list(array.shape)}
        record = {"kind": kind, "key": key, "arrays": shapes, "meta": meta or {}}
        (tmp / _META).write_text(json.dumps(record), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_arrays(
    cache_dir: Path, kind: str, key: str, *, mmap: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """Load an entry stored by :func:`save_arrays`, or return ``None`` on a miss.

    A damaged entry (missing file, wrong dtype or shape, unreadable JSON) is
    logged, deleted and treated as a miss.
    """
    entry = cache_dir / f"{kind}-{key}"
    if not (entry / _META).is_file():
        return None
    try:
        record = json.loads((entry / _META).read_text(encoding="utf-8"))
        if record.get("key") != key:
            raise ValueError("key mismatch")
        arrays = {}
        for name, spec in record["arrays"].items():
            array = np.load(entry / f"{name}.npy", mmap_mode="r" if mmap else None)
            if array.dtype.str != spec["dtype"] or list(array.shape) != spec["shape"]:
                raise ValueError(f"{name}.npy has dtype/shape {array.dtype}{array.shape}")
            # A plain ndarray view of the same mapped buffer: indexing a np.memmap from
            # Python goes through its subclass hooks (several µs per element access).
            arrays[name] = array.view(np.ndarray) if isinstance(array, np.memmap) else array
        return arrays, record.get("meta", {})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cache entry %s is damaged (%s); rebuilding it", entry, exc)
        shutil.rmtree(entry, ignore_errors=True)
        return None


def is_memory_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` reads a memory-mapped file (a loaded cache entry), not a private copy."""
    import mmap

    base: object = array
    while base is not None:
        if isinstance(base, mmap.mmap | np.memmap):
            return True
        base = getattr(base, "base", None)
    return False


def prune(cache_dir: Path, kind: str, keep: Iterable[str]) -> None:
    """Remove entries of ``kind`` whose key is not in ``keep`` (stale builds)."""
    keep = set(keep)
    for entry in cache_dir.glob(f"{kind}-*"):
        if entry.is_dir() and entry.name[len(kind) + 1 :] not in keep:
            shutil.rmtree(entry, ignore_errors=True)
