"""Fetch the pinned axe-core release once into a cache outside the source tree.

The accessibility tests (``tests/api/test_accessibility.py``) inject
``axe.min.js`` into the map page and the dashboard in headless Chromium.
``make test`` runs this first::

    python -m scripts.ensure_axe          # prints the path of axe.min.js

What it does, in order:

1. returns at once when ``<cache>/axe-core-<version>/axe.min.js`` exists
   (``<cache>`` is ``$ELSTER_TOOLS_CACHE``, else ``$XDG_CACHE_HOME/elster``,
   else ``~/.cache/elster``);
2. reads the version's metadata from the npm registry and checks that its
   ``dist.integrity`` is the one pinned here (a re-published tarball fails);
3. downloads the tarball, checks its sha512 against that integrity, and
   extracts ``package/axe.min.js`` and ``package/LICENSE`` into a temporary
   directory renamed into place (a crash never leaves a half-written copy).

Only the npm registry is contacted (``$NPM_CONFIG_REGISTRY`` overrides it).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

AXE_VERSION = "4.14.1"
#: ``dist.integrity`` of axe-core 4.14.1 on registry.npmjs.org.
AXE_INTEGRITY = (
    "sha512-"
    "FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)
REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
FILES = ("axe.min.js", "LICENSE")


def cache_root() -> Path:
    """The folder holding the fetched test tools (outside the source tree).

    Returns
    -------
    Path
        ``$ELSTER_TOOLS_CACHE``, else ``$XDG_CACHE_HOME/elster``, else ``~/.cache/elster``.
    """
    if os.environ.get("ELSTER_TOOLS_CACHE"):
        return Path(os.environ["ELSTER_TOOLS_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "elster"


def axe_path() -> Path:
    """Where ``axe.min.js`` of the pinned version lives once fetched.

    Returns
    -------
    Path
        ``<cache>/axe-core-<version>/axe.min.js`` (it may not exist yet).
    """
    return cache_root() / f"axe-core-{AXE_VERSION}" / "axe.min.js"


def _get(url: str) -> bytes:
    """The body of ``url`` (GET, 60 s timeout)."""
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
    return body


def _check_integrity(data: bytes, integrity: str) -> None:
    """Raise ``RuntimeError`` unless ``data`` has the SRI ``integrity`` (sha512-<base64>)."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise RuntimeError(f"unexpected integrity algorithm {algorithm!r} for axe-core")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise RuntimeError(
            f"axe-core {AXE_VERSION} tarball sha512 is {actual}, expected {expected}; "
            "the download is corrupt or the registry served another file"
        )


def ensure_axe() -> Path:
    """Fetch and verify the pinned axe-core once; return the path of ``axe.min.js``.

    Returns
    -------
    Path
        The cached ``axe.min.js``.

    Raises
    ------
    RuntimeError
        The registry's integrity differs from the pinned one, or the tarball
        does not match it.
    """
    target = axe_path()
    if target.exists():
        return target
    meta = json.loads(_get(f"{REGISTRY}/axe-core/{AXE_VERSION}"))
    dist = meta["dist"]
    if dist["integrity"] != AXE_INTEGRITY:
        raise RuntimeError(
            f"the registry's integrity for axe-core {AXE_VERSION} is {dist['integrity']}, "
            f"pinned {AXE_INTEGRITY}; check the release before changing the pin"
        )
    tarball = _get(dist["tarball"])
    _check_integrity(tarball, AXE_INTEGRITY)
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".axe-core-", dir=target.parent.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the copy is for every user of the cache
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
            for name in FILES:
                member = tar.extractfile(f"package/{name}")
                if member is None:
                    raise RuntimeError(f"axe-core {AXE_VERSION} tarball has no package/{name}")
                (tmp / name).write_bytes(member.read())
        try:
            tmp.rename(target.parent)
        except OSError:  # another process got there first: theirs is as good
            if not target.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def main() -> int:
    """Fetch axe-core when missing and print its path; 1 with the reason on failure."""
    try:
        print(ensure_axe())
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        print(f"ensure_axe: could not fetch axe-core {AXE_VERSION}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
