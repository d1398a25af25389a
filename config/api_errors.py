"""One shape for every API error: {"detail": "...", "code": "..."}, field errors under "errors"."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _first_code(codes: Any) -> str:
    """Return the first error code in DRF's nested codes (a string, list or dict)."""
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value)
        return "invalid"
    if isinstance(codes, list):
        return _first_code(codes[0]) if codes else "invalid"
    return str(codes)


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer an API error with JSON detail and code; keep validation errors per field."""
    # Django's own 404 and 403 become DRF's, as DRF's handler does, so that they get a code.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail
        if isinstance(errors, dict) and set(errors) == {"non_field_errors"}:
            errors = errors["non_field_errors"]
        if isinstance(errors, list):
            # A refusal of the whole request, not of one field: its message is the detail.
            detail = str(errors[0]) if errors else _("The request is not valid.")
            code = _first_code(exc.get_codes())
            response.data = {"detail": detail, "code": code, "errors": {"non_field_errors": errors}}
        else:
            response.data = {
                "detail": _("Some fields are not valid."),
                "code": "invalid",
                "errors": errors,
            }
        return response
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        if isinstance(detail, dict) and "detail" in detail:
            # Already the registry's shape (a view that names its own code).
            body = dict(detail)
            body.setdefault("code", exc.default_code)
            response.data = body
        else:
            code = _first_code(exc.get_codes())
            response.data = {"detail": str(detail), "code": code}
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer a URL that matches nothing: the API's JSON 404 under /api/, the page elsewhere."""
    # An id the router's patterns refuse (say "1.5") never reaches a view.
    if request.path.startswith("/api/"):
        body = {"detail": str(exceptions.NotFound.default_detail), "code": "not_found"}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer a request Django refused before any view (too many fields, a NUL in the URL)."""
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, TooManyFieldsSent):
        body = {"detail": _("The request has too many fields."), "code": "too_many_fields"}
    elif isinstance(exception, RequestDataTooBig):
        body = {"detail": _("The request body is too large."), "code": "request_too_large"}
    elif getattr(exception, "code", None) == "null_character":
        body = {"detail": str(exception), "code": "null_character"}
    else:
        body = {"detail": _("The request is not valid."), "code": "bad_request"}
    return JsonResponse(body, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer a PermissionDenied raised outside DRF (a middleware) as JSON under /api/."""
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    body = {"detail": str(exceptions.PermissionDenied.default_detail), "code": "permission_denied"}
    return JsonResponse(body, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """Answer an unexpected error as JSON under /api/; Django has already logged it."""
    if not _is_api(request):
        return defaults.server_error(request)
    body = {"detail": _("A server error occurred."), "code": "server_error"}
    return JsonResponse(body, status=500)
