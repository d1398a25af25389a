"""Who may review events and edit the catalogue, and who may only read it."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from accounts import roles
from accounts.roles import has_permission


def can_review(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether the user reviews events and edits individuals (in their parks)."""
    return has_permission(user, roles.REVIEW)


def can_read_catalogue(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Tell whether the user may see individuals at all (read-only for rangers and managers)."""
    return has_permission(user, roles.INDIVIDUALS)
