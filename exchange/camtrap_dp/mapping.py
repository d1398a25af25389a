"""How registry records and Camtrap DP 1.0 fields correspond, in both directions."""

import json
import math
import mimetypes
from datetime import datetime
from typing import Any

from leopards.models import AgeClass
from traps.models import Event

LEOPARD_NAME = "Panthera pardus orientalis"
# Names another system may use for the same animal; anything else is another species.
LEOPARD_NAMES = {"panthera pardus orientalis", "panthera pardus"}
TAXON = {
    "scientificName": LEOPARD_NAME,
    "taxonRank": "subspecies",
    "kingdom": "Animalia",
    "phylum": "Chordata",
    "class": "Mammalia",
    "order": "Carnivora",
    "family": "Felidae",
    "genus": "Panthera",
    "vernacularNames": {"eng": "Amur leopard", "rus": "дальневосточный леопард", "zho": "远东豹"},
}

LIFE_STAGE = {
    AgeClass.KITTEN: "juvenile",
    AgeClass.SUBADULT: "subadult",
    AgeClass.ADULT: "adult",
}
AGE_CLASS = {value: key for key, value in LIFE_STAGE.items()}

EVENT_TYPE = {
    Event.Content.UNKNOWN: "unclassified",
    Event.Content.BLANK: "blank",
    Event.Content.LEOPARD: "animal",
    Event.Content.OTHER_SPECIES: "animal",
    Event.Content.HUMAN: "human",
    Event.Content.VEHICLE: "vehicle",
}
# When several observations of one event disagree, the event shows the most telling.
CONTENT_RANK = [
    Event.Content.UNKNOWN,
    Event.Content.BLANK,
    Event.Content.VEHICLE,
    Event.Content.HUMAN,
    Event.Content.OTHER_SPECIES,
    Event.Content.LEOPARD,
]
TAG_SEPARATOR = " | "
CORE_TABLES = ("deployments", "media", "observations")


def is_leopard(scientific_name: str | None) -> bool:
    """Say whether a name is the leopard's: the species or any of its subspecies."""
    name = " ".join((scientific_name or "").lower().split())
    return name == "panthera pardus" or name.startswith("panthera pardus ")


def content_of(observation_type: str, scientific_name: str | None) -> str:
    """Return the event content an observation stands for."""
    if observation_type == "animal":
        return Event.Content.LEOPARD if is_leopard(scientific_name) else Event.Content.OTHER_SPECIES
    return {
        "blank": Event.Content.BLANK,
        "human": Event.Content.HUMAN,
        "vehicle": Event.Content.VEHICLE,
    }.get(observation_type, Event.Content.UNKNOWN)


def stronger(a: str, b: str) -> str:
    return a if CONTENT_RANK.index(a) >= CONTENT_RANK.index(b) else b


def tags_format(tags: dict[str, str]) -> str:
    return TAG_SEPARATOR.join(f"{key}:{value}" for key, value in tags.items() if value)


def tags_parse(text: str | None) -> dict[str, str]:
    """Read 'key:value | key:value'; a tag without a colon keeps an empty value."""
    tags: dict[str, str] = {}
    for part in (text or "").split("|"):
        key, _, value = part.strip().partition(":")
        if key:
            tags[key.strip()] = value.strip()
    return tags


def timestamp(value: datetime, tz: Any) -> str:
    """Write an ISO 8601 time with its offset, in the park's time zone."""
    return value.astimezone(tz).isoformat(timespec="seconds")


def number(value: float | None) -> str:
    if value is None:
        return ""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def boolean(value: bool) -> str:
    return "true" if value else "false"


def optional_boolean(value: bool | None) -> str:
    return "" if value is None else boolean(value)


def exact_number(value: float | int | None) -> str:
    """Write a stored number with every digit it has (the shortest text that reads back)."""
    if value is None:
        return ""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    text = repr(float(value))
    if "e" in text:
        text = f"{value:.15f}".rstrip("0").rstrip(".")
    return text


def exif_json(exif: dict) -> str:
    return json.dumps(exif, ensure_ascii=False, sort_keys=True) if exif else ""


def media_type_of(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return (
        guessed
        if guessed and guessed.split("/")[0] in {"image", "video", "audio"}
        else "image/jpeg"
    )


def cell_uncertainty_m(latitude: float, cell_degrees: float) -> int:
    """Return the radius in metres around a grid-cell centre that covers the whole cell.

    The cell is widest at its edge nearer the equator, so that edge sets the radius.
    """
    half = cell_degrees / 2
    north = half * 111_320
    east = half * 111_320 * math.cos(math.radians(max(abs(latitude) - half, 0.0)))
    return math.ceil(math.hypot(north, east))
