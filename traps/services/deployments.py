"""Writes for deployments: the clock offset and the times that follow from it."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q, Value
from django.utils import timezone

from traps import images
from traps.models import Deployment, Photo
from traps.services.events import events_rebuild


class DeploymentChanged(Exception):
    """Someone else saved the deployment since it was loaded."""

    def __init__(self, deployment: Deployment) -> None:
        super().__init__("The deployment was changed by someone else; reload it.")
        self.deployment = deployment


@transaction.atomic
def deployment_set_clock_offset(
    *, deployment_id: int, clock_offset: timedelta, expected_version: int | None = None
) -> Deployment:
    """Change a camera's clock offset, then recompute its photos' times and events.

    expected_version is the version the editor loaded: if someone saved the
    deployment since, DeploymentChanged is raised and nothing changes.
    """
    deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
    if expected_version is not None and deployment.version != expected_version:
        raise DeploymentChanged(deployment)
    if deployment.clock_offset == clock_offset:
        return deployment
    deployment.clock_offset = clock_offset
    # The row is locked, so a plain increment is safe (and history records a
    # number, not an expression).
    deployment.version += 1
    deployment.save(update_fields=["clock_offset", "version"])
    photos_retime(deployment=deployment)
    return deployment


@transaction.atomic
def photos_retime(*, deployment: Deployment) -> None:
    """Recompute the corrected time, time problem, outside flag and events of a deployment."""
    photos = Photo.objects.filter(deployment=deployment, camera_time__isnull=False)
    photos.update(
        taken_at=F("camera_time") + Value(deployment.clock_offset),
        time_problem=Photo.TimeProblem.NONE,
    )
    latest = timezone.now() + timedelta(days=1)
    photos.filter(Q(taken_at__lt=images.EARLIEST_PLAUSIBLE) | Q(taken_at__gt=latest)).update(
        taken_at=None, time_problem=Photo.TimeProblem.IMPLAUSIBLE
    )
    photos_flag_outside(deployment=deployment)
    events_rebuild(deployment_id=deployment.pk)


def photos_flag_outside(*, deployment: Deployment) -> int:
    """Recompute which photos of a deployment fall outside its dates; return how many do."""
    photos = Photo.objects.filter(deployment=deployment)
    outside = Q(taken_at__lt=deployment.start)
    if deployment.end is not None:
        outside |= Q(taken_at__gt=deployment.end)
    photos.exclude(outside).filter(outside_deployment=True).update(outside_deployment=False)
    return photos.filter(outside).update(outside_deployment=True)
