from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from traps.selectors import park_overview


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"parks": park_overview(request.user)})
