"""Charging points from the Bundesnetzagentur Ladesäulenregister (CSV layout).

One register row is one charging device (Ladeeinrichtung) with up to four
charging points (Ladepunkte); charging point *k* is described by
``Steckertypen{k}`` (a comma-separated list of the plugs it offers, only one
usable at a time) and ``P{k} [kW]``. Each row becomes a
:class:`~routing.stations.model.Charger` with one EVSE per filled charging
point; plug names are mapped to OCPI connector standards (``AC Steckdose Typ
2`` -> ``IEC_62196_T2`` socket, ``DC Kupplung Combo`` -> ``IEC_62196_T2_COMBO``
cable, ``DC CHAdeMO`` -> ``CHADEMO``, ``AC Schuko`` -> ``DOMESTIC_F``, ...).
The register has no live status: every EVSE is ``UNKNOWN``.

Both the 2019 layout (``Adresse``, ``Postleitzahl Ort``) and the later one
(``Straße``, ``Hausnummer``, ``Postleitzahl``, ``Ort``, a preamble before the
header, Windows-1252 text, decimal commas) are read. A wrong separator or a
missing column is a :class:`~routing.errors.DataError` naming the column; a
bad row is skipped with a warning naming its line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from routing.errors import DataError
from routing.stations._io import read_bytes
from routing.stations.model import (
    CHADEMO,
    DOMESTIC_F,
    IEC_60309_2_SINGLE_16,
    IEC_60309_2_THREE_16,
    IEC_60309_2_THREE_32,
    IEC_60309_2_THREE_64,
    IEC_62196_T1,
    IEC_62196_T1_COMBO,
    IEC_62196_T2,
    IEC_62196_T2_COMBO,
    Charger,
    Connector,
    Evse,
    EvseStatus,
    WarningLog,
)

logger = logging.getLogger(__name__)

# Register plug name -> (OCPI standard, format, power type). CEE 5-pin is
# resolved by power below (16/32/63 A).
BNETZA_PLUGS: dict[str, tuple[str, str, str]] = {
    "ac steckdose typ 2": (IEC_62196_T2, "SOCKET", "AC_3_PHASE"),
    "ac kupplung typ 2": (IEC_62196_T2, "CABLE", "AC_3_PHASE"),
    "dc kupplung combo": (IEC_62196_T2_COMBO, "CABLE", "DC"),
    "dc kupplung combo 1": (IEC_62196_T1_COMBO, "CABLE", "DC"),
    "dc chademo": (CHADEMO, "CABLE", "DC"),
    "ac schuko": (DOMESTIC_F, "SOCKET", "AC_1_PHASE"),
    "ac steckdose typ 1": (IEC_62196_T1, "SOCKET", "AC_1_PHASE"),
    "steckdose typ 1": (IEC_62196_T1, "SOCKET", "AC_1_PHASE"),
    "ac kupplung typ 1": (IEC_62196_T1, "CABLE", "AC_1_PHASE"),
    "ac cee 3 polig": (IEC_60309_2_SINGLE_16, "SOCKET", "AC_1_PHASE"),
    "ac cee 5 polig": (IEC_60309_2_THREE_32, "SOCKET", "AC_3_PHASE"),
}
# A plug cannot deliver more than its standard allows, whatever the charging
# point's total: a Schuko beside a 22 kW Type 2 socket still gives 3.7 kW.
MAX_POWER_KW = {
    DOMESTIC_F: 3.7,
    IEC_62196_T1: 7.4,
    IEC_60309_2_SINGLE_16: 3.7,
    IEC_60309_2_THREE_16: 11.0,
    IEC_60309_2_THREE_32: 22.0,
    IEC_60309_2_THREE_64: 43.5,
    IEC_62196_T2: 43.0,
}
LAYOUT_HINT = (
    "expected the Bundesnetzagentur Ladesäulenregister CSV: ';'-separated, UTF-8 or "
    "Windows-1252, header row 'Betreiber;Adresse;Postleitzahl Ort;Bundesland;Längengrad "
    "[DG];Breitengrad [DG];Inbetriebnahmedatum;Anschlussleistung [kW];Art der "
    "Ladeeinrichtung;Anzahl Ladepunkte;Steckertypen1;P1 [kW];Public Key1;...'"
)
# Germany with a margin: used to spot swapped coordinates.
_DE_LON, _DE_LAT = (5.0, 16.0), (47.0, 55.5)


@dataclass
class BnetzaChargers:
    """Charging sites read from a register file."""

    path: str
    chargers: list[Charger]
    rows: int
    warnings: list[str] = field(default_factory=list)


def load_bnetza(
    path: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
) -> BnetzaChargers:
    """Read charging sites from a BNetzA Ladesäulenregister CSV.

    Parameters
    ----------
    path : str or Path
        The register CSV (a local file or an http(s) URL).
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Keep only sites inside this box (bounds inclusive). Rows outside are
        not validated, so defects elsewhere in Germany do not flood the log.

    Returns
    -------
    BnetzaChargers

    Raises
    ------
    DataError
        The file is missing, not CSV with ';', or lacks a required column;
        the message names the file, the column and the fix.
    """
    raw = read_bytes(path)
    warn = WarningLog(logger)
    text = _decode(raw, path, warn)
    lines = text.splitlines(keepends=True)
    header_at = _find_header(lines, path)
    reader = csv.reader(io.StringIO("".join(lines[header_at:])), delimiter=";")
    header = next(reader)
    cols = _columns(header, path)
    rows = 0
    chargers: list[Charger] = []
    id_counts: dict[str, int] = {}
    for record in reader:
        line = header_at + reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        rows += 1
        where = f"{path}: line {line}"
        if len(record) < cols.min_len:
            warn(f"{where}: {len(record)} fields, expected {len(header)}; row skipped")
            continue
        lon, lat = _number(record[cols.lon]), _number(record[cols.lat])
        if lon is None or lat is None:
            warn(
                f"{where}: field {header[cols.lon]!r}/{header[cols.lat]!r} = "
                f"{record[cols.lon]!r}/{record[cols.lat]!r} is not a coordinate; row skipped"
            )
            continue
        if _in_germany(lat, lon) is False and _in_germany(lon, lat):
            warn(f"{where}: longitude and latitude are swapped ({lon}, {lat}); corrected")
            lon, lat = lat, lon
        if bbox is not None and not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
            continue
        charger = _charger(record, header, cols, lat, lon, where, warn)
        if charger is None:
            continue
        n = id_counts.get(charger.id, 0) + 1
        id_counts[charger.id] = n
        if n > 1:  # the register repeats identical devices at one site
            charger = replace(charger, id=f"{charger.id}-{n}")
        chargers.append(charger)
    warn.summary(str(path))
    logger.info(
        "BNetzA %s: %d charging sites%s from %d rows, %d warnings",
        Path(str(path)).name, len(chargers), " in the box" if bbox else "", rows, len(warn),
    )  # fmt: skip
    return BnetzaChargers(str(path), chargers, rows, warn.messages)


def map_plug(name: str, power_kw: float | None = None) -> tuple[str, str, str] | None:
    """Map a register plug name to (OCPI standard, format, power type), or None if unknown.

    ``AC CEE 5 polig`` (red CEE) is sized by the charging point's power:
    16 A up to 11 kW, 32 A up to 22 kW, 63 A above.
    """
    key = " ".join(name.lower().split())
    found = BNETZA_PLUGS.get(key)
    if found is None:
        return None
    if found[0] == IEC_60309_2_THREE_32 and power_kw is not None:
        if power_kw <= 11.0:
            return IEC_60309_2_THREE_16, found[1], found[2]
        if power_kw > 22.0:
            return IEC_60309_2_THREE_64, found[1], found[2]
    return found


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Columns:
    operator: int
    lon: int
    lat: int
    n_points: int
    plugs: tuple[int, ...]
    powers: tuple[int, ...]
    address: tuple[int, ...]  # Adresse, or Straße + Hausnummer (+ Adresszusatz)
    postal: int | None
    city: int | None
    postal_city: int | None
    state: int | None
    date: int | None
    kind: int | None
    min_len: int


def _decode(raw: bytes, path: str | Path, warn: WarningLog) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Later register releases are exported as Windows-1252.
        warn(f"{path}: not UTF-8; read as Windows-1252")
        return raw.decode("cp1252", errors="replace")


def _find_header(lines: list[str], path: str | Path) -> int:
    """Index of the header line (later releases put a preamble before it)."""
    for i, line in enumerate(lines[:40]):
        if line.lstrip().lower().startswith("betreiber"):
            if ";" not in line:
                sep = next((s for s in (",", "\t", "|") if s in line), None)
                found = f"it is {sep!r}-separated" if sep else "it has no ';'"
                raise DataError(
                    f"{path}: line {i + 1}: header {line.strip()[:60]!r}... is not ';'-separated "
                    f"({found}); re-export the register with ';' as separator ({LAYOUT_HINT})"
                )
            return i
    first = lines[0].strip()[:80] if lines else ""
    raise DataError(
        f"{path}: no header row starting with 'Betreiber' in the first 40 lines "
        f"(line 1 is {first!r}); {LAYOUT_HINT}"
    )


def _columns(header: list[str], path: str | Path) -> _Columns:
    names = [" ".join(h.strip().lower().split()) for h in header]

    def find(*prefixes: str) -> int | None:
        for prefix in prefixes:
            for i, name in enumerate(names):
                if name.startswith(prefix):
                    return i
        return None

    def need(label: str, *prefixes: str) -> int:
        i = find(*prefixes)
        if i is None:
            raise DataError(
                f"{path}: header has no column {label!r} (found: {'; '.join(header[:12])}...); "
                f"{LAYOUT_HINT}"
            )
        return i

    plugs, powers = [], []
    for k in range(1, 5):
        p, w = find(f"steckertypen{k}"), find(f"p{k} [kw]", f"p{k}")
        if p is None or w is None:
            if k == 1:
                need("Steckertypen1", "steckertypen1")
                need("P1 [kW]", "p1 [kw]")
            break
        plugs.append(p)
        powers.append(w)
    street = find("adresse", "straße", "strasse")
    if street is None:
        need("Adresse", "adresse")
    address = tuple(i for i in (street, find("hausnummer"), find("adresszusatz")) if i is not None)
    cols = _Columns(
        operator=need("Betreiber", "betreiber"),
        lon=need("Längengrad [DG]", "längengrad", "laengengrad"),
        lat=need("Breitengrad [DG]", "breitengrad"),
        n_points=need("Anzahl Ladepunkte", "anzahl ladepunkte"),
        plugs=tuple(plugs),
        powers=tuple(powers),
        address=address,
        postal=find("postleitzahl") if find("postleitzahl ort") is None else None,
        city=find("ort") if find("postleitzahl ort") is None else None,
        postal_city=find("postleitzahl ort"),
        state=find("bundesland"),
        date=find("inbetriebnahme"),
        kind=find("art der ladeeinrich"),
        min_len=0,
    )
    used = [
        cols.operator, cols.lon, cols.lat, cols.n_points, *cols.plugs, *cols.powers,
        *cols.address,
    ]  # fmt: skip
    return replace(cols, min_len=max(used) + 1)


_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")


def _number(text: str) -> float | None:
    """A decimal in either notation (``8.468098`` or ``8,468098``)."""
    text = text.strip()
    if not _NUMBER.match(text):
        return None
    return float(text.replace(",", "."))


def _iso_date(text: str) -> str:
    """``YYYY-MM-DD`` from ``YYYY-MM-DD[ hh:mm:ss]`` (2019) or ``DD.MM.YYYY`` (later); else ''."""
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        return "-".join(m.groups())
    m = re.match(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", text)
    if m:
        return f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
    return ""


def _in_germany(lat: float, lon: float) -> bool:
    return _DE_LAT[0] <= lat <= _DE_LAT[1] and _DE_LON[0] <= lon <= _DE_LON[1]


def _cell(record: list[str], i: int | None) -> str:
    return record[i].strip() if i is not None and i < len(record) else ""


def _charger(
    record: list[str],
    header: list[str],
    cols: _Columns,
    lat: float,
    lon: float,
    where: str,
    warn: WarningLog,
) -> Charger | None:
    operator = _cell(record, cols.operator) or None
    address = " ".join(_cell(record, i) for i in cols.address if _cell(record, i))
    if cols.postal_city is not None:
        postal, _, city = _cell(record, cols.postal_city).partition(" ")
    else:
        postal, city = _cell(record, cols.postal), _cell(record, cols.city)
    evses: list[Evse] = []
    for k, (pi, wi) in enumerate(zip(cols.plugs, cols.powers, strict=True), start=1):
        plug_text, power_text = _cell(record, pi), _cell(record, wi)
        if not plug_text:
            if power_text and _number(power_text):
                warn(f"{where}: {header[wi]!r} = {power_text} without {header[pi]!r}; ignored")
            continue
        power = _number(power_text) if power_text else None
        if power_text and power is None:
            warn(f"{where}: {header[wi]!r} = {power_text!r} is not a number; power unknown")
        connectors = []
        for j, token in enumerate(t.strip() for t in plug_text.split(",")):
            if not token:
                continue
            mapped = map_plug(token, power)
            if mapped is None:
                warn(f"{where}: {header[pi]!r} has unknown plug {token!r}; ignored")
                continue
            standard, fmt, power_type = mapped
            cap = MAX_POWER_KW.get(standard)
            kw = min(power, cap) if power is not None and cap is not None else power
            connectors.append(Connector(str(j + 1), standard, fmt, power_type, kw))
        if connectors:
            evses.append(Evse(str(k), EvseStatus.UNKNOWN, tuple(connectors)))
    declared = _number(_cell(record, cols.n_points))
    if declared is not None and int(declared) != len(evses) and evses:
        warn(
            f"{where}: 'Anzahl Ladepunkte' is {int(declared)} but {len(evses)} charging "
            "points are described; using the described ones"
        )
    if not evses:
        warn(f"{where}: no known plug type in Steckertypen1..4; row skipped")
        return None
    date = _iso_date(_cell(record, cols.date))
    kind = _cell(record, cols.kind).lower()
    digest = hashlib.sha1(
        "|".join([operator or "", address, postal, f"{lon:.6f}", f"{lat:.6f}", date]).encode()
    ).hexdigest()[:12]
    return Charger(
        id=f"bnetza:{digest}",
        name=f"{address}, {city}".strip(", ") or (operator or "charging point"),
        address=address,
        postal_code=postal,
        city=city,
        operator=operator,
        lat=lat,
        lon=lon,
        evses=tuple(evses),
        source="bnetza",
        fast=kind.startswith("schnell") or any(c.is_dc for e in evses for c in e.connectors),
        commissioned=date or None,
        realtime=False,
    )
