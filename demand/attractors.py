"""Trip attractors from an OSM extract: shops, schools, workplaces, health, leisure, stops.

One streaming pass with pyosmium over nodes and ways (ways become the mean of
their node locations). Each feature gets one category from its tags; the
demand model weights categories from the config. A region without an OSM
extract has no attractors: the caller then falls back to population only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium

from demand.config import CATEGORIES
from routing.errors import DataError

log = logging.getLogger(__name__)

_KEYS = (
    "shop",
    "amenity",
    "office",
    "craft",
    "healthcare",
    "leisure",
    "tourism",
    "public_transport",
    "highway",
    "railway",
)

_EDUCATION = {
    "school",
    "university",
    "college",
    "kindergarten",
    "childcare",
    "language_school",
    "music_school",
    "driving_school",
    "library",
}
_HEALTH = {
    "hospital",
    "clinic",
    "doctors",
    "dentist",
    "pharmacy",
    "nursing_home",
    "social_facility",
    "veterinary",
}
_LEISURE_AMENITY = {
    "restaurant",
    "cafe",
    "bar",
    "pub",
    "biergarten",
    "fast_food",
    "ice_cream",
    "cinema",
    "theatre",
    "arts_centre",
    "community_centre",
    "nightclub",
    "place_of_worship",
    "swimming_pool",
    "marketplace",
}
_WORK_AMENITY = {
    "townhall",
    "courthouse",
    "police",
    "fire_station",
    "post_office",
    "bank",
    "research_institute",
    "public_building",
    "car_wash",
    "fuel",
}
_LEISURE_KEYS = {
    "sports_centre",
    "stadium",
    "park",
    "playground",
    "pitch",
    "fitness_centre",
    "swimming_pool",
    "garden",
    "water_park",
    "sports_hall",
    "ice_rink",
    "golf_course",
    "marina",
    "dance",
    "bowling_alley",
    "miniature_golf",
}
_TOURISM = {"museum", "zoo", "attraction", "gallery", "theme_park", "hotel", "viewpoint"}


def classify(tags: Mapping[str, str]) -> str | None:
    """Return the attractor category of an OSM feature's tags, or ``None``.

    Categories: ``shop``, ``education``, ``work``, ``health``, ``leisure``,
    ``transit``. The first matching rule wins, in that order of specificity:
    health and education before shops, transit stops last.
    """
    amenity = tags.get("amenity")
    if amenity in _HEALTH or "healthcare" in tags:
        return "health"
    if amenity in _EDUCATION:
        return "education"
    if "shop" in tags and tags.get("shop") != "no":
        return "shop"
    if "office" in tags or "craft" in tags or amenity in _WORK_AMENITY:
        return "work"
    if (
        amenity in _LEISURE_AMENITY
        or tags.get("leisure") in _LEISURE_KEYS
        or (tags.get("tourism") in _TOURISM)
    ):
        return "leisure"
    if (
        tags.get("highway") == "bus_stop"
        or tags.get("railway") in ("tram_stop", "station", "halt")
        or tags.get("public_transport") in ("platform", "stop_position", "station")
    ):
        return "transit"
    return None


@dataclass(frozen=True)
class Attractors:
    """Point attractors.

    Attributes
    ----------
    lat, lon : ndarray of float64
        Location (way features: mean of their nodes).
    category : ndarray of int8
        Index into :data:`demand.config.CATEGORIES`.
    source : str
        The file read, or ``"none"``.
    """

    lat: np.ndarray
    lon: np.ndarray
    category: np.ndarray
    source: str

    @property
    def size(self) -> int:
        """Number of attractors."""
        return int(self.lat.shape[0])

    def counts(self) -> dict[str, int]:
        """Number of attractors per category name."""
        found = np.bincount(self.category, minlength=len(CATEGORIES))
        return {name: int(found[i]) for i, name in enumerate(CATEGORIES)}

    @staticmethod
    def empty(source: str = "none") -> Attractors:
        """No attractors (a region without an OSM extract)."""
        return Attractors(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int8), source)


def read_attractors(
    path: Path | str, *, bbox: tuple[float, float, float, float] | None = None
) -> Attractors:
    """Read attractors from an OSM PBF/XML file.

    Parameters
    ----------
    path : Path or str
        OSM extract (``.osm.pbf`` or ``.osm``).
    bbox : tuple, optional
        ``(min_lon, min_lat, max_lon, max_lat)``: keep only features inside.

    Raises
    ------
    DataError
        The file is missing or cannot be read as OSM data.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"OSM extract {path} does not exist; run `elster fetch REGION` first")
    index = {name: i for i, name in enumerate(CATEGORIES)}
    lats: list[float] = []
    lons: list[float] = []
    cats: list[int] = []
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter(*_KEYS))
    )
    try:
        for obj in processor:
            category = classify(dict(obj.tags)) if obj.tags else None
            if category is None:
                continue
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    continue
                lat, lon = obj.location.lat, obj.location.lon
            elif isinstance(obj, osmium.osm.Way):
                points = [(n.lat, n.lon) for n in obj.nodes if n.location.valid()]
                if not points:
                    continue
                lat = sum(p[0] for p in points) / len(points)
                lon = sum(p[1] for p in points) / len(points)
            else:
                continue
            lats.append(lat)
            lons.append(lon)
            cats.append(index[category])
    except RuntimeError as exc:
        raise DataError(f"{path}: cannot read as OSM data ({exc}); re-fetch the file") from None
    att = Attractors(
        np.asarray(lats, dtype=float),
        np.asarray(lons, dtype=float),
        np.asarray(cats, dtype=np.int8),
        str(path),
    )
    if bbox is not None:
        keep = (
            (att.lon >= bbox[0])
            & (att.lon <= bbox[2])
            & (att.lat >= bbox[1])
            & (att.lat <= bbox[3])
        )
        att = Attractors(att.lat[keep], att.lon[keep], att.category[keep], att.source)
    log.info(
        "attractors from %s: %d (%s)",
        path.name,
        att.size,
        ", ".join(f"{k} {v}" for k, v in att.counts().items()),
    )
    return att
