"""Writes for deployments, photos and events; views, the API, tasks and commands call these."""

from traps.images import PhotoRejected
from traps.services.deployments import (
    DeploymentChanged,
    deployment_set_clock_offset,
    photos_flag_outside,
    photos_retime,
)
from traps.services.events import event_place, events_rebuild
from traps.services.photos import (
    ReceiveResult,
    photo_mark_failed,
    photo_process,
    photo_receive,
    photo_retry,
    photos_requeue_stuck,
)

__all__ = [
    "DeploymentChanged",
    "PhotoRejected",
    "ReceiveResult",
    "deployment_set_clock_offset",
    "event_place",
    "events_rebuild",
    "photo_mark_failed",
    "photo_process",
    "photo_receive",
    "photo_retry",
    "photos_flag_outside",
    "photos_requeue_stuck",
    "photos_retime",
]
