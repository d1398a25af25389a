"""Refuse, before any view, request URLs that no database can look up."""

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _


class NullCharacterInRequest(BadRequest):
    """A NUL in the path or the query string: PostgreSQL refuses it in any text."""

    code = "null_character"


class RefuseNullCharactersMiddleware:
    """Answer 400 to a NUL anywhere in the path or the query, once for every view and filter."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The decoded forms: %00 in the raw URL is a NUL only once decoded.
        query = request.GET
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in query.getlist(key)) for key in query
        ):
            # Raised, not answered here: Django's handler400 answers JSON under /api/.
            raise NullCharacterInRequest(_("The address must not contain a NUL character."))
        return self.get_response(request)
