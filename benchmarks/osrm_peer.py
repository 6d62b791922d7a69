"""A real OSRM beside Elster, for benchmarks only: fetch, build, serve and query it.

The ``osrm-bindings`` wheel on PyPI (cp312-abi3, manylinux_2_28) carries the
``osrm-extract``, ``osrm-contract`` and ``osrm-routed`` executables of OSRM
and its Lua profiles (``osrm/share/profiles/car.lua`` and ``lib/``). The
executables are statically linked against everything but glibc/libstdc++, so
they run here whatever Python the project uses: nothing is installed, the
wheel is only downloaded (``pip download --no-deps --only-binary :all:
--python-version 3.12``) and unzipped into a cache folder. Should a later
wheel bundle shared libraries (an ``osrm_bindings.libs/`` folder, as
auditwheel makes), their folders are put on ``LD_LIBRARY_PATH`` of every child.

This module is never imported by the project's runtime nor by its tests. When
the wheel cannot be had (no registry, no matching platform), every entry point
raises :class:`OsrmUnavailable` naming the reason, so a benchmark can skip its
OSRM part with one message::

    try:
        osrm = ensure_osrm()
        dataset = build_osrm(pbf, "car", binaries=osrm)
    except OsrmUnavailable as exc:
        print(f"OSRM part skipped: {exc}")
    else:
        with OsrmServer(dataset, binaries=osrm) as server:
            print(route(server, (49.4094, 8.6937), (49.3925, 8.6890))["duration_s"])

Cache layout (``$ELSTER_CACHE_DIR/osrm`` or ``bench-results/osrm-cache``, both
gitignored; not ``.osrm``: ``osrm-routed`` cuts the first ``.osrm`` out of a
dataset's path, so no folder above a dataset may contain that string)::

    wheels/osrm_bindings-26.10.0-....whl    the downloaded wheel
    osrm-bindings-26.10.0/                  the unzipped wheel (osrm/bin, osrm/share)
    builds/<pbf sha256[:16]>-<profile>-<profile sha256[:8]>-v26.10.0/
        map.osm.pbf -> the PBF (symlink), map.osrm.* (extract + contract output),
        extract.log, contract.log, build.json (times, peak RSS)

Run ``python -m benchmarks.osrm_peer [PBF]`` to try it end to end: it builds
the PBF (default: Heidelberg from the data mirror), serves it, and prints
preprocessing time and memory, a few routes and a table time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

log = logging.getLogger("benchmarks.osrm_peer")

ROOT = Path(__file__).resolve().parents[1]
#: The OSRM release the benchmarks compare against (the wheel's version).
OSRM_VERSION = "26.10.0"
#: The wheel's package name on PyPI.
WHEEL_NAME = "osrm-bindings"
#: Executables the harness needs.
EXECUTABLES = ("osrm-extract", "osrm-contract", "osrm-routed")
#: Polyline precision of geometries asked from OSRM (the same as Elster's API).
POLYLINE_PRECISION = 6
#: Coordinates per request ``osrm-routed`` accepts for ``/table`` (2 x 1000 fits).
DEFAULT_MAX_TABLE_SIZE = 2000

LatLon = tuple[float, float]


class OsrmError(RuntimeError):
    """OSRM failed: a build step, the server, or a query (the message says which and why)."""


class OsrmUnavailable(OsrmError):  # noqa: N818 (the name benchmarks catch: reads as a state)
    """The OSRM executables cannot be had here (download, unpack or start failed)."""


class OsrmNoRouteError(OsrmError):
    """OSRM answered a query with a code other than ``Ok`` (e.g. ``NoRoute``, ``NoSegment``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"OSRM answered {code}: {message}")
        self.code = code


# ----------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class OsrmBinaries:
    """The unpacked OSRM executables and profiles.

    Attributes
    ----------
    root : Path
        The unzipped wheel.
    extract, contract, routed : Path
        The ``osrm-extract``, ``osrm-contract`` and ``osrm-routed`` executables.
    profiles_dir : Path
        Folder of the Lua profiles (``car.lua``, ``bicycle.lua``, ``foot.lua``, ``lib/``).
    version : str
        What ``osrm-routed --version`` prints, e.g. ``v26.10.0``.
    library_dirs : tuple of Path
        Folders of shared libraries bundled with the wheel (empty for 26.10).
    """

    root: Path
    extract: Path
    contract: Path
    routed: Path
    profiles_dir: Path
    version: str
    library_dirs: tuple[Path, ...] = ()

    def profile(self, name: str) -> Path:
        """Path of the bundled profile ``name`` (``"car"``, ``"bicycle"``, ``"foot"``)."""
        path = self.profiles_dir / f"{name}.lua"
        if not path.is_file():
            known = sorted(p.stem for p in self.profiles_dir.glob("*.lua"))
            raise OsrmError(f"no OSRM profile {name!r} in {self.profiles_dir}; known: {known}")
        return path

    def env(self) -> dict[str, str]:
        """Environment for the executables (``LD_LIBRARY_PATH`` with bundled libraries)."""
        env = dict(os.environ)
        if self.library_dirs:
            dirs = [str(d) for d in self.library_dirs]
            if env.get("LD_LIBRARY_PATH"):
                dirs.append(env["LD_LIBRARY_PATH"])
            env["LD_LIBRARY_PATH"] = os.pathsep.join(dirs)
        return env


def default_cache_dir() -> Path:
    """``$ELSTER_CACHE_DIR/osrm`` when that variable is set, else ``bench-results/osrm-cache``.

    Not ``.osrm``: ``osrm-routed`` cuts the first ``.osrm`` out of a dataset path to
    find its files, so no folder of the path may contain that string.
    """
    base = os.environ.get("ELSTER_CACHE_DIR")
    if base:
        return Path(base) / "osrm"
    return ROOT / "bench-results" / "osrm-cache"


def _find_wheel(wheel_dir: Path, version: str) -> Path | None:
    found = sorted(wheel_dir.glob(f"osrm_bindings-{version}-*.whl"))
    return found[-1] if found else None


def _download_wheel(wheel_dir: Path, version: str) -> Path:
    """``pip download`` the wheel into ``wheel_dir`` with the current interpreter's pip."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--python-version", "3.12", "--platform", "manylinux_2_28_x86_64",
        "--disable-pip-version-check", "--quiet", "-d", str(wheel_dir),
        f"{WHEEL_NAME}=={version}",
    ]  # fmt: skip
    log.info("downloading %s %s: %s", WHEEL_NAME, version, " ".join(cmd))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OsrmUnavailable(f"cannot run pip to download {WHEEL_NAME}: {exc}") from exc
    wheel = _find_wheel(wheel_dir, version)
    if done.returncode != 0 or wheel is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise OsrmUnavailable(
            f"`pip download {WHEEL_NAME}=={version}` failed (exit {done.returncode}): "
            f"{' | '.join(tail) or 'no wheel written'}; put the wheel into {wheel_dir} "
            "by hand to run the OSRM comparison offline"
        )
    return wheel


def _unpack(wheel: Path, target: Path) -> None:
    """Unzip ``wheel`` into ``target`` atomically (a temporary folder, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp)
            for info in zf.infolist():  # zipfile drops the mode bits: restore them
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    (tmp / info.filename).chmod(mode)
        for exe in (tmp / "osrm" / "bin").glob("osrm-*"):
            exe.chmod(exe.stat().st_mode | 0o755)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "osrm" / "bin" / "osrm-routed").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process unpacked it meanwhile
    except (zipfile.BadZipFile, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OsrmUnavailable(f"cannot unpack {wheel}: {exc}; delete it to download again") from exc


def _locate(root: Path) -> OsrmBinaries:
    """Find executables, profiles and bundled libraries in an unpacked wheel."""
    exes = {}
    for name in EXECUTABLES:
        hits = sorted(p for p in root.rglob(name) if p.is_file())
        if not hits:
            raise OsrmUnavailable(f"{name} is not in the unpacked wheel {root}")
        exes[name] = hits[0]
    cars = sorted(root.rglob("profiles/car.lua"))
    if not cars:
        raise OsrmUnavailable(
            f"no profiles/car.lua in the unpacked wheel {root}: a wheel without profiles "
            "needs them from an OSRM source checkout (profiles/) copied beside osrm/bin"
        )
    lib_dirs = sorted(
        {p.parent for p in root.rglob("*.so*") if p.is_file() and p.suffix != ".py"}
        - {p.parent for p in root.rglob("*.abi3.so")}  # the Python extension is not a library
    )
    env_probe = OsrmBinaries(
        root=root, extract=exes["osrm-extract"], contract=exes["osrm-contract"],
        routed=exes["osrm-routed"], profiles_dir=cars[0].parent, version="",
        library_dirs=tuple(lib_dirs),
    )  # fmt: skip
    try:
        done = subprocess.run(
            [str(env_probe.routed), "--version"],
            capture_output=True, text=True, timeout=30, env=env_probe.env(), check=False,
        )  # fmt: skip
    except OSError as exc:
        raise OsrmUnavailable(f"cannot execute {env_probe.routed}: {exc}") from exc
    version = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not version:
        raise OsrmUnavailable(
            f"{env_probe.routed} --version failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-300:]}"
        )
    return OsrmBinaries(**{**env_probe.__dict__, "version": version})


def ensure_osrm(
    cache_dir: Path | str | None = None, *, version: str = OSRM_VERSION, wheel: Path | None = None
) -> OsrmBinaries:
    """The OSRM executables, downloading and unpacking the wheel on first use.

    Parameters
    ----------
    cache_dir : Path, optional
        Cache folder (default :func:`default_cache_dir`).
    version : str
        ``osrm-bindings`` version to use.
    wheel : Path, optional
        A wheel file already at hand (no download).

    Returns
    -------
    OsrmBinaries

    Raises
    ------
    OsrmUnavailable
        When the wheel cannot be downloaded or unpacked, or its executables do not run here.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / f"osrm-bindings-{version}"
    if not (target / "osrm" / "bin" / "osrm-routed").is_file():
        if target.exists():  # a different or damaged layout: start again
            shutil.rmtree(target, ignore_errors=True)
        if wheel is None:
            wheel = _find_wheel(cache / "wheels", version) or _download_wheel(
                cache / "wheels", version
            )
        _unpack(Path(wheel), target)
    binaries = _locate(target)
    log.info("OSRM %s at %s", binaries.version, target)
    return binaries


# ----------------------------------------------------------------------------- build


@dataclass(frozen=True)
class OsrmDataset:
    """A preprocessed OSRM dataset (``osrm-extract`` + ``osrm-contract``).

    Usable wherever a path is (``os.fspath(dataset)`` is the ``.osrm`` base path).

    Attributes
    ----------
    path : Path
        The ``.osrm`` base path to give ``osrm-routed``.
    profile : str
        Profile name.
    stats : dict
        ``extract_s``, ``contract_s``, ``total_s`` (wall seconds), ``extract_peak_rss_mb``,
        ``contract_peak_rss_mb``, ``peak_rss_mb`` (each child's maximum resident set),
        ``pbf_sha256``, ``osrm_version``, ``threads``, and ``cached`` (True when this call
        found the build on disk: the figures are those of the original build).
    """

    path: Path
    profile: str
    stats: dict[str, Any] = field(default_factory=dict)

    def __fspath__(self) -> str:
        return str(self.path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run_measured(cmd: list[str], *, cwd: Path, log_path: Path, env: dict[str, str]) -> dict:
    """Run ``cmd`` to completion; return its wall seconds and peak RSS (MB), from ``wait4``."""
    with log_path.open("wb") as out:
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        except OSError as exc:
            raise OsrmUnavailable(f"cannot start {cmd[0]}: {exc}") from exc
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        raise OsrmError(
            f"{Path(cmd[0]).name} failed (exit {proc.returncode}); log {log_path}: "
            + " | ".join(tail)
        )
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024.0}


def build_osrm(
    pbf: Path | str,
    profile: str = "car",
    workdir: Path | str | None = None,
    *,
    binaries: OsrmBinaries | None = None,
    threads: int = 2,
) -> OsrmDataset:
    """Preprocess ``pbf`` for ``osrm-routed --algorithm ch``, cached by content.

    Parameters
    ----------
    pbf : Path
        OSM file (``.osm.pbf``).
    profile : str
        A bundled profile name (``"car"``) or the path of a ``.lua`` profile.
    workdir : Path, optional
        Where builds are kept (default ``<cache>/builds``).
    binaries : OsrmBinaries, optional
        From :func:`ensure_osrm` (called with defaults when omitted).
    threads : int
        ``--threads`` of extract and contract.

    Returns
    -------
    OsrmDataset
        The ``.osrm`` base path and the build's figures; a build already on disk for the
        same PBF content, profile content and OSRM version is reused.

    Raises
    ------
    OsrmUnavailable
        When OSRM cannot be had.
    OsrmError
        When extract or contract fails (the message holds the end of its log).
    """
    pbf = Path(pbf).resolve()
    if not pbf.is_file():
        raise FileNotFoundError(f"no OSM file at {pbf}")
    osrm = binaries or ensure_osrm()
    profile_path = Path(profile) if profile.endswith(".lua") else osrm.profile(profile)
    profile_name = profile_path.stem
    pbf_sha = _sha256(pbf)
    key = f"{pbf_sha[:16]}-{profile_name}-{_sha256(profile_path)[:8]}-{osrm.version}"
    builds = Path(workdir) if workdir is not None else default_cache_dir() / "builds"
    target = builds / key
    meta = target / "build.json"
    if ".osrm" in str(target.resolve()):
        raise OsrmError(
            f"the OSRM build folder {target} contains '.osrm', which osrm-routed cuts out of "
            "dataset paths: pass another workdir (or ELSTER_CACHE_DIR)"
        )
    if meta.is_file() and (target / "map.osrm.hsgr").is_file():
        stats = {**json.loads(meta.read_text()), "cached": True}
        return OsrmDataset(path=target / "map.osrm", profile=profile_name, stats=stats)

    builds.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=builds))
    try:
        suffix = ".osm.pbf" if pbf.name.endswith(".pbf") else "".join(pbf.suffixes[-2:])
        source = tmp / f"map{suffix}"
        source.symlink_to(pbf)
        env = osrm.env()
        log.info("osrm-extract %s with %s", pbf.name, profile_path.name)
        extract = _run_measured(
            [str(osrm.extract), "-p", str(profile_path), "-t", str(threads), source.name],
            cwd=tmp, log_path=tmp / "extract.log", env=env,
        )  # fmt: skip
        log.info("osrm-contract %s", pbf.name)
        contract = _run_measured(
            [str(osrm.contract), "-t", str(threads), "map.osrm"],
            cwd=tmp, log_path=tmp / "contract.log", env=env,
        )  # fmt: skip
        stats = {
            "pbf": str(pbf),
            "pbf_sha256": pbf_sha,
            "profile": profile_name,
            "osrm_version": osrm.version,
            "threads": threads,
            "extract_s": extract["wall_s"],
            "contract_s": contract["wall_s"],
            "total_s": extract["wall_s"] + contract["wall_s"],
            "extract_peak_rss_mb": extract["peak_rss_mb"],
            "contract_peak_rss_mb": contract["peak_rss_mb"],
            "peak_rss_mb": max(extract["peak_rss_mb"], contract["peak_rss_mb"]),
            "restrictions": _restriction_counts((tmp / "extract.log").read_text(errors="replace")),
        }
        (tmp / "build.json").write_text(json.dumps(stats, indent=2))
        if target.exists():  # a concurrent build won: keep it
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info(
        "built OSRM %s for %s: extract %.1f s, contract %.1f s, peak RSS %.0f MB",
        profile_name, pbf.name, stats["extract_s"], stats["contract_s"], stats["peak_rss_mb"],
    )  # fmt: skip
    return OsrmDataset(
        path=target / "map.osrm", profile=profile_name, stats={**stats, "cached": False}
    )


def _restriction_counts(extract_log: str) -> dict[str, int]:
    """Turn-restriction figures ``osrm-extract`` logs: read, removed as invalid, used."""
    import re

    counts: dict[str, int] = {}
    # "Raw input contains N nodes, N ways, and N relations, N restrictions": the relations
    # there are those the profile stashes (car: type=route), not the restriction relations.
    if m := re.search(r"and \d+ relations, (\d+) restrictions", extract_log):
        counts["restrictions"] = int(m.group(1))
    if m := re.search(r"removed (\d+) invalid turn restrictions", extract_log):
        counts["removed_invalid"] = int(m.group(1))
    if m := re.search(r"Constructing restriction graph on (\d+) restrictions", extract_log):
        counts["in_restriction_graph"] = int(m.group(1))
    return counts


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OsrmServer:
    """``osrm-routed`` on 127.0.0.1 at a free port, for the length of a ``with`` block.

    Parameters
    ----------
    dataset : OsrmDataset or Path
        From :func:`build_osrm` (or a ``.osrm`` base path built for CH).
    binaries : OsrmBinaries, optional
        From :func:`ensure_osrm` (called with defaults when omitted).
    algorithm : str
        ``"ch"`` (the build is contracted) or ``"mld"`` (needs partition + customize).
    threads : int
        Server threads (``-t``).
    max_table_size : int
        ``--max-table-size``: coordinates per ``/table`` request.
    port : int, optional
        Default: a free port.
    startup_timeout_s : float
        How long to wait for the first answer.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT``.
    client : httpx.Client
        A keep-alive client for the helpers below (open inside the ``with`` block).
    """

    def __init__(
        self,
        dataset: OsrmDataset | Path | str,
        *,
        binaries: OsrmBinaries | None = None,
        algorithm: str = "ch",
        threads: int = 2,
        max_table_size: int = DEFAULT_MAX_TABLE_SIZE,
        port: int | None = None,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.dataset = Path(os.fspath(dataset))
        self.binaries = binaries
        self.algorithm = algorithm
        self.threads = threads
        self.max_table_size = max_table_size
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.url = ""
        self.log_path = self.dataset.parent / "routed.log"  # per port once started
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            raise OsrmError("OsrmServer is not running: use it as `with OsrmServer(...) as s:`")
        return self._client

    def __enter__(self) -> OsrmServer:
        osrm = self.binaries or ensure_osrm()
        self.port = self.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.dataset.parent / f"routed-{self.port}.log"
        cmd = [
            str(osrm.routed), "--algorithm", self.algorithm, "--ip", "127.0.0.1",
            "--port", str(self.port), "--threads", str(self.threads),
            "--max-table-size", str(self.max_table_size),
            "--max-viaroute-size", "500", str(self.dataset),
        ]  # fmt: skip
        with self.log_path.open("wb") as out:
            self._proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=osrm.env(),
                cwd=self.dataset.parent,
            )  # fmt: skip
        self._client = httpx.Client(base_url=self.url, timeout=120.0)
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if self._proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
                self._stop()
                raise OsrmError(
                    f"osrm-routed exited with {self._proc.returncode}; log {self.log_path}: "
                    + " | ".join(tail)
                )
            try:  # any HTTP answer means it listens (0,0 has no road: NoSegment is fine)
                self._client.get("/nearest/v1/driving/0,0", timeout=2.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    self._stop()
                    raise OsrmError(
                        f"osrm-routed did not answer on {self.url} within "
                        f"{self.startup_timeout_s:.0f} s; log {self.log_path}"
                    ) from None
                time.sleep(0.1)
        log.info("osrm-routed (%s) serving %s on %s", self.algorithm, self.dataset, self.url)
        return self

    def _stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._stop()
        if exc_type is None:  # keep the log only when something went wrong
            self.log_path.unlink(missing_ok=True)

    @property
    def pid(self) -> int | None:
        """Process id of ``osrm-routed`` (for CPU or memory readings)."""
        return self._proc.pid if self._proc is not None else None


# ----------------------------------------------------------------------------- client


def decode_polyline(encoded: str, precision: int = POLYLINE_PRECISION) -> list[LatLon]:
    """Decode a Google encoded polyline into ``(lat, lon)`` pairs."""
    coords: list[LatLon] = []
    index = lat = lon = 0
    factor = 10.0**precision
    while index < len(encoded):
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                byte = ord(encoded[index]) - 63
                index += 1
                result |= (byte & 0x1F) << shift
                shift += 5
                if byte < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        coords.append((lat / factor, lon / factor))
    return coords


def _coords(points: Sequence[LatLon]) -> str:
    """OSRM's ``lon,lat;lon,lat`` path segment from ``(lat, lon)`` points."""
    return ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise OsrmError(
            f"OSRM answered {response.status_code} with no JSON: {response.text[:200]}"
        ) from exc
    if body.get("code") != "Ok":
        raise OsrmNoRouteError(str(body.get("code")), str(body.get("message", "")))
    return body


def route(
    server: OsrmServer,
    origin: LatLon,
    destination: LatLon,
    *,
    profile: str = "driving",
    geometry: bool = True,
) -> dict[str, Any]:
    """OSRM's fastest route between two ``(lat, lon)`` points.

    Returns
    -------
    dict
        ``duration_s``, ``distance_m``, ``weight``, ``nodes`` (OSM node ids along the
        route, from ``annotations=nodes``: they start and end with the end nodes of the
        segments the points snap to, which may lie beyond the points), ``geometry``
        (``(lat, lon)`` pairs, polyline precision 6 decoded; empty when ``geometry`` is
        False) and ``snap_m`` (distances from each point to where it snapped).

    Raises
    ------
    OsrmNoRouteError
        When OSRM finds no route (or no road near a point).
    """
    params = {
        "overview": "full" if geometry else "false",
        "geometries": "polyline6",
        "annotations": "nodes",
        "steps": "false",
    }
    url = f"/route/v1/{profile}/{_coords([origin, destination])}"
    try:
        response = server.client.get(url, params=params)
    except httpx.TransportError:
        # osrm-routed closes a keep-alive connection after a number of requests;
        # the pooled connection is then stale: ask once more on a fresh one.
        response = server.client.get(url, params=params)
    body = _answer(response)
    best = body["routes"][0]
    nodes: list[int] = []
    for leg in best["legs"]:
        leg_nodes = leg.get("annotation", {}).get("nodes", [])
        if nodes and leg_nodes and nodes[-1] == leg_nodes[0]:
            leg_nodes = leg_nodes[1:]
        nodes.extend(int(n) for n in leg_nodes)
    return {
        "duration_s": float(best["duration"]),
        "distance_m": float(best["distance"]),
        "weight": float(best["weight"]),
        "nodes": nodes,
        "geometry": decode_polyline(best["geometry"]) if geometry else [],
        "snap_m": [float(w.get("distance", 0.0)) for w in body.get("waypoints", [])],
    }


def table(
    server: OsrmServer,
    sources: Sequence[LatLon],
    targets: Sequence[LatLon],
    *,
    profile: str = "driving",
    distances: bool = True,
) -> dict[str, Any]:
    """OSRM's duration (and distance) table from every source to every target.

    One ``GET /table`` with all coordinates in the URL (sources first, then targets):
    ``osrm-routed`` sizes its header limit from ``--max-table-size``, so 1,000 x 1,000
    (about 45 kB of URL) fits with the default ``max_table_size`` of 2,000.

    Returns
    -------
    dict
        ``durations_s`` and (when ``distances``) ``distances_m``: float arrays of shape
        ``(len(sources), len(targets))``, NaN where OSRM has no route; ``seconds``: wall
        time of the request and JSON decoding; ``request_s``: until the last byte of the
        answer arrived (what OSRM took, plus the local HTTP round trip).
    """
    if len(sources) + len(targets) > server.max_table_size:
        raise OsrmError(
            f"{len(sources)} + {len(targets)} coordinates exceed the server's "
            f"--max-table-size {server.max_table_size}: start OsrmServer(max_table_size=...)"
        )
    n_s = len(sources)
    params = {
        "sources": ";".join(str(i) for i in range(n_s)),
        "destinations": ";".join(str(n_s + j) for j in range(len(targets))),
        "annotations": "duration,distance" if distances else "duration",
    }
    started = time.perf_counter()
    response = server.client.get(
        f"/table/v1/{profile}/{_coords([*sources, *targets])}", params=params
    )
    request_s = time.perf_counter() - started
    body = _answer(response)
    out: dict[str, Any] = {"request_s": request_s, "seconds": time.perf_counter() - started}
    out["durations_s"] = np.array(
        [[np.nan if v is None else v for v in row] for row in body["durations"]], dtype=float
    )
    if distances:
        out["distances_m"] = np.array(
            [[np.nan if v is None else v for v in row] for row in body["distances"]], dtype=float
        )
    return out


# ----------------------------------------------------------------------------- try it


def _demo(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build, serve and query OSRM on a PBF.")
    parser.add_argument(
        "pbf",
        nargs="?",
        default=str(ROOT.parent / "shared" / "data" / "heidelberg" / "heidelberg.osm.pbf"),
    )
    parser.add_argument("--table", type=int, default=1000, help="table side")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        osrm = ensure_osrm()
        dataset = build_osrm(args.pbf, "car", binaries=osrm)
    except OsrmUnavailable as exc:
        print(f"OSRM unavailable: {exc}")
        return
    print(json.dumps(dataset.stats, indent=2))
    rng = np.random.default_rng(args.seed)
    lo_lat, hi_lat, lo_lon, hi_lon = 49.37, 49.44, 8.64, 8.74
    with OsrmServer(dataset, binaries=osrm) as server:
        for _ in range(5):
            o = (rng.uniform(lo_lat, hi_lat), rng.uniform(lo_lon, hi_lon))
            d = (rng.uniform(lo_lat, hi_lat), rng.uniform(lo_lon, hi_lon))
            with contextlib.suppress(OsrmNoRouteError):
                r = route(server, o, d)
                print(
                    f"route {o[0]:.5f},{o[1]:.5f} -> {d[0]:.5f},{d[1]:.5f}: "
                    f"{r['duration_s']:.1f} s, {r['distance_m']:.0f} m, {len(r['nodes'])} nodes"
                )
        side = args.table
        pts = [(rng.uniform(lo_lat, hi_lat), rng.uniform(lo_lon, hi_lon)) for _ in range(2 * side)]
        for _ in range(2):
            t = table(server, pts[:side], pts[side:], distances=False)
            print(
                f"table {side}x{side} (durations): {t['request_s']:.2f} s request, "
                f"{t['seconds']:.2f} s with JSON decoding, "
                f"{int(np.isnan(t['durations_s']).sum())} unreachable cells"
            )


if __name__ == "__main__":
    _demo()
