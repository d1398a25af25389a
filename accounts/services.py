"""Writes of the accounts app: exact-location access records and API tokens."""

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import ApiToken, LocationAccessLog
from accounts.network import client_address

logger = logging.getLogger(__name__)


def location_access_log(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    parks: Model | list[Model],
    what: str,
    detail: str = "",
    request: HttpRequest | None = None,
) -> list[LocationAccessLog]:
    """Record that exact station coordinates of these parks were served to a user.

    The parks are traps.Park rows (typed as models: this app imports nothing above it).
    """
    parks = parks if isinstance(parks, list) else [parks]
    if user is not None and not user.is_authenticated:
        user = None
    username = user.get_username() if user is not None else "command line"
    if request is not None and not detail:
        detail = request.get_full_path()[:500]
    ip_address = client_address(request) if request is not None else None
    rows = LocationAccessLog.objects.bulk_create(
        LocationAccessLog(
            user=user,
            username=username,
            park=park,
            park_code=park.code,
            what=what,
            detail=detail[:500],
            ip_address=ip_address or None,
        )
        for park in parks
    )
    logger.info(
        "exact coordinates (%s) served to %s for parks %s: %s",
        what,
        username,
        ", ".join(p.code for p in parks),
        detail,
    )
    return rows


def token_digest(key: str) -> str:
    """Return the stored form of an API key."""
    # The key is 256 random bits, so a plain hash is as strong as a slow one here.
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(
    *, user: AbstractBaseUser, name: str = "", days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a time-limited API token; return it and its key (shown once, never stored)."""
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValueError(f"an API token lives from 1 to {settings.API_TOKEN_MAX_DAYS} days")
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[:8],
        digest=token_digest(key),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    return token, key


def api_token_touch(*, token: ApiToken) -> None:
    """Note when a token was last used, at most once a minute per token."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
