"""Find the park a Camtrap DP package belongs to when its sender named none.

Only what a package says about itself is read: the deployments' groups, names
and coordinates, and the project's title. Only parks the user may import into
are compared with it, so a proposal never shows that another park exists.
"""

import csv
import io
import re
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts import roles
from census import secr
from census.density.mask import inside_polygons
from census.density.registry import boundary_polygons
from config.json_input import JsonRefused, json_load_checked
from exchange import selectors
from exchange.camtrap_dp import mapping
from exchange.camtrap_dp.validation import PackageInvalid, Problem
from traps.models import Country, Park, Station

# Reading for a proposal stops here: the import itself checks the whole package later.
MAX_DESCRIPTOR_BYTES = 10 * 1024 * 1024
MAX_DEPLOYMENT_BYTES = 50 * 1024 * 1024
# A deployment this close to one of a park's stations is taken to be in that park.
NEAR_KM = 5.0

# What made a park the likely one, worded when the proposal is read.
GROUP, PROJECT, STATIONS, BOUNDARY, NEAR = "group", "project", "stations", "boundary", "near"

# A time zone, and the country it suggests, for the offsets the landscape's parks use.
ZONE_OF_OFFSET = {
    "+10:00": ("Asia/Vladivostok", Country.RUSSIA),
    "+08:00": ("Asia/Shanghai", Country.CHINA),
    "+09:00": ("Asia/Pyongyang", Country.NORTH_KOREA),
}


@dataclass
class PackageHead:
    """What a package says about where it was recorded."""

    descriptor: dict[str, Any]
    deployments: list[dict[str, str]]


@dataclass
class Proposal:
    park: Park | None
    reasons: list[str] = field(default_factory=list)
    matched: int = 0
    deployments: int = 0
    new_park: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "park": self.park.code if self.park else None,
            "reasons": self.reasons,
            "matched": self.matched,
            "deployments": self.deployments,
            "new_park": self.new_park,
        }


def reason_text(code: str) -> str:
    """Word one reason for a proposal in the reader's language."""
    return {
        GROUP: _("its deployment groups name the park"),
        PROJECT: _("the project's title names the park"),
        STATIONS: _("its locations carry the codes of the park's stations"),
        BOUNDARY: _("its cameras stand inside the park's boundary"),
        NEAR: _("its cameras stand within %(km)s km of the park's stations") % {"km": NEAR_KM},
    }.get(code, code)


def package_head(fileobj: IO[bytes]) -> PackageHead:
    """Read the descriptor and deployments of a zipped package, without unpacking the rest."""
    unreadable = PackageInvalid(
        [Problem("", _("The package could not be read to find its park; choose the park."))]
    )
    try:
        archive = zipfile.ZipFile(fileobj)
        names = {info.filename: info for info in archive.infolist()}
        descriptor_name = next(
            (n for n in sorted(names, key=len) if n.rsplit("/", 1)[-1] == "datapackage.json"),
            None,
        )
        if descriptor_name is None:
            raise unreadable
        descriptor = json_load_checked(_member(archive, names[descriptor_name]))
        if not isinstance(descriptor, dict):
            raise unreadable
        folder = descriptor_name[: -len("datapackage.json")]
        resource = next(
            (
                r
                for r in descriptor.get("resources") or []
                if isinstance(r, dict) and r.get("name") == "deployments"
            ),
            None,
        )
        path = resource.get("path") if resource else None
        rows: list[dict[str, str]] = []
        if isinstance(path, str) and folder + path in names:
            text = _member(archive, names[folder + path], MAX_DEPLOYMENT_BYTES)
            reader = csv.DictReader(io.StringIO(text.decode("utf-8-sig")))
            rows = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, JsonRefused, csv.Error) as exc:
        raise unreadable from exc
    return PackageHead(descriptor=descriptor, deployments=rows)


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit=MAX_DESCRIPTOR_BYTES) -> bytes:
    if info.file_size > limit:
        raise ValueError("too large")
    with archive.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError("too large")
    return data


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _names_park(text: str, park: Park) -> bool:
    words = f" {_words(text)} "
    return any(f" {_words(name)} " in words for name in (park.code, park.name) if _words(name))


def _coordinates(row: dict[str, str]) -> tuple[float, float] | None:
    try:
        lat, lon = float(row.get("latitude", "")), float(row.get("longitude", ""))
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def park_propose(*, user: AbstractBaseUser, head: PackageHead) -> Proposal:
    """Propose the park of the user's that the package most likely belongs to, or a new one."""
    parks = list(selectors.parks_for_import(user))
    rows = head.deployments
    votes: dict[int, set[int]] = defaultdict(set)  # park -> deployments that point to it
    reasons: dict[int, set[str]] = defaultdict(set)

    def vote(park: Park, index: int, reason: str) -> None:
        votes[park.pk].add(index)
        reasons[park.pk].add(reason)

    stations = _stations(parks)
    for index, row in enumerate(rows):
        groups = row.get("deploymentGroups", "")
        tags = mapping.tags_parse(groups)
        location = {row.get("locationID", "").casefold(), row.get("locationName", "").casefold()}
        for park in parks:
            named = tags.get("park", "").casefold() == park.code.casefold()
            if named or any(_names_park(group, park) for group in groups.split("|")):
                vote(park, index, GROUP)
            if location & stations[park.pk]["codes"]:
                vote(park, index, STATIONS)
        point = _coordinates(row)
        if point is not None:
            for park, reason in _parks_at(point, parks, stations):
                vote(park, index, reason)
    project = head.descriptor.get("project")
    titles = [head.descriptor.get("title")]
    if isinstance(project, dict):
        titles += [project.get("title"), project.get("acronym")]
    for park in parks:
        if any(isinstance(t, str) and _names_park(t, park) for t in titles):
            # The project speaks for every deployment of the package.
            votes[park.pk] |= set(range(len(rows))) or {0}
            reasons[park.pk].add(PROJECT)
    best = max(parks, key=lambda p: (len(votes[p.pk]), len(reasons[p.pk])), default=None)
    if best is None or not votes[best.pk]:
        return Proposal(park=None, deployments=len(rows), new_park=_new_park(head))
    order = [GROUP, PROJECT, STATIONS, BOUNDARY, NEAR]
    return Proposal(
        park=best,
        reasons=[r for r in order if r in reasons[best.pk]],
        matched=min(len(votes[best.pk]), len(rows)),
        deployments=len(rows),
        new_park=_new_park(head),
    )


def _stations(parks: list[Park]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {p.pk: {"codes": set(), "points": []} for p in parks}
    for park_id, code, lat, lon in Station.objects.filter(park__in=parks).values_list(
        "park_id", "code", "latitude", "longitude"
    ):
        found[park_id]["codes"].add(code.casefold())
        found[park_id]["points"].append((float(lat), float(lon)))
    for entry in found.values():
        entry["codes"].discard("")
        entry["points"] = np.array(entry["points"], dtype=float).reshape(-1, 2)
    return found


def _parks_at(
    point: tuple[float, float], parks: list[Park], stations: dict[int, dict[str, Any]]
) -> list[tuple[Park, str]]:
    lat, lon = point
    found = []
    projected = np.array([secr.project(lat, lon)], dtype=float)
    for park in parks:
        polygons = boundary_polygons(park.boundary)
        if polygons and inside_polygons(projected, polygons)[0]:
            found.append((park, BOUNDARY))
            continue
        points = stations[park.pk]["points"]
        if len(points) and _nearest_km(lat, lon, points) <= NEAR_KM:
            found.append((park, NEAR))
    return found


def _nearest_km(lat: float, lon: float, points: np.ndarray) -> float:
    """Return the great-circle distance to the nearest of the points (lat, lon in degrees)."""
    la1, lo1 = np.radians(lat), np.radians(lon)
    la2, lo2 = np.radians(points[:, 0]), np.radians(points[:, 1])
    a = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return float(np.min(2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))))


def _new_park(head: PackageHead) -> dict[str, str]:
    """Suggest the code, name, country and time zone of a park made for the package."""
    project = head.descriptor.get("project")
    project = project if isinstance(project, dict) else {}
    groups = [
        group.strip()
        for row in head.deployments
        for group in row.get("deploymentGroups", "").split("|")
        if group.strip() and ":" not in group
    ]
    name = next(
        (
            str(n).strip()
            for n in (
                groups[0] if groups else None,
                project.get("title"),
                head.descriptor.get("title"),
            )
            if isinstance(n, str) and n.strip()
        ),
        "",
    )[:200]
    code = slugify(project.get("acronym") or name)[:20].strip("-")
    zone, country = "", ""
    for row in head.deployments:
        try:
            offset = datetime.fromisoformat(row.get("deploymentStart", "")).strftime("%z")
        except ValueError:
            continue
        if offset:
            zone, country = ZONE_OF_OFFSET.get(f"{offset[:3]}:{offset[3:]}", ("", ""))
            break
    return {"code": code, "name": name, "country": str(country), "time_zone": zone}


def may_create_parks(user: AbstractBaseUser) -> bool:
    """Tell whether the user may add a park (the admin site's permission)."""
    return roles.has_permission(user, roles.ADMIN_SITE)
