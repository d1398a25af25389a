"""Change history helpers: what counts as a change of an account."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone


def update_last_login_quietly(sender: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
    """Record the login time without adding a row to the user's change history."""
    user.last_login = timezone.now()
    user.skip_history_when_saving = True
    try:
        user.save(update_fields=["last_login"])
    finally:
        del user.skip_history_when_saving
