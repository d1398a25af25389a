"""Validate a Camtrap DP package offline against the bundled 1.0.2 profile and schemas.

Nothing is fetched from the web: the two web references of the profile (the
GeoJSON schema and the generic Data Package schema) are dropped, and each
table's schema URL is replaced by the bundled copy before frictionless checks
every table, type, constraint and foreign key.
"""

import copy
import csv
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from frictionless import Detector, Package
from jsonschema import Draft4Validator

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
            resource["schema"] = schema
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
    return problems


def package_problems(base: Path, *, strict: bool = False) -> list[Problem]:
    """Return every problem of the package in a folder; an empty list means it validates."""
    descriptor_path = base / "datapackage.json"
    if not descriptor_path.is_file():
        return [Problem("", _("There is no datapackage.json in the package."))]
    try:
        with open(descriptor_path, encoding="utf-8") as fh:
            descriptor = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        return [Problem("datapackage.json", _("Not valid JSON: %(error)s") % {"error": str(exc)})]
    problems = descriptor_problems(descriptor, strict=strict)
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        return problems
    return problems + table_problems(descriptor, base, strict=strict)
