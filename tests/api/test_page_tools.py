"""The page tests' tooling: the pinned axe-core fetch and the messages when a tool is missing."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from scripts import ensure_axe
from tests.support import browser


def tarball(script: bytes) -> bytes:
    """An npm-style tarball holding package/axe.min.js and package/LICENSE."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("axe.min.js", script), ("LICENSE", b"MPL-2.0")):
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, bytes]:
    """A fake npm registry (URL -> body) and a private tools cache."""
    monkeypatch.setenv("ELSTER_TOOLS_CACHE", str(tmp_path / "cache"))
    served: dict[str, bytes] = {}
    monkeypatch.setattr(ensure_axe, "_get", lambda url: served[url])
    return served


def publish(served: dict[str, bytes], data: bytes, integrity: str) -> None:
    url = "https://registry.example/axe-core.tgz"
    meta = {"dist": {"integrity": integrity, "tarball": url}}
    served[f"{ensure_axe.REGISTRY}/axe-core/{ensure_axe.AXE_VERSION}"] = json.dumps(meta).encode()
    served[url] = data


def test_the_pinned_release_is_fetched_once_and_checked(registry, monkeypatch) -> None:
    data = tarball(b"window.axe = {};")
    monkeypatch.setattr(ensure_axe, "AXE_INTEGRITY", sri(data))
    publish(registry, data, sri(data))
    path = ensure_axe.ensure_axe()
    assert path == ensure_axe.axe_path() and path.read_bytes() == b"window.axe = {};"
    assert (path.parent / "LICENSE").exists()
    registry.clear()  # a second call needs no registry
    assert ensure_axe.ensure_axe() == path


def test_a_registry_integrity_other_than_the_pin_is_refused(registry) -> None:
    data = tarball(b"window.axe = {};")
    publish(registry, data, sri(data))  # not the pinned integrity
    with pytest.raises(RuntimeError, match="pinned"):
        ensure_axe.ensure_axe()
    assert not ensure_axe.axe_path().exists()


def test_a_tarball_that_does_not_match_its_integrity_is_refused(registry, monkeypatch) -> None:
    data = tarball(b"window.axe = {};")
    monkeypatch.setattr(ensure_axe, "AXE_INTEGRITY", sri(b"something else"))
    publish(registry, data, sri(b"something else"))
    with pytest.raises(RuntimeError, match="sha512"):
        ensure_axe.ensure_axe()
    assert not ensure_axe.axe_path().parent.exists()


def test_a_missing_axe_core_names_the_setup_script(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser, "axe_path", lambda: tmp_path / "absent" / "axe.min.js")
    with pytest.raises(pytest.fail.Exception, match=r"python -m scripts\.ensure_axe"):
        browser.axe_source()
