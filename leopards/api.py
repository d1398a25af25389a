"""REST API of the review and the catalogue, for scripted review; the same services as the pages."""

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from leopards import serializers as s
from leopards.filters import CandidateFilter, CatalogueChangeFilter, SightingFilter
from leopards.models import Leopard, SecondOpinion, Sighting
from leopards.permissions import can_read_catalogue, can_review
from leopards.selectors import catalogue, review, second_opinion
from leopards.services import catalogue_edits, identification
from leopards.services import review as review_services
from leopards.services import second_opinion as blind
from leopards.services.errors import VERSION_REQUIRED, EventClaimed, ReviewError, StaleVersion
from traps.fields import day_in_range
from traps.selectors import parks_for_user

WRITE_ERRORS = {
    400: s.ReviewErrorSerializer,
    409: OpenApiResponse(s.ReviewErrorSerializer, description="Changed meanwhile, or claimed."),
}


class CanReview(BasePermission):
    """Scientists and admins review and edit; rangers and managers read individuals only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(view, "read_roles_allowed", False) and request.method in ("GET", "HEAD"):
            return can_read_catalogue(request.user)
        return can_review(request.user)


def _run(write: Callable[[], Any]) -> Any:
    """Run a service; refusals become 400, stale versions and claims 409, nothing saved."""
    try:
        return write()
    except (StaleVersion, EventClaimed) as error:
        body = {"code": error.code, "detail": error.message}
        if isinstance(error, StaleVersion):
            body["version"] = error.version
        raise _Refused(body, status.HTTP_409_CONFLICT) from error
    except ReviewError as error:
        raise _Refused({"code": error.code, "detail": error.message}, 400) from error


class _Refused(Exception):
    def __init__(self, body: dict, http_status: int) -> None:
        self.body = body
        self.http_status = http_status


class RefusalMixin:
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Refused):
            return Response(exc.body, status=exc.http_status)
        return super().handle_exception(exc)


def _leopard_by_code(request: Request, code: str | None) -> Leopard:
    if not code:
        raise NotFound(_("An individual's code is required."))
    found = catalogue.leopard_lookup(request.user, code)
    if found.leopard is None and found.redirect_to:
        found = catalogue.leopard_lookup(request.user, found.redirect_to)
    if found.leopard is None:
        raise NotFound(_("No individual %(code)s in your parks.") % {"code": code})
    return found.leopard


def _disclose_event(request: Request, event: Any) -> None:
    candidates = [
        c for photo in event.photos.all() for x in photo.sightings.all() for c in x.candidates.all()
    ]
    catalogue.candidates_disclose(request.user, candidates)


class ReviewEventViewSet(RefusalMixin, viewsets.ReadOnlyModelViewSet):
    """The review queue (oldest first) and one event with photos, boxes and candidates."""

    permission_classes = [IsAuthenticated, CanReview]
    filterset_fields: list[str] = []

    def get_queryset(self):
        params = self.request.query_params
        filters = review.QueueFilters(
            park_id=_int(params.get("park")),
            station_id=_int(params.get("station")),
            date_from=_date(params.get("date_from")),
            date_to=_date(params.get("date_to")),
            status=params.get("status") or None,
        )
        if self.action == "list":
            return review.review_queue(self.request.user, filters)
        return review.events_for_user(self.request.user).select_related(
            "deployment__station__park", "claimed_by", "review"
        )

    def get_serializer_class(self):
        return (
            s.ReviewEventDetailSerializer if self.action == "retrieve" else s.ReviewEventSerializer
        )

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        try:
            event = review.event_for_review(request.user, int(pk))
        except (ValueError, review.Event.DoesNotExist) as exc:
            raise Http404 from exc
        _disclose_event(request, event)
        return Response(s.ReviewEventDetailSerializer(event).data)

    def _event(self, pk: str | None):
        return get_object_or_404(review.events_for_user(self.request.user), pk=pk)

    def _detail(self, pk: int) -> Response:
        event = review.event_for_review(self.request.user, pk)
        _disclose_event(self.request, event)
        return Response(s.ReviewEventDetailSerializer(event).data)

    @extend_schema(request=None, responses={200: s.ReviewEventDetailSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str | None = None) -> Response:
        """Claim the event so that no one else reviews it meanwhile."""
        event = self._event(pk)
        _run(lambda: review_services.event_claim(event_id=event.pk, user=request.user))
        return self._detail(event.pk)

    @extend_schema(request=None, responses={200: s.ReviewEventSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        """Give the event back to the queue."""
        event = self._event(pk)
        event = review_services.event_release(event_id=event.pk, user=request.user)
        return Response(s.ReviewEventSerializer(event).data)

    @extend_schema(
        request=s.ClassifySerializer, responses={200: s.ReviewEventSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def classify(self, request: Request, pk: str | None = None) -> Response:
        """Say what the event shows: blank, other_species (and which), human, vehicle, leopard."""
        event = self._event(pk)
        body = s.ClassifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _run(
            lambda: review_services.event_classify(
                event_id=event.pk,
                user=request.user,
                content=body.validated_data["content"],
                species_id=body.validated_data.get("species"),
                expected_version=body.validated_data["version"],
            )
        )
        event.refresh_from_db()
        return Response(s.ReviewEventSerializer(event).data)

    @extend_schema(
        request=s.VersionSerializer, responses={200: s.ReviewEventSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def finish(self, request: Request, pk: str | None = None) -> Response:
        """Mark the event reviewed once every box is decided."""
        event = self._event(pk)
        body = s.VersionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _run(
            lambda: review_services.event_finish(
                event_id=event.pk,
                user=request.user,
                expected_version=body.validated_data["version"],
            )
        )
        event.refresh_from_db()
        return Response(s.ReviewEventSerializer(event).data)


class SightingViewSet(RefusalMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Sightings (boxes) in the user's parks: draw, adjust and identify them."""

    permission_classes = [IsAuthenticated, CanReview]
    serializer_class = s.SightingSerializer
    filterset_class = SightingFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return (
            catalogue.visible_sightings(self.request.user)
            .select_related("photo", "leopard")
            .prefetch_related(Prefetch("candidates", queryset=review._candidates()))
            .order_by("pk")
        )

    def get_serializer_class(self):
        return s.ReviewSightingSerializer if self.action == "retrieve" else s.SightingSerializer

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        sighting = self.get_object()
        catalogue.candidates_disclose(request.user, sighting.candidates.all())
        return Response(s.ReviewSightingSerializer(sighting).data)

    @extend_schema(
        request=s.SightingDrawSerializer, responses={201: s.SightingSerializer, **WRITE_ERRORS}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Draw a box (relative 0-1) around a leopard in a photo; the matcher ranks it next."""
        body = s.SightingDrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        photo = get_object_or_404(
            review.Photo.objects.filter(deployment__station__park__in=parks_for_user(request.user)),
            pk=data["photo"],
        )
        sighting = _run(
            lambda: review_services.sighting_draw(
                photo_id=photo.pk,
                user=request.user,
                box=review_services.Box(
                    data["bbox_x"], data["bbox_y"], data["bbox_w"], data["bbox_h"]
                ),
                flank=data["flank"],
                observed_age_class=data["observed_age_class"],
            )
        )
        return Response(s.SightingSerializer(sighting).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SightingAdjustSerializer, responses={200: s.SightingSerializer, **WRITE_ERRORS}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Move or resize the box, or set its flank or observed age class (send the version)."""
        sighting = self.get_object()
        body = s.SightingAdjustSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        box = None
        if all(k in data for k in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")):
            box = review_services.Box(
                data["bbox_x"], data["bbox_y"], data["bbox_w"], data["bbox_h"]
            )
        result = _run(
            lambda: review_services.sighting_adjust(
                sighting_id=sighting.pk,
                user=request.user,
                expected_version=data["version"],
                box=box,
                flank=data.get("flank"),
                observed_age_class=data.get("observed_age_class"),
            )
        )
        return Response(s.SightingSerializer(result).data)

    def _identify(
        self, request: Request, pk: str | None, write: Callable[..., Sighting], **extra: Any
    ) -> Response:
        sighting = self.get_object()
        body = s.IdentifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = _run(
            lambda: write(
                sighting_id=sighting.pk,
                user=request.user,
                expected_version=data["version"],
                **{key: value(data) for key, value in extra.items()},
            )
        )
        result = self.get_queryset().get(pk=result.pk)
        return Response(s.SightingSerializer(result).data)

    @extend_schema(
        request=s.IdentifySerializer, responses={200: s.SightingSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        """Confirm the sighting as an individual: its code, or one of its candidates' ids.

        Against the matcher's advice (probably a new individual, or a probability below the
        registry's minimum) it takes "override": true, is recorded and always checked blind.
        """
        leopard_id = _leopard_or_candidate(request, self.get_object())
        return self._identify(
            request,
            pk,
            identification.sighting_confirm,
            leopard_id=lambda d: leopard_id,
            reason=lambda d: d["reason"],
            observed_age_class=lambda d: d.get("observed_age_class"),
            override=lambda d: d["override"],
        )

    @extend_schema(
        request=s.IdentifySerializer, responses={200: s.SightingSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"], url_path="new-individual")
    def new_individual(self, request: Request, pk: str | None = None) -> Response:
        """Create a new individual (the next free code) from this sighting."""
        return self._identify(
            request,
            pk,
            identification.sighting_create_individual,
            sex=lambda d: d["sex"],
            name=lambda d: d["name"],
            reason=lambda d: d["reason"],
            observed_age_class=lambda d: d.get("observed_age_class"),
        )

    @extend_schema(
        request=s.IdentifySerializer, responses={200: s.SightingSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def unidentifiable(self, request: Request, pk: str | None = None) -> Response:
        """Record that the photo does not show enough of the pattern."""
        return self._identify(
            request,
            pk,
            identification.sighting_mark_unidentifiable,
            reason=lambda d: d["reason"],
            observed_age_class=lambda d: d.get("observed_age_class"),
        )

    @extend_schema(
        request=s.IdentifySerializer, responses={200: s.SightingSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def unconfirm(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw the identification; the sighting waits for a decision again."""
        return self._identify(
            request, pk, identification.sighting_unconfirm, reason=lambda d: d["reason"]
        )

    @extend_schema(
        request=s.VersionSerializer, responses={200: s.SightingSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, pk: str | None = None) -> Response:
        """Reject a box that shows no leopard."""
        return self._identify(request, pk, review_services.sighting_remove)


def _leopard_or_candidate(request: Request, sighting: Sighting) -> int:
    """Return the id of the individual named by a candidate's id or by a code the user sees."""
    body = s.CandidateChoiceSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    candidate_id = body.validated_data.get("candidate")
    if candidate_id is not None:
        # A candidate from another park has no code the user may know: its own id names it.
        candidate = sighting.candidates.filter(pk=candidate_id).first()
        if candidate is None:
            raise NotFound(_("No such candidate for this sighting."))
        return candidate.leopard_id
    return _leopard_by_code(request, body.validated_data.get("leopard")).pk


class MatchCandidateViewSet(viewsets.ReadOnlyModelViewSet):
    """Ranked candidate individuals that the matcher proposed for sightings in the user's parks."""

    permission_classes = [IsAuthenticated, CanReview]
    serializer_class = s.CandidateSerializer
    filterset_class = CandidateFilter

    def get_queryset(self):
        return (
            review._candidates()
            .filter(sighting__in=catalogue.visible_sightings(self.request.user))
            .order_by("sighting_id", "rank")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = list(self.paginate_queryset(self.filter_queryset(self.get_queryset())))
        catalogue.candidates_disclose(request.user, page)
        return self.get_paginated_response(s.CandidateSerializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        candidate = self.get_object()
        catalogue.candidates_disclose(request.user, [candidate])
        return Response(s.CandidateSerializer(candidate).data)


class LeopardViewSet(RefusalMixin, viewsets.ReadOnlyModelViewSet):
    """Individuals seen in the user's parks; scientists edit, merge, split and link flanks."""

    permission_classes = [IsAuthenticated, CanReview]
    read_roles_allowed = True
    serializer_class = s.LeopardSerializer
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    filterset_fields: list[str] = []
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        params = self.request.query_params
        filters = catalogue.CatalogueFilters(
            q=params.get("q", ""),
            park_id=_int(params.get("park")),
            sex=params.get("sex", ""),
            age_class=params.get("age_class", ""),
            status=params.get("status", ""),
            seen_since=_date(params.get("seen_since")),
            provisional=params.get("provisional") in ("1", "true"),
        )
        return catalogue.leopard_catalogue(self.request.user, filters)

    def get_object(self) -> Leopard:
        return _leopard_by_code(self.request, self.kwargs["code"])

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = list(self.paginate_queryset(self.get_queryset()))
        catalogue.catalogue_figures(request.user, page)
        return self.get_paginated_response(s.LeopardSerializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        leopard = self.get_object()
        catalogue.catalogue_figures(request.user, [leopard])
        return Response(s.LeopardSerializer(leopard).data)

    @extend_schema(
        request=s.LeopardUpdateSerializer, responses={200: s.LeopardSerializer, **WRITE_ERRORS}
    )
    def partial_update(self, request: Request, code: str | None = None) -> Response:
        """Edit name, sex, birth estimate, status, notes or mother; send the version and why."""
        leopard = self.get_object()
        body = s.LeopardUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if "version" not in data:
            # A partial update skips required fields: the version is required all the same.
            raise ValidationError({"version": [VERSION_REQUIRED]})
        version = data.pop("version")
        reason = data.pop("reason", "")
        mother = data.pop("mother", ...)
        if data:
            leopard = _run(
                lambda: catalogue_edits.leopard_update(
                    leopard_id=leopard.pk,
                    user=request.user,
                    expected_version=version,
                    changes=data,
                    reason=reason,
                )
            )
            version = leopard.version
        if mother is not ...:
            mother_id = _leopard_by_code(request, mother).pk if mother else None
            leopard = _run(
                lambda: catalogue_edits.leopard_set_mother(
                    kitten_id=leopard.pk,
                    mother_id=mother_id,
                    user=request.user,
                    expected_version=version,
                    reason=reason,
                )
            )
        leopard = Leopard.objects.get(pk=leopard.pk)
        catalogue.catalogue_figures(request.user, [leopard])
        return Response(s.LeopardSerializer(leopard).data)

    @extend_schema(
        request=s.MergeSerializer, responses={200: s.CatalogueChangeSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, code: str | None = None) -> Response:
        """Merge another record into this one; its code stays as an alias."""
        survivor = self.get_object()
        body = s.MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        other = _leopard_by_code(request, body.validated_data["other"])
        change = _run(
            lambda: catalogue_edits.leopard_merge(
                survivor_id=survivor.pk,
                absorbed_id=other.pk,
                user=request.user,
                reason=body.validated_data["reason"],
                expected_versions=(body.validated_data["version"], None),
            )
        )
        return Response(s.CatalogueChangeSerializer(change).data)

    @extend_schema(
        request=s.SplitSerializer, responses={200: s.CatalogueChangeSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def split(self, request: Request, code: str | None = None) -> Response:
        """Move sightings off this individual to a new one or to the target code."""
        source = self.get_object()
        body = s.SplitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        target = _leopard_by_code(request, data["target"]) if data["target"] else None
        change = _run(
            lambda: catalogue_edits.leopard_split(
                leopard_id=source.pk,
                sighting_ids=data["sightings"],
                target_id=target.pk if target else None,
                sex=data["sex"],
                user=request.user,
                reason=data["reason"],
                expected_version=data["version"],
            )
        )
        return Response(s.CatalogueChangeSerializer(change).data)

    @extend_schema(responses=s.CatalogueChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def changes(self, request: Request, code: str | None = None) -> Response:
        """The audit trail of this individual, newest first."""
        leopard = self.get_object()
        return Response(
            s.CatalogueChangeSerializer(
                catalogue.recent_changes(request.user, leopard)[:500], many=True
            ).data
        )

    @extend_schema(
        request=s.FlankLinkSerializer, responses={200: s.CatalogueChangeSerializer, **WRITE_ERRORS}
    )
    @action(detail=False, methods=["post"], url_path="link-flanks")
    def link_flanks(self, request: Request) -> Response:
        """Link a left-only and a right-only record shown together by a paired-camera photo pair."""
        body = s.FlankLinkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        visible = catalogue.visible_sightings(request.user)
        for key in ("left", "right"):
            get_object_or_404(visible, pk=body.validated_data[key])
        change = _run(
            lambda: catalogue_edits.leopard_link_flanks(
                left_sighting_id=body.validated_data["left"],
                right_sighting_id=body.validated_data["right"],
                user=request.user,
                reason=body.validated_data["reason"],
            )
        )
        return Response(s.CatalogueChangeSerializer(change).data)


class CatalogueChangeViewSet(RefusalMixin, viewsets.ReadOnlyModelViewSet):
    """The audit trail of identifications, edits, merges and splits; undo merges and splits."""

    permission_classes = [IsAuthenticated, CanReview]
    read_roles_allowed = True
    serializer_class = s.CatalogueChangeSerializer
    filterset_class = CatalogueChangeFilter

    def get_queryset(self):
        return (
            catalogue.catalogue_changes_for_user(self.request.user)
            .select_related("user")
            .prefetch_related("leopards")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(
        request=s.UndoSerializer, responses={200: s.CatalogueChangeSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        """Undo a merge, flank link or split exactly."""
        change = self.get_object()
        body = s.UndoSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        undo = _run(
            lambda: catalogue_edits.change_undo(
                change_id=change.pk, user=request.user, reason=body.validated_data["reason"]
            )
        )
        return Response(s.CatalogueChangeSerializer(undo).data)


class SecondOpinionViewSet(RefusalMixin, viewsets.ReadOnlyModelViewSet):
    """Blind checks waiting for this scientist (never their own), and the agreement rates."""

    permission_classes = [IsAuthenticated, CanReview]
    serializer_class = s.SecondOpinionSerializer
    filterset_fields: list[str] = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SecondOpinion.objects.none()
        return second_opinion.second_opinion_queue(self.request.user).prefetch_related(
            Prefetch("sighting__candidates", queryset=review._candidates())
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = list(self.paginate_queryset(self.get_queryset()))
        catalogue.candidates_disclose(
            request.user, [c for opinion in page for c in opinion.sighting.candidates.all()]
        )
        return self.get_paginated_response(s.SecondOpinionSerializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        opinion = self.get_object()
        catalogue.candidates_disclose(request.user, opinion.sighting.candidates.all())
        return Response(s.SecondOpinionSerializer(opinion).data)

    @extend_schema(
        request=s.SecondOpinionAnswerSerializer,
        responses={200: s.SecondOpinionSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def answer(self, request: Request, pk: str | None = None) -> Response:
        """Answer blind: an individual's code, new, or unidentifiable."""
        opinion = self.get_object()
        body = s.SecondOpinionAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        leopard_id = None
        if body.validated_data["answer"] == SecondOpinion.Answer.LEOPARD:
            leopard_id = _leopard_or_candidate(request, opinion.sighting)
        result = _run(
            lambda: blind.second_opinion_answer(
                opinion_id=opinion.pk,
                user=request.user,
                answer=body.validated_data["answer"],
                leopard_id=leopard_id,
            )
        )
        return Response({"id": result.pk, "status": result.status})

    @extend_schema(responses=s.AgreementSerializer)
    @action(detail=False, methods=["get"])
    def agreement(self, request: Request) -> Response:
        """Agreement of blind checks overall and per scientist."""
        rates = second_opinion.agreement_rates(parks=parks_for_user(request.user))
        return Response(s.AgreementSerializer(rates).data)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _date(value: str | None):
    from datetime import date

    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    # A day outside the registry's years bounds nothing, like an unreadable one.
    return day if day_in_range(day) else None
