"""OCPI 2.2.1 Locations: Location > EVSE > Connector, with live EVSE status.

Accepted documents: the Locations module response (``{"data": [...],
"status_code": 1000, ...}``), a bare list of Locations, or one Location.
Locations with ``publish: false`` are left out (OCPI: not to be shown
publicly). A Location, EVSE or Connector missing a required field is skipped
with a warning naming its index and the field; EVSEs with status ``REMOVED``
are dropped.

Connector power is ``max_electric_power`` (W) when given, else computed from
voltage and current: ``V * A`` for DC and single phase, ``3 * V * A`` for
three phase (OCPI gives line-to-neutral voltage for ``AC_3_PHASE``).

Live updates follow the OCPI receiver interface: :func:`parse_evse_patch`
reads the body of ``PATCH /locations/{country_code}/{party_id}/{location_id}/{evse_uid}``
(``status``, ``last_updated``); the store applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from routing.errors import DataError
from routing.stations._io import load_json
from routing.stations.model import (
    CONNECTOR_FORMATS,
    CONNECTOR_STANDARDS,
    POWER_TYPES,
    Charger,
    Connector,
    Evse,
    EvseStatus,
    WarningLog,
    parse_timestamp,
    valid_position,
)

logger = logging.getLogger(__name__)


@dataclass
class OcpiChargers:
    """Charging locations read from an OCPI document."""

    location: str
    chargers: list[Charger]
    skipped_unpublished: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EvsePatch:
    """A parsed EVSE PATCH body: the fields this engine tracks."""

    status: EvseStatus | None
    last_updated: datetime | None


def charger_uid(country_code: str, party_id: str, location_id: str) -> str:
    """Namespaced id of an OCPI location (unique per country code and party)."""
    return f"ocpi:{country_code}*{party_id}:{location_id}"


def load_ocpi(
    location: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
) -> OcpiChargers:
    """Read OCPI 2.2.1 Locations from a file or URL.

    Parameters
    ----------
    location : str or Path
        JSON file or http(s) URL of a Locations response.
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Keep only locations inside this box.

    Raises
    ------
    DataError
        Not JSON, or not a Locations document (no ``data`` list / Location object).
    """
    doc = load_json(location, "OCPI Locations")
    return parse_locations(doc, str(location), bbox=bbox)


def parse_locations(
    doc: Any,
    where: str = "OCPI Locations",
    *,
    bbox: tuple[float, float, float, float] | None = None,
) -> OcpiChargers:
    """Map an OCPI Locations document (already parsed JSON) to chargers.

    See :func:`load_ocpi`.
    """
    warn = WarningLog(logger)
    if isinstance(doc, dict) and "data" in doc:
        status_code = doc.get("status_code")
        if isinstance(status_code, int) and not 1000 <= status_code < 2000:
            raise DataError(
                f"{where}: OCPI status_code {status_code} ({doc.get('status_message', '')}): "
                "the platform reported an error instead of locations; fetch again later"
            )
        rows = doc["data"]
        rows = [rows] if isinstance(rows, dict) else rows
    elif isinstance(doc, list):
        rows = doc
    elif isinstance(doc, dict) and "evses" in doc and "id" in doc:
        rows = [doc]
    else:
        raise DataError(
            f"{where}: not an OCPI Locations document (expected a response object with a "
            "'data' list, a list of Locations, or one Location with 'id' and 'evses')"
        )
    if not isinstance(rows, list):
        raise DataError(f"{where}: field 'data' must be a list of Locations")
    chargers: list[Charger] = []
    seen: set[str] = set()
    unpublished = 0
    for i, row in enumerate(rows):
        label = f"{where}: data[{i}]"
        if not isinstance(row, dict):
            warn(f"{label} is not an object; skipped")
            continue
        if row.get("publish") is False:
            unpublished += 1
            continue
        charger = _location(row, label, warn)
        if charger is None:
            continue
        if bbox is not None and not (
            bbox[0] <= charger.lon <= bbox[2] and bbox[1] <= charger.lat <= bbox[3]
        ):
            continue
        if charger.id in seen:
            warn(f"{label}: location {charger.id!r} appears more than once; kept the first")
            continue
        seen.add(charger.id)
        chargers.append(charger)
    warn.summary(where)
    logger.info(
        "OCPI %s: %d locations, %d EVSEs (%d unpublished skipped), %d warnings",
        Path(where).name, len(chargers), sum(len(c.evses) for c in chargers), unpublished,
        len(warn),
    )  # fmt: skip
    return OcpiChargers(where, chargers, unpublished, warn.messages)


def parse_evse_patch(body: Any, where: str = "EVSE PATCH") -> EvsePatch:
    """Read an OCPI EVSE PATCH body (``{"status": ..., "last_updated": ...}``).

    Raises
    ------
    DataError
        The body is not an object, or ``status`` is not an OCPI EVSE status.
    """
    if not isinstance(body, dict):
        raise DataError(f"{where}: body must be a JSON object with 'status' and 'last_updated'")
    status = None
    if "status" in body:
        status = _status(body["status"])
        if status is None:
            raise DataError(
                f"{where}: status {body['status']!r} is not one of "
                f"{', '.join(s.value for s in EvseStatus)}"
            )
    return EvsePatch(status=status, last_updated=parse_timestamp(body.get("last_updated")))


# --------------------------------------------------------------------------- internals


def _status(value: Any) -> EvseStatus | None:
    if isinstance(value, str):
        try:
            return EvseStatus(value.strip().upper())
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _location(row: dict[str, Any], label: str, warn: Callable[[str], None]) -> Charger | None:
    missing = [k for k in ("country_code", "party_id", "id") if _text(row.get(k)) is None]
    if missing:
        warn(f"{label}: missing required field {', '.join(missing)}; location skipped")
        return None
    cc, party, lid = (str(_text(row[k])) for k in ("country_code", "party_id", "id"))
    label = f"{label} (location {lid!r})"
    coords = row.get("coordinates")
    pos = (
        valid_position(coords.get("latitude"), coords.get("longitude"))
        if isinstance(coords, dict)
        else None
    )
    if pos is None:
        warn(f"{label}: missing or invalid coordinates {coords!r}; location skipped")
        return None
    evses = []
    raw_evses = row.get("evses")
    for j, raw in enumerate(raw_evses if isinstance(raw_evses, list) else []):
        evse = _evse(raw, f"{label} evses[{j}]", warn)
        if evse is not None and evse.status is not EvseStatus.REMOVED:
            evses.append(evse)
    if not evses:
        warn(f"{label}: no usable EVSE; location skipped")
        return None
    operator = row.get("operator")
    operator_name = _text(operator.get("name")) if isinstance(operator, dict) else None
    address = _text(row.get("address")) or ""
    return Charger(
        id=charger_uid(cc, party, lid),
        name=_text(row.get("name")) or address or lid,
        address=address,
        postal_code=_text(row.get("postal_code")) or "",
        city=_text(row.get("city")) or "",
        operator=operator_name,
        lat=pos[0],
        lon=pos[1],
        evses=tuple(evses),
        source=f"ocpi:{cc}*{party}",
        fast=any(c.is_dc for e in evses for c in e.connectors),
        realtime=True,
        last_updated=parse_timestamp(row.get("last_updated")),
    )


def _evse(raw: Any, label: str, warn: Callable[[str], None]) -> Evse | None:
    if not isinstance(raw, dict):
        warn(f"{label} is not an object; skipped")
        return None
    uid = _text(raw.get("uid"))
    if uid is None:
        warn(f"{label}: missing required field uid; EVSE skipped")
        return None
    label = f"{label} (EVSE {uid!r})"
    status = _status(raw.get("status"))
    if status is None:
        warn(f"{label}: invalid status {raw.get('status')!r}; set to UNKNOWN")
        status = EvseStatus.UNKNOWN
    connectors = []
    raw_connectors = raw.get("connectors")
    for k, rc in enumerate(raw_connectors if isinstance(raw_connectors, list) else []):
        connector = _connector(rc, f"{label} connectors[{k}]", warn)
        if connector is not None:
            connectors.append(connector)
    if not connectors:
        warn(f"{label}: no valid connector; EVSE skipped")
        return None
    return Evse(
        uid=uid,
        status=status,
        connectors=tuple(connectors),
        evse_id=_text(raw.get("evse_id")),
        last_updated=parse_timestamp(raw.get("last_updated")),
    )


def _connector(raw: Any, label: str, warn: Callable[[str], None]) -> Connector | None:
    if not isinstance(raw, dict):
        warn(f"{label} is not an object; skipped")
        return None
    cid, standard = _text(raw.get("id")), _text(raw.get("standard"))
    if cid is None or standard is None:
        field_name = "id" if cid is None else "standard"
        warn(f"{label}: missing required field {field_name}; connector skipped")
        return None
    if standard not in CONNECTOR_STANDARDS:
        warn(f"{label}: standard {standard!r} is not an OCPI 2.2.1 ConnectorType; kept as is")
    fmt = _text(raw.get("format"))
    if fmt is not None and fmt not in CONNECTOR_FORMATS:
        warn(f"{label}: format {fmt!r} is not SOCKET or CABLE; unknown")
        fmt = None
    power_type = _text(raw.get("power_type"))
    if power_type is not None and power_type not in POWER_TYPES:
        warn(f"{label}: power_type {power_type!r} is not an OCPI PowerType; unknown")
        power_type = None
    volts, amps = _positive(raw.get("max_voltage")), _positive(raw.get("max_amperage"))
    watts = _positive(raw.get("max_electric_power"))
    if watts is not None:
        kw: float | None = watts / 1000.0
    elif volts is not None and amps is not None:
        phases = 3 if power_type == "AC_3_PHASE" else 1
        kw = phases * volts * amps / 1000.0
    else:
        kw = None
        warn(f"{label}: no max_electric_power nor max_voltage/max_amperage; power unknown")
    return Connector(
        id=cid,
        standard=standard,
        format=fmt,
        power_type=power_type,
        power_kw=kw,
        max_voltage=volts,
        max_amperage=amps,
    )


def _positive(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value > 0:
        return int(value)
    return None
