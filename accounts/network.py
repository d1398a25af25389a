"""The address a request came from, the one the login throttle and the access logs record."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """Return the client's address, read through the trusted proxies in front of the registry.

    Without BEHIND_PROXY the peer of the connection is the client, and
    X-Forwarded-For is the client's own word, so it is ignored. Behind
    TRUSTED_PROXY_COUNT proxies, each appends the address it saw to
    X-Forwarded-For, so the client is that many entries from the right; anything
    further left was written by the client and is ignored too.
    """
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    if not settings.BEHIND_PROXY:
        return peer
    forwarded = [p for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    count = settings.TRUSTED_PROXY_COUNT
    if count < 1 or len(forwarded) < count:
        # Not through the proxies (a health check on the host itself): the peer it is.
        return peer
    return _address(forwarded[-count]) or peer
