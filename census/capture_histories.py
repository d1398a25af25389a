"""Parse capture histories and capture frequencies from plain text.

Accepted history layout, one animal per line:

    # comment lines and blank lines are ignored
    T01 1 0 0 1 0        optional id, then one 0/1 per occasion
    T02,0,1,1,0,0        commas work as separators too
    0110010000           or the 0/1 digits written together, with or without an id

Ids are optional but all-or-nothing: a file either has an id on every line or on none.
Rows without ids are numbered "1", "2", ... in file order.
"""

import re

import numpy as np

_SEPARATORS = re.compile(r"[\s,;]+")
_BINARY = re.compile(r"[01]+")
_COUNT = re.compile(r"[0-9]+")


def _data_lines(text: str) -> list[tuple[int, list[str]]]:
    """Return (line number, tokens) for each line that holds data."""
    if not isinstance(text, str):
        raise ValueError(f"expected text, got {type(text).__name__}")
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if content:
            lines.append((number, [token for token in _SEPARATORS.split(content) if token]))
    return lines


def _occasions(number: int, tokens: list[str]) -> list[int]:
    if len(tokens) == 1:
        # Digits written together: "0110010000".
        if not _BINARY.fullmatch(tokens[0]):
            raise ValueError(f"line {number}: {tokens[0]!r} is not a capture history of 0s and 1s")
        return [int(digit) for digit in tokens[0]]
    for token in tokens:
        if token not in ("0", "1"):
            raise ValueError(
                f"line {number}: {token!r} is not 0 or 1 (one value per occasion: "
                "1 = photographed, 0 = not)"
            )
    return [int(token) for token in tokens]


def parse_capture_histories(text: str) -> tuple[list[str], np.ndarray]:
    """Parse one 0/1 capture history per line into animal ids and an animals x occasions matrix."""
    lines = _data_lines(text)
    if not lines:
        raise ValueError("no capture histories found: the text has no data lines")
    # A first token that is not a run of 0s and 1s can only be an id; once one line has
    # an id, every line must, or rows and occasions would silently shift.
    id_line = next(
        ((number, tokens[0]) for number, tokens in lines if not _BINARY.fullmatch(tokens[0])),
        None,
    )
    has_ids = id_line is not None
    # A stray value such as "2" in the first column would also switch on ids, so errors
    # that this reading causes point at the line that triggered it.
    id_hint = (
        f" (lines are read as starting with an id because line {id_line[0]} starts "
        f"with {id_line[1]!r}; if that is a typo, correct it)"
        if id_line
        else ""
    )

    ids: list[str] = []
    rows: list[list[int]] = []
    seen: dict[str, int] = {}
    width: int | None = None
    first_line = lines[0][0]
    for index, (number, tokens) in enumerate(lines, start=1):
        if has_ids:
            if len(tokens) < 2:
                raise ValueError(
                    f"line {number}: expected an id followed by the capture history{id_hint}"
                )
            animal, history = tokens[0].strip("\"'"), tokens[1:]
        else:
            animal, history = str(index), tokens
        if animal in seen:
            raise ValueError(
                f"line {number}: animal id {animal!r} already used on line {seen[animal]}" + id_hint
            )
        seen[animal] = number
        row = _occasions(number, history)
        if width is None:
            width, first_line = len(row), number
        elif len(row) != width:
            raise ValueError(
                f"line {number}: {len(row)} occasions, but line {first_line} has {width}; "
                "every animal needs a value for every occasion"
            )
        ids.append(animal)
        rows.append(row)
    return ids, np.array(rows, dtype=np.int8)


def parse_frequencies(text: str) -> list[int]:
    """Parse capture frequencies f1..ft (animals caught exactly 1..t times) from text."""
    lines = _data_lines(text)
    looks_binary = [
        tokens
        for _number, tokens in lines
        if all(token in ("0", "1") for token in tokens)
        or (len(tokens) == 1 and len(tokens[0]) > 1 and _BINARY.fullmatch(tokens[0]))
    ]
    if len(lines) > 1 and len(looks_binary) == len(lines):
        # f1..ft is one list of counts; many lines of 0s and 1s are capture histories,
        # and read as frequencies they would give a wrong N without any warning.
        raise ValueError(
            f"this looks like capture histories ({len(lines)} lines of 0s and 1s), not "
            "capture frequencies f1..ft; read it without --frequencies"
        )
    values: list[int] = []
    for number, tokens in lines:
        for token in tokens:
            if not _COUNT.fullmatch(token):
                raise ValueError(
                    f"line {number}: {token!r} is not a count; capture frequencies are "
                    "whole numbers of animals, zero or more"
                )
            values.append(int(token))
    if not values:
        raise ValueError("no capture frequencies found: the text has no data lines")
    return values
