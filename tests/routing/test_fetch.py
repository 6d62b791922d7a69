"""Region files and the fetch step: mirror copies and real HTTP downloads on 127.0.0.1."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from routing.errors import FetchError, RegionError
from routing.fetch import fetch_region, fetch_source
from routing.regions import Region, Source, available_regions, load_region


class _RangeHandler(BaseHTTPRequestHandler):
    """Serves files from ``root`` with HTTP Range support; can cut a response short."""

    root: Path
    cut_after: int | None = None  # bytes to send before dropping the connection once
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.headers.get("Range", ""))
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut_after is not None:
            self.wfile.write(body[: type(self).cut_after])
            type(self).cut_after = None
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path, type[_RangeHandler]]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (_RangeHandler,), {"root": root, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, handler
    server.shutdown()
    server.server_close()


def _source(path: str, url: str | None, data: bytes | None = None) -> Source:
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    return Source(key="osm", kind="osm", path=path, url=url, sha256=digest)


def test_shipped_regions_load() -> None:
    assert {"heidelberg", "gera"} <= set(available_regions())
    hd = load_region("heidelberg")
    gera = load_region("gera")
    assert hd.timezone == gera.timezone == "Europe/Berlin"
    assert gera.bbox == (11.95, 50.80, 12.20, 50.95)
    for region in (hd, gera):
        for source in region.sources.values():
            assert source.url and source.url.startswith("https://"), source
    assert hd.contains(49.41, 8.69) and not hd.contains(50.88, 12.08)


def test_unknown_region_names_known_ones() -> None:
    with pytest.raises(RegionError, match=r"known regions: .*heidelberg"):
        load_region("atlantis")


def test_invalid_region_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntimezone = "UTC"\nbbox = [1, 2, 0, 3]\n')
    with pytest.raises(RegionError, match="bbox"):
        load_region(bad)
    bad.write_text("name = = 1")
    with pytest.raises(RegionError, match="not valid TOML"):
        load_region(bad)


def test_fetch_from_mirror_verifies_and_skips(
    tmp_path: Path, mirror_dir: Path, hd_region: Region
) -> None:
    data_dir = tmp_path / "data"
    results = fetch_region(hd_region, data_dir=data_dir, mirror=mirror_dir, progress=False)
    assert {r.action for r in results} == {"copied"}
    for key, source in hd_region.sources.items():
        copied = hd_region.source_file(key, data_dir)
        assert copied.read_bytes() == (mirror_dir / source.path).read_bytes()
    again = fetch_region(hd_region, data_dir=data_dir, mirror=mirror_dir, progress=False)
    assert {r.action for r in again} == {"present"}


def test_mirror_with_wrong_checksum_keeps_nothing(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "x").mkdir(parents=True)
    (mirror / "x" / "f.bin").write_bytes(b"tampered")
    source = _source("x/f.bin", None, b"original")
    with pytest.raises(FetchError, match="sha256"):
        fetch_source(source, data_dir=tmp_path / "data", mirror=mirror)
    assert not list((tmp_path / "data").rglob("*.bin*"))


def test_download_over_http_resumes_after_a_dropped_connection(
    tmp_path: Path, http_root: tuple[str, Path, type[_RangeHandler]], mirror_dir: Path
) -> None:
    base, root, handler = http_root
    payload = (mirror_dir / "heidelberg" / "vrn_gtfs.zip").read_bytes()
    shutil.copyfile(mirror_dir / "heidelberg" / "vrn_gtfs.zip", root / "feed.zip")
    source = _source("hd/feed.zip", f"{base}/feed.zip", payload)
    data_dir = tmp_path / "data"

    handler.cut_after = 100_000
    with pytest.raises(FetchError, match="resumes"):
        fetch_source(source, data_dir=data_dir)
    part = data_dir / "hd" / "feed.zip.part"
    kept = part.stat().st_size
    assert 0 < kept <= 100_000
    assert not (data_dir / "hd" / "feed.zip").exists()

    result = fetch_source(source, data_dir=data_dir)
    assert result.action == "downloaded"
    assert (data_dir / "hd" / "feed.zip").read_bytes() == payload
    assert not part.exists()
    assert handler.requests[-1] == f"bytes={kept}-"


def test_download_404_and_unreachable_are_clear(
    tmp_path: Path, http_root: tuple[str, Path, type[_RangeHandler]]
) -> None:
    base, _, _ = http_root
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_source(_source("a/missing.pbf", f"{base}/missing.pbf"), data_dir=tmp_path)
    with pytest.raises(FetchError, match="ELSTER_MIRROR"):
        fetch_source(
            _source("a/x.pbf", "http://127.0.0.1:9/x.pbf"), data_dir=tmp_path, progress=False
        )


def test_gera_offline_reports_missing_sources_and_keeps_the_rest(
    tmp_path: Path, mirror_dir: Path
) -> None:
    gera = load_region("gera")
    with pytest.raises(FetchError) as info:
        fetch_region(gera, data_dir=tmp_path, mirror=mirror_dir, progress=False, timeout_s=2)
    message = str(info.value)
    assert "osm" in message and "gtfs" in message
    assert gera.source_file("population", tmp_path).is_file()
    assert gera.source_file("chargers", tmp_path).is_file()
