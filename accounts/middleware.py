"""Tell clients to retry, rather than that something broke, while the database is away."""

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)


def _page(message: str) -> str:
    try:
        return render_to_string(
            "database_unavailable.html",
            {"message": message, "retry_after": RETRY_AFTER_SECONDS},
        )
    except Exception:
        # A page that fails to render (say, a static file missing from the
        # manifest) would turn the 503 into a 500: say it in plain HTML instead.
        logger.exception("the database-unavailable page did not render")
        return f"<!doctype html><title>503</title><p>{escape(message)}</p>"


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """Answer 503 with Retry-After: JSON under /api/, a page in the reader's language elsewhere."""
    # The page reads nothing from the database (no user, no navigation), and the
    # language comes from the cookie or the browser, as LocaleMiddleware reads it.
    with translation.override(translation.get_language_from_request(request)):
        message = _("The registry's database is briefly unavailable; try again in a moment.")
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {"code": "unavailable", "detail": message}, status=503
            )
        else:
            response = HttpResponse(_page(message), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def note_database_failure(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Mark a request whose unhandled exception was a lost database connection.

    Django turns an exception raised in any middleware (the session and user
    lookups of the authentication middleware among them) into a 500 response at
    that layer, so no middleware outside it sees the exception itself; this
    receiver of got_request_exception, called while it is being handled, does.
    """
    exception = sys.exc_info()[1]
    if request is not None and isinstance(exception, DATABASE_ERRORS):
        request.database_unavailable = exception


class DatabaseUnavailableMiddleware:
    """Turn every response to a request that lost the database into a 503 with Retry-After.

    It sits outside the session and authentication middleware, so that a request
    whose session or user could not be read gets the 503 too, not a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        exception = getattr(request, "database_unavailable", None)
        if exception is None or response.status_code < 500:
            return response
        logger.warning(
            "database unavailable during %s %s: %s", request.method, request.path, exception
        )
        return database_unavailable_response(request)
