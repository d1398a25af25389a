"""API authentication with time-limited tokens (``Authorization: Token <key>``)."""

from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts import selectors, services


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF token authentication against hashed keys that expire."""

    def authenticate_credentials(self, key: str):
        token = selectors.api_token_active(key)
        if token is None:
            raise AuthenticationFailed(_("Invalid or expired token."))
        services.api_token_touch(token=token)
        return token.user, token
