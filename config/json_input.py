"""Read JSON from outside the registry: bodies, uploaded files and package descriptors.

Python's json module accepts documents the registry cannot use and some it cannot
survive: nesting deep enough to exhaust the stack, NaN and Infinity, 1e400 (read
as infinity), integers of hundreds of digits that no database column holds, and
"\\u0000", which PostgreSQL refuses in text. Every JSON document sent to the
registry is read here, so that each of them is refused with a reason (a 400 under
/api/, a listed problem on an import page) instead of failing further in.
"""

import json
import math
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The largest integer a database column (bigint) holds.
LARGEST_INTEGER = 2**63 - 1


class JsonRefused(ValueError):
    """A JSON document the registry does not read, with a code and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _refuse_constant(name: str) -> float:
    raise JsonRefused(
        "json_not_finite", str(_("Numbers must be finite: NaN and Infinity are not accepted."))
    )


def _read_int(text: str) -> int:
    value = int(text)
    if abs(value) > LARGEST_INTEGER:
        raise JsonRefused("json_number_too_large", str(_("A number in the JSON is too large.")))
    return value


def _read_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused("json_number_too_large", str(_("A number in the JSON is too large.")))
    return value


def _check_shape(data: Any, max_depth: int) -> None:
    # Iterative, so that checking a deep document cannot exhaust the stack either.
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise JsonRefused("null_character", str(_("Text must not contain NUL characters.")))
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            raise JsonRefused(
                "json_too_deep",
                str(_("The JSON is nested more than %(n)d levels deep.") % {"n": max_depth}),
            )
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        else:
            pending.extend((item, depth + 1) for item in value)


def json_load_checked(raw: str | bytes, *, max_depth: int | None = None) -> Any:
    """Parse JSON text; raise JsonRefused when it is not JSON or not fit to be stored."""
    limit = settings.JSON_MAX_DEPTH if max_depth is None else max_depth
    try:
        data = json.loads(
            raw,
            parse_constant=_refuse_constant,
            parse_int=_read_int,
            parse_float=_read_float,
        )
    except JsonRefused:
        raise
    except RecursionError as error:
        raise JsonRefused(
            "json_too_deep",
            str(_("The JSON is nested more than %(n)d levels deep.") % {"n": limit}),
        ) from error
    except (ValueError, UnicodeDecodeError) as error:
        raise JsonRefused(
            "parse_error", str(_("Not valid JSON: %(error)s") % {"error": error})
        ) from error
    _check_shape(data, limit)
    return data


class CheckedJSONParser(JSONParser):
    """DRF's JSON parser, refusing with a 400 what json_load_checked refuses and non-objects."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            data = json_load_checked(raw.decode(encoding))
        except UnicodeDecodeError as error:
            raise ParseError(
                _("The request body is not text in %(encoding)s.") % {"encoding": encoding},
                code="parse_error",
            ) from error
        except JsonRefused as error:
            raise ParseError(error.message, code=error.code) from error
        # Every write of the API takes an object; a list or a number is refused
        # here rather than where a view first calls .get() on it.
        if not isinstance(data, dict):
            raise ParseError(_("The request body must be a JSON object."), code="json_not_object")
        return data
