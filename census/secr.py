"""Text input for spatial capture-recapture in R (secr's read.capthist, DENSITY format).

Two files, read in R with

    ch <- secr::read.capthist("captures.txt", "traps.txt",
                              detector = "proximity", covnames = "sex")

- capture file: one detection per line, `Session ID Occasion Detector sex`; an
  individual is listed once per occasion and detector where it was photographed (a
  proximity detector records presence per occasion, not counts).
- trap file: `Detector X Y usage`, X and Y in metres (UTM zone 52N, EPSG:32652, which
  covers the Amur leopard's range), then one string of 0/1 per detector, one digit per
  occasion: 1 when the camera worked at least one night of the occasion. secr's
  read.traps reads the fourth field as text (so leading zeros stay) and requires every
  usage string to have the same length.

Identifiers may not hold blanks, commas or underscores (secr reads underscores in
detector ids as separators), so those become hyphens.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from pyproj import Transformer

UTM_52N = "EPSG:32652"
_UNSAFE = re.compile(r"[\s,_#'\"/]+")
_SEX_CODES = {"female": "F", "male": "M"}


@cache
def _transformer() -> Transformer:
    return Transformer.from_crs("EPSG:4326", UTM_52N, always_xy=True)


def project(latitude: float | Decimal, longitude: float | Decimal) -> tuple[float, float]:
    """Return UTM 52N easting and northing in metres for a WGS84 point."""
    x, y = _transformer().transform(float(longitude), float(latitude))
    return x, y


def identifier(value: str) -> str:
    """Return an identifier secr reads as one field."""
    cleaned = _UNSAFE.sub("-", value.strip()).strip("-")
    return cleaned or "NA"


@dataclass(frozen=True)
class Detector:
    code: str
    latitude: float
    longitude: float
    usage: Sequence[int]  # trap-nights (or any effort) per occasion


@dataclass(frozen=True)
class Capture:
    animal: str
    occasion: int  # 1-based
    detector: str
    sex: str


def trap_file(detectors: Sequence[Detector], header: Sequence[str] = ()) -> str:
    """Return the trap layout with binary usage strings."""
    lengths = {len(d.usage) for d in detectors}
    if len(lengths) > 1:
        raise ValueError("every detector needs a usage value for every occasion")
    lines = [f"# {line}" for line in header]
    lines.append("# Detector X Y usage")
    for detector in detectors:
        x, y = project(detector.latitude, detector.longitude)
        usage = "".join("1" if value > 0 else "0" for value in detector.usage)
        lines.append(f"{identifier(detector.code)} {x:.1f} {y:.1f} {usage}")
    return "\n".join(lines) + "\n"


def capture_file(session: str, captures: Sequence[Capture], header: Sequence[str] = ()) -> str:
    """Return the capture records, one detection per line."""
    lines = [f"# {line}" for line in header]
    lines.append("# Session ID Occasion Detector sex")
    session = identifier(session)
    for capture in captures:
        sex = _SEX_CODES.get(capture.sex, "NA")
        lines.append(
            f"{session} {identifier(capture.animal)} {capture.occasion} "
            f"{identifier(capture.detector)} {sex}"
        )
    return "\n".join(lines) + "\n"
