"""Login throttling (django-axes) for logins that come over HTTP."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuse logins of a locked-out user name and address; pass the rest to the next backend."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        # authenticate() without a request comes from code (the test client, the
        # shell, a management command), not from a network client to throttle.
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
