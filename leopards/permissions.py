"""Who may review events and edit the catalogue, and who may only read it."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from traps.models import Role
from traps.roles import user_roles

REVIEW_ROLES = {Role.SCIENTIST.value, Role.ADMIN.value}
READ_ROLES = {Role.RANGER.value, Role.SCIENTIST.value, Role.MANAGER.value, Role.ADMIN.value}


def can_review(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether the user reviews events and edits individuals (in their parks)."""
    return bool(user_roles(user) & REVIEW_ROLES)


def can_read_catalogue(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether the user may see individuals at all (read-only for rangers and managers)."""
    return bool(user_roles(user) & READ_ROLES)
