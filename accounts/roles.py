"""The four roles: what each may see and do, and the Django groups that hold them."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """The four kinds of user; each is a Django group of the same name."""

    RANGER = "ranger", _("Ranger")
    SCIENTIST = "scientist", _("Scientist")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")


# Model permissions per role, as "app_label.codename". The admin role gets all.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.RANGER: [
        "traps.view_park",
        "traps.view_station",
        "traps.add_station",
        "traps.change_station",
        "traps.view_deployment",
        "traps.add_deployment",
        "traps.change_deployment",
        "traps.view_malfunctionperiod",
        "traps.add_malfunctionperiod",
        "traps.change_malfunctionperiod",
        "traps.view_photo",
        "traps.add_photo",
        "traps.view_event",
    ],
    Role.SCIENTIST: [
        "traps.view_park",
        "traps.view_station",
        "traps.view_deployment",
        "traps.change_deployment",
        "traps.view_malfunctionperiod",
        "traps.view_photo",
        "traps.change_photo",
        "traps.view_event",
        "traps.change_event",
        "leopards.view_leopard",
        "leopards.add_leopard",
        "leopards.change_leopard",
        "leopards.view_sighting",
        "leopards.add_sighting",
        "leopards.change_sighting",
        "leopards.view_matchcandidate",
    ],
    Role.MANAGER: [
        "traps.view_park",
        "traps.view_station",
        "traps.view_deployment",
        "traps.view_malfunctionperiod",
        "traps.view_event",
        "leopards.view_leopard",
        "leopards.view_sighting",
    ],
}


def roles_ensure() -> None:
    """Create the role groups and give each its permissions (safe to repeat)."""
    with transaction.atomic():
        all_permissions = {
            f"{p.content_type.app_label}.{p.codename}": p
            for p in Permission.objects.select_related("content_type")
        }
        for role in Role:
            group, _ = Group.objects.get_or_create(name=role.value)
            if role == Role.ADMIN:
                wanted = [
                    p
                    for key, p in all_permissions.items()
                    if key.split(".")[0]
                    in {"traps", "leopards", "census", "auth", "accounts", "axes"}
                ]
            else:
                wanted = [
                    all_permissions[k] for k in ROLE_PERMISSIONS[role] if k in all_permissions
                ]
            group.permissions.set(wanted)


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    """Return the role names of a user; a superuser holds every role."""
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return {role.value for role in Role}
    cached = getattr(user, "_registry_roles", None)
    if cached is None:
        names = {r.value for r in Role}
        cached = {g.name for g in user.groups.all() if g.name in names}
        user._registry_roles = cached
    return cached


# What each role may see and do: the table in README.md ("Who may see and do
# what") is this one, row by row (tests/security/test_role_table.py compares
# them; permissions_markdown() writes the README's rows). Every check of a
# role in the registry asks has_permission() for one of these names. Where a
# role may act, it acts on the parks the user belongs to; admins on all.
PARK_DATA = "park_data"
UPLOAD = "upload"
FIELD_EDITS = "field_edits"
CENSUS = "census"
CENSUS_SURVEYS = "census_surveys"
INDIVIDUALS = "individuals"
REVIEW = "review"
EXCHANGE = "exchange"
IMPORTS = "imports"
EXACT_LOCATIONS = "exact_locations"
EVERY_PARK = "every_park"
ADMIN_SITE = "admin_site"

_ALL = frozenset({Role.RANGER.value, Role.SCIENTIST.value, Role.MANAGER.value, Role.ADMIN.value})
_FIELD = frozenset({Role.RANGER.value, Role.SCIENTIST.value, Role.ADMIN.value})
_SCIENCE = frozenset({Role.SCIENTIST.value, Role.MANAGER.value, Role.ADMIN.value})
_REVIEWERS = frozenset({Role.SCIENTIST.value, Role.ADMIN.value})
_ADMINS = frozenset({Role.ADMIN.value})


@dataclass(frozen=True)
class RolePermission:
    """One row of the role table: what it allows, in the README's words, and who holds it."""

    what: str
    roles: frozenset[str]


PERMISSIONS: dict[str, RolePermission] = {
    PARK_DATA: RolePermission(
        "home; parks, stations, deployments, photos and events: read (pages and API)", _ALL
    ),
    UPLOAD: RolePermission(
        "upload photos: the upload page, `POST /api/photos/`, hash lookup, deployment proposal",
        _FIELD,
    ),
    FIELD_EDITS: RolePermission(
        "add and change stations and deployments; set clock offsets; retry failed photos",
        _FIELD,
    ),
    CENSUS: RolePermission(
        "census dashboards, their CSV downloads and the census results API", _ALL
    ),
    CENSUS_SURVEYS: RolePermission(
        "census surveys: estimates, capture histories (CSV) and secr downloads", _SCIENCE
    ),
    INDIVIDUALS: RolePermission(
        "individuals: list, pages, history and the catalogue changes API (read)", _ALL
    ),
    REVIEW: RolePermission(
        "review queue, sightings, candidates, identification, second opinions; "
        "edit, merge, split, link flanks and undo in the catalogue",
        _REVIEWERS,
    ),
    EXCHANGE: RolePermission("data exchange page and Camtrap DP package downloads", _SCIENCE),
    IMPORTS: RolePermission(
        "imports of Camtrap DP packages and MegaDetector results; likely blanks", _REVIEWERS
    ),
    EXACT_LOCATIONS: RolePermission(
        "exact coordinates of single stations and photo GPS (EXIF/XMP) in originals", _FIELD
    ),
    EVERY_PARK: RolePermission("every park, whatever the memberships", _ADMINS),
    ADMIN_SITE: RolePermission(
        "the admin site (users, roles, parks and memberships, API tokens, the exact-location "
        "access log, login attempts, the change history read only); parks in the API: add, change",
        _ADMINS,
    ),
}

TABLE_ROLES = [Role.RANGER, Role.SCIENTIST, Role.MANAGER, Role.ADMIN]


def has_permission(user: AbstractBaseUser | AnonymousUser, name: str) -> bool:
    """Tell whether one of the user's roles holds this permission of the role table."""
    return bool(user_roles(user) & PERMISSIONS[name].roles)


def permissions_markdown() -> str:
    """Return the role table as the Markdown rows README.md shows."""
    lines = [
        "| | " + " | ".join(role.value for role in TABLE_ROLES) + " |",
        "| --- |" + " --- |" * len(TABLE_ROLES),
    ]
    for permission in PERMISSIONS.values():
        cells = ["yes" if role.value in permission.roles else "no" for role in TABLE_ROLES]
        lines.append(f"| {permission.what} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def can_upload(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether the user may upload photos (to the parks they belong to)."""
    return has_permission(user, UPLOAD)


def can_correct_deployments(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether the user may set clock offsets and retry failed photos."""
    return has_permission(user, FIELD_EDITS)
