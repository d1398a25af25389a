"""The four roles as Django groups, with the model permissions each one holds."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.db import transaction

from traps.models import Role

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
                    in {"traps", "leopards", "census", "auth", "security", "axes"}
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


# Who may send photos: rangers bring the cards, scientists and admins fix gaps.
UPLOAD_ROLES = {Role.RANGER.value, Role.SCIENTIST.value, Role.ADMIN.value}
# Who may change a deployment's clock offset or retry a failed photo.
CLOCK_ROLES = {Role.RANGER.value, Role.SCIENTIST.value, Role.ADMIN.value}


def can_upload(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether the user may upload photos (to the parks they belong to)."""
    return bool(user_roles(user) & UPLOAD_ROLES)


def can_correct_deployments(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether the user may set clock offsets and retry failed photos."""
    return bool(user_roles(user) & CLOCK_ROLES)
