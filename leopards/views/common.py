"""Helpers shared by the leopards pages: role checks and refusals shown as messages."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from leopards.permissions import can_read_catalogue, can_review
from leopards.services.errors import ReviewError


def require_reviewer(request: HttpRequest) -> None:
    """Hide review pages from everyone but scientists and admins (a 404, as for other parks)."""
    if not can_review(request.user):
        raise Http404


def require_reader(request: HttpRequest) -> None:
    if not can_read_catalogue(request.user):
        raise Http404


def refused(request: HttpRequest, error: ReviewError, to: str) -> HttpResponse:
    """Show why a write was refused and go back to the page it came from."""
    messages.error(request, error.message)
    return redirect(to)


def optional_int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
