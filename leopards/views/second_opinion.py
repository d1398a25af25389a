"""Blind checks: the list of checks waiting, the check page and the agreement rates."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from leopards.forms import SecondOpinionForm
from leopards.models import SecondOpinion
from leopards.selectors import second_opinion as selectors
from leopards.selectors.catalogue import candidates_disclose, leopard_lookup, leopards_for_user
from leopards.services.errors import ReviewError
from leopards.services.second_opinion import second_opinion_answer
from leopards.views.common import require_reviewer
from traps.selectors import parks_for_user


def second_opinion_queue(request: HttpRequest) -> HttpResponse:
    require_reviewer(request)
    return render(
        request,
        "leopards/second_opinion_queue.html",
        {
            "opinions": selectors.second_opinion_queue(request.user)[:200],
            "rates": selectors.agreement_rates(parks=parks_for_user(request.user)),
        },
    )


@require_http_methods(["GET", "POST"])
def second_opinion_check(request: HttpRequest, pk: int) -> HttpResponse:
    require_reviewer(request)
    try:
        opinion = selectors.second_opinion_for_answer(request.user, pk)
    except SecondOpinion.DoesNotExist as exc:
        raise Http404 from exc
    if request.method == "POST":
        form = SecondOpinionForm(request.POST)
        if form.is_valid():
            leopard_id = form.cleaned_data["leopard"]
            code = form.cleaned_data["code"].strip()
            if form.cleaned_data["candidate"]:
                # A candidate from another park is named by the candidate's own id only.
                leopard_id = get_object_or_404(
                    opinion.sighting.candidates.all(), pk=form.cleaned_data["candidate"]
                ).leopard_id
            elif leopard_id:
                leopard_id = get_object_or_404(leopards_for_user(request.user), pk=leopard_id).pk
            elif code:
                typed = leopard_lookup(request.user, code).leopard
                if typed is None:
                    messages.error(request, _("No individual with that code in your parks."))
                    return redirect("leopards:second-opinion-check", pk=pk)
                leopard_id = typed.pk
            try:
                result = second_opinion_answer(
                    opinion_id=opinion.pk,
                    user=request.user,
                    answer=form.cleaned_data["answer"],
                    leopard_id=leopard_id,
                )
            except ReviewError as error:
                messages.error(request, error.message)
                return redirect("leopards:second-opinion-check", pk=pk)
            if result.status == SecondOpinion.Status.AGREED:
                messages.success(request, _("Thank you: both answers agree."))
            else:
                messages.warning(
                    request,
                    _("The answers differ; the event is back in the review queue, flagged."),
                )
            return redirect("leopards:second-opinion-queue")
    candidates_disclose(request.user, opinion.sighting.candidates.all())
    return render(
        request,
        "leopards/second_opinion_check.html",
        {"opinion": opinion, "sighting": opinion.sighting},
    )


def second_opinion_agreement(request: HttpRequest) -> HttpResponse:
    require_reviewer(request)
    return render(
        request,
        "leopards/second_opinion_agreement.html",
        {"rates": selectors.agreement_rates(parks=parks_for_user(request.user))},
    )
