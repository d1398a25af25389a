"""Reads of the security app."""

from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import token_digest


def api_token_active(key: str) -> ApiToken | None:
    """Return the unexpired token with this key, with its active user, or None."""
    return (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(key), expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )
