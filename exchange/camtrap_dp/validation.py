"""Validate a Camtrap DP package offline against the bundled 1.0.2 profile and schemas.

Nothing is fetched from the web: the two web references of the profile (the
GeoJSON schema and the generic Data Package schema) are dropped, and each
table's schema URL is replaced by the bundled copy before frictionless checks
every table, type and constraint. The identifiers (primary keys) and the
references between the three tables (foreign keys) are checked here, against a
SQLite file on disk: frictionless holds every key in memory, which grows with
the package.
"""

import copy
import csv
import json
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from frictionless import Detector, Package
from jsonschema import Draft4Validator

from config.json_input import JsonRefused, json_load_checked

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "camtrap_dp_1_0_2"
CORE_RESOURCES = ("deployments", "media", "observations")
VERSION = "1.0.2"
PROFILE_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/camtrap-dp-profile.json"
# Packages written against 1.0 and 1.0.1 differ from 1.0.2 only in details the
# bundled schemas tolerate, so they are read with the same schemas.
ACCEPTED_VERSION_PATTERN = r"/1\.0(\.[12])?/"


def table_schema_url(name: str) -> str:
    return f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/{name}-table-schema.json"


@dataclass(frozen=True)
class Problem:
    """One reason a package does not validate, with where it was found."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class PackageInvalid(Exception):
    """A package that is refused, with every problem found in it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the package")
        self.problems = problems


@cache
def table_schema(name: str) -> dict[str, Any]:
    with open(SCHEMA_DIR / f"{name}-table-schema.json", encoding="utf-8") as fh:
        return json.load(fh)


@cache
def _profile(strict: bool) -> dict[str, Any]:
    with open(SCHEMA_DIR / "camtrap-dp-profile.json", encoding="utf-8") as fh:
        profile = json.load(fh)
    # Offline: the web references cannot be resolved, so they are left out.
    profile["allOf"] = [part for part in profile["allOf"] if "$ref" not in part]
    for part in profile["allOf"]:
        part.get("properties", {}).get("spatial", {}).pop("$ref", None)
    if not strict:
        profile["$defs"]["version"]["pattern"] = ACCEPTED_VERSION_PATTERN
    return profile


def _pointer(path: Any) -> str:
    return "datapackage.json" + "".join(
        f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in path
    )


def descriptor_problems(descriptor: Any, *, strict: bool = False) -> list[Problem]:
    """Check datapackage.json against the Camtrap DP profile (without its web references)."""
    if not isinstance(descriptor, dict):
        return [Problem("datapackage.json", _("The descriptor is not a JSON object."))]
    validator = Draft4Validator(_profile(strict), format_checker=Draft4Validator.FORMAT_CHECKER)
    problems = [
        Problem(_pointer(error.absolute_path), error.message)
        for error in sorted(validator.iter_errors(descriptor), key=lambda e: list(e.absolute_path))
    ]
    # The generic Data Package rules that the dropped reference would have checked.
    for index, resource in enumerate(descriptor.get("resources") or []):
        if not isinstance(resource, dict) or not ("path" in resource or "data" in resource):
            problems.append(
                Problem(_pointer(["resources", index]), _("A resource needs a “path” or “data”."))
            )
    for index, contributor in enumerate(descriptor.get("contributors") or []):
        if isinstance(contributor, dict) and not contributor.get("title"):
            problems.append(
                Problem(_pointer(["contributors", index]), _("A contributor needs a “title”."))
            )
    names = [r.get("name") for r in descriptor.get("resources") or [] if isinstance(r, dict)]
    for name in CORE_RESOURCES:
        if name not in names:
            problems.append(
                Problem(
                    "datapackage.json", _("The “%(name)s” resource is missing.") % {"name": name}
                )
            )
    return problems


def _csv_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def _is_remote(value: Any) -> bool:
    return isinstance(value, str) and bool(re.match(r"^[a-z][a-z0-9+.-]*://", value, re.I))


def table_problems(
    descriptor: dict[str, Any], base: Path, *, strict: bool = False
) -> list[Problem]:
    """Check every table of the package with frictionless, offline, against the bundled schemas.

    With strict=False a table may leave out optional columns (many systems do);
    a missing required column is still a problem.
    """
    problems: list[Problem] = []
    resources = []
    for resource in descriptor.get("resources") or []:
        if not isinstance(resource, dict):
            continue  # descriptor_problems names it
        resource = copy.deepcopy(resource)
        name = resource.get("name")
        path = resource.get("path")
        if name in CORE_RESOURCES:
            if not isinstance(path, str) or _is_remote(path):
                problems.append(
                    Problem(name, _("The table must be a file inside the package, not a URL."))
                )
                continue
            if not (base / path).is_file():
                problems.append(
                    Problem(name, _("The file “%(path)s” is not in the package.") % {"path": path})
                )
                continue
            schema = table_schema(name)
            header = _csv_header(base / path)
            missing = [
                f["name"]
                for f in schema["fields"]
                if f.get("constraints", {}).get("required") and f["name"] not in header
            ]
            for field in missing:
                problems.append(
                    Problem(
                        name,
                        _("The required column “%(field)s” is missing.") % {"field": field},
                    )
                )
            resource["schema"] = _without_keys(schema)
        elif _is_remote(path) or _is_remote(resource.get("schema")):
            continue  # an extra table on the web cannot be checked offline; it is not imported
        resources.append(resource)
    if problems:
        return problems
    package = Package(
        {"name": "package", "resources": resources},
        basepath=str(base),
        detector=Detector(schema_sync=not strict),
    )
    report = package.validate()
    for task in report.tasks:
        for error in task.errors:
            row = getattr(error, "row_number", None)
            where = f"{task.name}.csv, row {row}" if row else f"{task.name}"
            problems.append(Problem(where, error.message))
    for error in report.errors:
        problems.append(Problem("", error.message))
    return problems + key_problems(descriptor, base)


def _without_keys(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a table schema without its primary key, foreign keys and unique fields."""
    schema = copy.deepcopy(schema)
    schema.pop("primaryKey", None)
    schema.pop("foreignKeys", None)
    for field in schema["fields"]:
        field.get("constraints", {}).pop("unique", None)
    return schema


# Enough to show what is wrong with a table's identifiers without listing 100,000 rows.
KEY_PROBLEMS_PER_TABLE = 100


def _column(path: Path, name: str, missing: set[str]) -> Iterator[tuple[int, str]]:
    """Yield (row number, value) of a column, rows counted as frictionless does (header 1)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        if name not in header:
            return
        index = header.index(name)
        for number, row in enumerate(reader, start=2):
            if index < len(row) and row[index] not in missing:
                yield number, row[index]


def key_problems(descriptor: dict[str, Any], base: Path) -> list[Problem]:
    """Check the three tables' identifiers are unique and their references exist.

    The keys go into a SQLite file on disk, so the check takes the same memory
    for a package of a hundred rows or of a million.
    """
    paths = {
        r["name"]: base / r["path"]
        for r in descriptor.get("resources") or []
        if isinstance(r, dict)
        and r.get("name") in CORE_RESOURCES
        and isinstance(r.get("path"), str)
    }
    if set(paths) != set(CORE_RESOURCES):
        return []  # table_problems names what is missing
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="camtrap-dp-keys-") as folder:
        db = sqlite3.connect(Path(folder) / "keys.sqlite3")
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            for name in CORE_RESOURCES:
                problems += _unique_problems(db, name, paths[name])
            for name in CORE_RESOURCES:
                problems += _reference_problems(db, name, paths[name])
        finally:
            db.close()
    return problems


def _unique_problems(db: sqlite3.Connection, name: str, path: Path) -> list[Problem]:
    schema = table_schema(name)
    key = schema["primaryKey"]
    db.execute(f"CREATE TABLE {name} (id TEXT PRIMARY KEY, row INTEGER NOT NULL)")
    problems = []
    for number, value in _column(path, key, set(schema.get("missingValues", [""]))):
        added = db.execute(f"INSERT OR IGNORE INTO {name} VALUES (?, ?)", (value, number))
        if added.rowcount == 0 and len(problems) < KEY_PROBLEMS_PER_TABLE:
            first = db.execute(f"SELECT row FROM {name} WHERE id = ?", (value,)).fetchone()[0]
            problems.append(
                Problem(
                    f"{name}.csv, row {number}",
                    _("%(field)s “%(value)s” is already on row %(first)d; it must be unique.")
                    % {"field": key, "value": value, "first": first},
                )
            )
    return problems


def _reference_problems(db: sqlite3.Connection, name: str, path: Path) -> list[Problem]:
    schema = table_schema(name)
    missing = set(schema.get("missingValues", [""]))
    problems = []
    for foreign_key in schema.get("foreignKeys", []):
        field, target = foreign_key["fields"], foreign_key["reference"]["resource"]
        for number, value in _column(path, field, missing):
            if db.execute(f"SELECT 1 FROM {target} WHERE id = ?", (value,)).fetchone():
                continue
            problems.append(
                Problem(
                    f"{name}.csv, row {number}",
                    _("%(field)s “%(value)s” is not in the %(table)s table.")
                    % {"field": field, "value": value, "table": target},
                )
            )
            if len(problems) >= KEY_PROBLEMS_PER_TABLE:
                return problems
    return problems


def _resource_paths(resource: Any) -> list[Any]:
    path = resource.get("path") if isinstance(resource, dict) else None
    return path if isinstance(path, list) else [path] if path is not None else []


def path_problems(descriptor: dict[str, Any], base: Path) -> list[Problem]:
    """Refuse resource paths that leave the package (/etc/passwd, ../../x) or are no text."""
    problems = []
    root = base.resolve()
    for index, resource in enumerate(descriptor.get("resources") or []):
        name = resource.get("name") if isinstance(resource, dict) else None
        where = str(name) if isinstance(name, str) and name else _pointer(["resources", index])
        for path in _resource_paths(resource):
            if not isinstance(path, str) or not path:
                problems.append(Problem(where, _("A resource path must be text.")))
            elif _is_remote(path):
                continue  # a URL is never opened; table_problems refuses it for a core table
            elif Path(path).is_absolute() or root not in (root / path).resolve().parents:
                problems.append(
                    Problem(
                        where, _("The path “%(path)s” points outside the package.") % {"path": path}
                    )
                )
    return problems


def _csv_rows(path: Path) -> int:
    """The rows of a CSV file after its header (a quoted value may span lines)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return max(sum(1 for _row in csv.reader(fh)) - 1, 0)


def text_problems(descriptor: dict[str, Any], base: Path) -> list[Problem]:
    """Refuse table files that are not UTF-8 or hold a NUL, naming the first such row,
    and tables of more rows than ``IMPORT_MAX_ROWS``."""
    limit = settings.IMPORT_MAX_ROWS
    problems = []
    for resource in descriptor.get("resources") or []:
        for path in _resource_paths(resource):
            if _is_remote(path) or not (base / path).is_file():
                continue
            lines = 0
            with open(base / path, "rb") as fh:
                for row, line in enumerate(fh, start=1):
                    lines = row
                    # UTF-8 never puts a newline byte inside a character: lines decode alone.
                    message = None
                    if b"\x00" in line:
                        message = _("Row %(row)d holds a NUL character.") % {"row": row}
                    else:
                        try:
                            line.decode("utf-8")
                        except UnicodeDecodeError:
                            message = _("Row %(row)d is not UTF-8 text.") % {"row": row}
                    if message:
                        problems.append(Problem(path, message))
                        break
                else:
                    # Lines bound the rows from above; only a table that may be over
                    # the limit is read again as CSV, whose values can span lines.
                    if lines - 1 > limit and _csv_rows(base / path) > limit:
                        problems.append(
                            Problem(
                                path,
                                _(
                                    "The table has more than %(limit)s rows, the most "
                                    "one import takes; split the package."
                                )
                                % {"limit": number_format(limit, force_grouping=True)},
                            )
                        )
    return problems


def package_problems(base: Path, *, strict: bool = False) -> list[Problem]:
    """Return every problem of the package in a folder; an empty list means it validates."""
    descriptor_path = base / "datapackage.json"
    if not descriptor_path.is_file():
        return [Problem("", _("There is no datapackage.json in the package."))]
    try:
        descriptor = json_load_checked(descriptor_path.read_bytes())
    except JsonRefused as error:
        return [Problem("datapackage.json", error.message)]
    problems = descriptor_problems(descriptor, strict=strict)
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        return problems
    # Nothing is opened before every path is known to stay inside the package.
    unsafe = path_problems(descriptor, base)
    if unsafe:
        return problems + unsafe
    unreadable = text_problems(descriptor, base)
    if unreadable:
        return problems + unreadable
    return problems + table_problems(descriptor, base, strict=strict)
