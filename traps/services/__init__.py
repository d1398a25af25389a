"""Writes for deployments, photos and events; views, the API, tasks and commands call these."""

from traps.images import PhotoRejected
from traps.services.catalogue import (
    deployment_create,
    deployment_update,
    park_create,
    park_update,
    station_create,
    station_update,
)
from traps.services.deployments import (
    DeploymentChanged,
    deployment_set_clock_offset,
    photos_flag_outside,
    photos_retime,
)
from traps.services.events import event_place, events_place, events_rebuild, photos_delete
from traps.services.photos import (
    ReceiveResult,
    photo_mark_failed,
    photo_process,
    photo_receive,
    photo_retry,
    photos_requeue_stuck,
    upload_time_outside,
)

__all__ = [
    "DeploymentChanged",
    "PhotoRejected",
    "ReceiveResult",
    "deployment_create",
    "deployment_set_clock_offset",
    "deployment_update",
    "event_place",
    "events_place",
    "events_rebuild",
    "park_create",
    "park_update",
    "photo_mark_failed",
    "photo_process",
    "photo_receive",
    "photo_retry",
    "photos_delete",
    "photos_flag_outside",
    "photos_requeue_stuck",
    "photos_retime",
    "station_create",
    "station_update",
    "upload_time_outside",
]
