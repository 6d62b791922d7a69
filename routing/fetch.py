"""Bring a region's data sources into the local data directory.

Each source is copied from a mirror directory (same layout as the data
directory; ``ELSTER_MIRROR``) when the mirror has it, else downloaded from its
public URL. Downloads stream to ``NAME.part`` and resume from there after an
interruption (HTTP Range); every file is checked against its sha256 where the
region fixes one and only then renamed into place, so the data directory never
holds a half-written or wrong file.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx
from tqdm import tqdm

from routing.cache import file_digest
from routing.errors import FetchError
from routing.regions import Region, Source, default_data_dir

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


@dataclass(frozen=True)
class FetchResult:
    """What happened to one source: ``"present"``, ``"copied"`` or ``"downloaded"``."""

    key: str
    path: Path
    action: str


def mirror_from_env() -> Path | None:
    """The mirror directory named by ``ELSTER_MIRROR``, if set and non-empty."""
    value = os.environ.get("ELSTER_MIRROR", "").strip()
    return Path(value) if value else None


def fetch_region(
    region: Region,
    *,
    data_dir: Path | None = None,
    mirror: Path | None = None,
    only: list[str] | None = None,
    force: bool = False,
    progress: bool = True,
    timeout_s: float = 60.0,
) -> list[FetchResult]:
    """Fetch every source of ``region`` (or those in ``only``) into ``data_dir``.

    Parameters
    ----------
    region : Region
        The region whose sources to fetch.
    data_dir : Path, optional
        Destination root; default :func:`routing.regions.default_data_dir`.
    mirror : Path, optional
        A directory with the same layout to copy from before trying the network;
        default ``ELSTER_MIRROR``.
    only : list of str, optional
        Source keys to fetch; default all.
    force : bool
        Fetch again even when a verified copy is present.
    progress : bool
        Show a progress bar for downloads.
    timeout_s : float
        Network timeout per read.

    Returns
    -------
    list of FetchResult
        One entry per source fetched.

    Raises
    ------
    FetchError
        When any source could not be obtained; the message lists every failed
        source with its reason. Sources that did succeed stay in place.
    """
    data_dir = data_dir or default_data_dir()
    mirror = mirror if mirror is not None else mirror_from_env()
    keys = only or list(region.sources)
    results: list[FetchResult] = []
    failures: list[str] = []
    for key in keys:
        source = region.source(key)
        try:
            results.append(
                fetch_source(
                    source,
                    data_dir=data_dir,
                    mirror=mirror,
                    force=force,
                    progress=progress,
                    timeout_s=timeout_s,
                )
            )
        except FetchError as exc:
            failures.append(f"  - {key}: {exc}")
    if failures:
        raise FetchError(
            f"could not fetch {len(failures)} of {len(keys)} sources of region "
            f"{region.name!r}:\n" + "\n".join(failures)
        )
    return results


def fetch_source(
    source: Source,
    *,
    data_dir: Path,
    mirror: Path | None = None,
    force: bool = False,
    progress: bool = False,
    timeout_s: float = 60.0,
) -> FetchResult:
    """Fetch one source (see :func:`fetch_region`)."""
    dest = data_dir / source.path
    if not force and dest.exists() and _verified(dest, source):
        return FetchResult(source.key, dest, "present")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if mirror is not None and (mirror / source.path).exists():
        _copy_from_mirror(mirror / source.path, dest, source)
        log.info("copied %s from mirror %s", source.path, mirror)
        return FetchResult(source.key, dest, "copied")
    if not source.url:
        raise FetchError(
            f"{source.path} is not in the mirror ({mirror or 'none set'}) and the source has "
            "no 'url'; set ELSTER_MIRROR to a directory holding it or add a url"
        )
    _download(source.url, dest, source, progress=progress, timeout_s=timeout_s)
    log.info("downloaded %s from %s", source.path, source.url)
    return FetchResult(source.key, dest, "downloaded")


def _verified(path: Path, source: Source) -> bool:
    if path.is_dir():
        return any(path.iterdir())
    return source.sha256 is None or file_digest(path) == source.sha256


def _check_digest(path: Path, source: Source, origin: str) -> None:
    if source.sha256 is None:
        return
    actual = file_digest(path)
    if actual != source.sha256:
        path.unlink(missing_ok=True)
        raise FetchError(
            f"{origin} has sha256 {actual}, but the region expects {source.sha256}; "
            "the published file changed or the transfer was corrupted: fetch again, or "
            "update 'sha256' in the region file if the new file is intended"
        )


def _copy_from_mirror(src: Path, dest: Path, source: Source) -> None:
    tmp = dest.with_name(dest.name + ".part")
    try:
        if src.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp)
            shutil.rmtree(dest, ignore_errors=True)
        else:
            shutil.copyfile(src, tmp)
            _check_digest(tmp, source, f"mirror file {src}")
        os.replace(tmp, dest)
    except OSError as exc:
        raise FetchError(f"copying {src} to {dest} failed: {exc}") from None


def _download(url: str, dest: Path, source: Source, *, progress: bool, timeout_s: float) -> None:
    """Stream ``url`` to ``dest.part`` (resuming it), verify, then rename to ``dest``."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with httpx.stream(
            "GET", url, headers=headers, follow_redirects=True, timeout=timeout_s
        ) as response:
            if response.status_code == 416:  # the part file is already complete
                pass
            elif response.status_code == 206:
                _write_stream(response, part, append=True, start=have, progress=progress)
            elif response.status_code == 200:
                _write_stream(response, part, append=False, start=0, progress=progress)
            else:
                raise FetchError(
                    f"GET {url} answered HTTP {response.status_code}; check the url in the "
                    "region file or use a mirror (ELSTER_MIRROR)"
                )
    except httpx.HTTPError as exc:
        kept = (
            f"the partial file {part} is kept and the next `elster fetch` resumes it; "
            if part.is_file() and part.stat().st_size
            else ""
        )
        raise FetchError(
            f"downloading {url} failed ({exc.__class__.__name__}: {exc}); {kept}"
            "without internet, point ELSTER_MIRROR at a directory holding the file"
        ) from None
    _check_digest(part, source, f"download of {url}")
    os.replace(part, dest)


def _write_stream(
    response: httpx.Response, part: Path, *, append: bool, start: int, progress: bool
) -> None:
    total = response.headers.get("Content-Length")
    size = int(total) + start if total and total.isdigit() else None
    with (
        open(part, "ab" if append else "wb") as handle,
        tqdm(
            total=size,
            initial=start,
            unit="B",
            unit_scale=True,
            desc=part.name.removesuffix(".part"),
            disable=not progress,
        ) as bar,
    ):
        for chunk in response.iter_bytes(_CHUNK):
            handle.write(chunk)
            bar.update(len(chunk))
