"""Pure helpers of the OSRM comparison (benchmarks/osrm_compare.py), without OSRM.

The OSRM side is a stub answering in OSRM's JSON shape (httpx.MockTransport);
nothing is downloaded and no OSRM runs in the tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import httpx
import numpy as np
import pytest

from benchmarks.osrm_compare import (
    compare_routes,
    elster_route_paths,
    expand_template,
    http_load,
    osrm_report,
    osrm_route_paths,
    ratio_stats,
    summary_line,
)
from benchmarks.osrm_peer import _restriction_counts, decode_polyline
from routing.polyline import encode_polyline

A, B, C = (49.40, 8.69), (49.41, 8.70), (49.42, 8.71)


def osrm_stub(no_route_to: tuple[float, float]) -> SimpleNamespace:
    """An object that quacks like a running OsrmServer: every route 100 s and 1,000 m."""

    def handler(request: httpx.Request) -> httpx.Response:
        coords = request.url.path.rsplit("/", 1)[1]
        lon, lat = map(float, coords.split(";")[1].split(","))
        if (lat, lon) == no_route_to:
            return httpx.Response(400, json={"code": "NoRoute", "message": "Impossible route"})
        route = {
            "duration": 100.0, "distance": 1000.0, "weight": 100.0,
            "geometry": encode_polyline(np.array([A[0], lat]), np.array([A[1], lon]), 6),
            "legs": [{"annotation": {"nodes": [1, 2, 3]}}],
        }  # fmt: skip
        return httpx.Response(200, json={"code": "Ok", "routes": [route], "waypoints": []})

    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://osrm")
    return SimpleNamespace(client=client, max_table_size=100)


def test_ratio_stats() -> None:
    stats = ratio_stats([0.5, 1.0, 1.5, float("nan")])
    assert stats["n"] == 3 and stats["median"] == 1.0 and stats["min"] == 0.5
    assert ratio_stats([])["median"] is None


def test_compare_routes_counts_and_ratios() -> None:
    pairs = [(A, B), (A, C), (B, C), (C, A)]

    def ours(o, d):
        if d == A:
            raise ValueError("no road near the destination")
        return 80.0, 1001.0

    result = compare_routes(pairs, ours, osrm_stub(no_route_to=C))
    assert result["pairs"] == 4
    assert result["compared"] == 1  # (A, B); OSRM refuses both pairs to C; ours fails (C, A)
    assert result["osrm_failed"] == {"NoRoute": 2}
    assert result["ours_failed"] == {"ValueError": 1}
    assert result["duration_ratio"]["median"] == pytest.approx(0.8)
    assert result["distance_within"]["0.2%"] == 1.0
    assert result["meets_target"] is False
    assert result["worst"][0]["osrm_s"] == 100.0


def test_compare_routes_meets_target_when_times_agree() -> None:
    result = compare_routes([(A, B)] * 3, lambda o, d: (101.0, 1000.0), osrm_stub((0.0, 0.0)))
    assert result["compared"] == 3 and result["meets_target"] is True


def test_polyline_round_trip() -> None:
    lats, lons = np.array([49.401234, 49.402345, 49.3]), np.array([8.691234, 8.70001, 8.8])
    decoded = decode_polyline(encode_polyline(lats, lons, 6))
    assert np.allclose(decoded, np.column_stack((lats, lons)), atol=1e-6)


def test_route_paths() -> None:
    assert osrm_route_paths([(A, B)]) == [
        "/route/v1/driving/8.690000,49.400000;8.700000,49.410000?overview=full&geometries=polyline6"
    ]
    assert elster_route_paths([(A, B)]) == [
        "/api/v1/route?fromPlace=49.400000,8.690000&toPlace=49.410000,8.700000&profile=car"
    ]
    assert expand_template("/x/{o_lon},{o_lat}/{d_lat}", [(A, B)]) == ["/x/8.69,49.4/49.41"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the load client expects

    def do_GET(self) -> None:
        status = 200 if self.path.startswith("/ok") else 404
        body = b'{"code":"Ok"}' if status == 200 else b"missing"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_load_counts_every_answer(local_server: str) -> None:
    result = http_load(local_server, ["/ok/1", "/ok/2", "/missing"], requests=30, concurrency=4)
    assert result["requests"] == 30 and result["concurrency"] == 4
    assert result["status"] == {"200": 20, "404": 10}
    assert result["ok_share"] == pytest.approx(20 / 30)
    assert result["errors"] == []
    assert result["p50_ms"] <= result["p95_ms"]


def test_osrm_report_skips_with_a_reason_when_osrm_cannot_be_had(tmp_path) -> None:
    """A damaged wheel in the cache: the report says why instead of raising (no download)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "osrm_bindings-26.10.0-cp312-abi3-manylinux_2_28_x86_64.whl").write_bytes(b"junk")
    report = osrm_report(tmp_path / "map.osm.pbf", [(A, B)], cache_dir=tmp_path)
    assert report["available"] is False
    assert "cannot unpack" in report["reason"]
    assert summary_line(report).startswith("OSRM skipped: cannot unpack")


def test_restriction_counts_from_the_extract_log() -> None:
    log = (
        "[info] Raw input contains 221009 nodes, 31619 ways, and 460 relations, 476 restrictions\n"
        "[info] Removing invalid turn restrictions...removed 3 invalid turn restrictions\n"
        "[info] Constructing restriction graph on 450 restrictions...ok, after 0.000108s\n"
    )
    assert _restriction_counts(log) == {
        "restrictions": 476, "removed_invalid": 3, "in_restriction_graph": 450,
    }  # fmt: skip
