"""Capture histories for spatial capture-recapture, read from secr's text format.

`capt.txt` holds one detection per line, `Session ID Occasion Detector` (further
fields, such as a sex covariate, are ignored); `traps.txt` holds `Detector x y [usage]`,
usage as one digit per occasion (secr's binary usage) or as one number per occasion.
`#` starts a comment. Coordinates are metres. Only one session is fitted at a time.
"""

import re
from dataclasses import dataclass

import numpy as np

DETECTORS = ("proximity", "multi", "count")
_USAGE_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class CaptureHistory:
    """Detections of identified animals at detectors over occasions of one session."""

    detector: str
    trap_ids: tuple[str, ...]
    traps: np.ndarray  # K x 2, metres
    usage: np.ndarray  # K x S effort (1 = set for the whole occasion, 0 = not set)
    animal_ids: tuple[str, ...]
    # One row per detection: animal index, occasion index, trap index (0-based); a
    # count detector repeats a row once per detection.
    detections: np.ndarray  # J x 3 int

    @property
    def n_animals(self) -> int:
        return len(self.animal_ids)

    @property
    def n_occasions(self) -> int:
        return int(self.usage.shape[1])

    @property
    def n_traps(self) -> int:
        return len(self.trap_ids)

    @property
    def n_detections(self) -> int:
        return len(self.detections)

    def counts(self) -> np.ndarray:
        """Return detections per animal, occasion and trap (n x S x K)."""
        array = np.zeros((self.n_animals, self.n_occasions, self.n_traps), dtype=np.int64)
        np.add.at(array, tuple(self.detections.T), 1)
        return array


def _lines(text: str) -> list[tuple[int, list[str]]]:
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if content:
            rows.append((number, content.split()))
    return rows


def _number(token: str, what: str, number: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"line {number}: {what} {token!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"line {number}: {what} {token!r} is not a finite number")
    return value


def parse_traps(text: str) -> tuple[list[str], np.ndarray, list[list[float]] | None]:
    """Parse a trap file into detector ids, coordinates and usage (None when absent)."""
    ids: list[str] = []
    xy: list[tuple[float, float]] = []
    usage: list[list[float]] = []
    for number, tokens in _lines(text):
        # secr allows covariates after a slash; they do not enter this model.
        if "/" in tokens:
            tokens = tokens[: tokens.index("/")]
        if len(tokens) < 3:
            raise ValueError(f"line {number}: expected `Detector x y [usage]`")
        if tokens[0] in ids:
            raise ValueError(f"line {number}: detector {tokens[0]!r} is listed twice")
        ids.append(tokens[0])
        xy.append((_number(tokens[1], "x", number), _number(tokens[2], "y", number)))
        rest = tokens[3:]
        if len(rest) == 1 and _USAGE_DIGITS.fullmatch(rest[0]):
            usage.append([float(digit) for digit in rest[0]])
        elif rest:
            values = [_number(token, "usage", number) for token in rest]
            if min(values) < 0:
                raise ValueError(f"line {number}: usage cannot be negative")
            usage.append(values)
        elif usage:
            raise ValueError(f"line {number}: detector {tokens[0]!r} has no usage")
    if not ids:
        raise ValueError("the trap file lists no detectors")
    if usage:
        if len(usage) != len(ids):
            raise ValueError("every detector needs usage, or none")
        if len({len(row) for row in usage}) > 1:
            raise ValueError("every detector needs a usage value for every occasion")
        return ids, np.array(xy), usage
    return ids, np.array(xy), None


def parse_captures(text: str) -> list[tuple[str, str, int, str]]:
    """Parse a capture file into (session, animal, occasion, detector) rows."""
    rows = []
    for number, tokens in _lines(text):
        if len(tokens) < 4:
            raise ValueError(f"line {number}: expected `Session ID Occasion Detector`")
        session, animal, occasion, detector = tokens[:4]
        try:
            value = int(occasion)
        except ValueError:
            raise ValueError(
                f"line {number}: occasion {occasion!r} is not a whole number"
            ) from None
        if value < 1:
            # secr codes a removed animal with a negative occasion; not modelled here.
            raise ValueError(f"line {number}: occasion {occasion!r} must be 1 or more")
        rows.append((session, animal, value, detector))
    return rows


def capture_history(
    *,
    captures: list[tuple[str, str, int, str]],
    trap_ids: list[str],
    traps: np.ndarray,
    usage: list[list[float]] | np.ndarray | None,
    detector: str,
    occasions: int | None = None,
) -> CaptureHistory:
    """Assemble a capture history and check it against the detectors."""
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    sessions = sorted({row[0] for row in captures})
    if len(sessions) > 1:
        raise ValueError(f"one session at a time, got {len(sessions)}: {', '.join(sessions)}")
    last = max((row[2] for row in captures), default=0)
    if usage is not None:
        usage_array = np.asarray(usage, dtype=float)
        width = usage_array.shape[1]
        if occasions is not None and occasions != width:
            raise ValueError(f"{occasions} occasions but usage is given for {width}")
    else:
        width = occasions if occasions is not None else last
        usage_array = np.ones((len(trap_ids), width))
    if last > width:
        raise ValueError(f"a detection on occasion {last}, but there are {width} occasions")
    index = {code: k for k, code in enumerate(trap_ids)}
    animals: dict[str, int] = {}
    rows = []
    for _session, animal, occasion, code in captures:
        if code not in index:
            raise ValueError(f"detection at detector {code!r}, which the trap file does not list")
        rows.append((animals.setdefault(animal, len(animals)), occasion - 1, index[code]))
    detections = np.array(rows, dtype=np.int64).reshape(-1, 3)
    if detector == "proximity":
        # A proximity detector records an animal at most once per occasion.
        detections = np.unique(detections, axis=0)
    if detector == "multi":
        pairs = np.unique(detections[:, :2], axis=0)
        if len(pairs) < len(np.unique(detections, axis=0)) or len(pairs) < len(detections):
            raise ValueError(
                "a multi-catch trap holds an animal once per occasion: some animal is caught "
                "twice on one occasion; use the proximity or count detector"
            )
    return CaptureHistory(
        detector=detector,
        trap_ids=tuple(trap_ids),
        traps=np.asarray(traps, dtype=float).reshape(-1, 2),
        usage=usage_array,
        animal_ids=tuple(animals),
        detections=detections,
    )


def read_capthist(
    captures_text: str, traps_text: str, *, detector: str, occasions: int | None = None
) -> CaptureHistory:
    """Read secr's capture and trap text files into a capture history."""
    trap_ids, traps, usage = parse_traps(traps_text)
    return capture_history(
        captures=parse_captures(captures_text),
        trap_ids=trap_ids,
        traps=traps,
        usage=usage,
        detector=detector,
        occasions=occasions,
    )
