"""Put test photos through the real receive and process services."""

import io
from datetime import datetime, timedelta

from tests.factories import jpeg_bytes
from traps import services
from traps.models import Deployment, Event, Photo

_seed = iter(range(10_000, 10**9))

# A night at a camera: photos are given as minutes after it.
T0 = datetime(2024, 5, 1, 20, 0, 0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event_groups(deployment: Deployment) -> list[list[str]]:
    """Each event's photo names, events in time order."""
    return [
        [p.original_name for p in event.photos.order_by("taken_at")]
        for event in Event.objects.filter(deployment=deployment).order_by("start")
    ]


def ingest(
    deployment: Deployment,
    taken: datetime | None,
    *,
    name: str = "",
    serial: str = "CAM41146",
    data: bytes | None = None,
) -> Photo:
    """Receive and process one photo taken at this camera time (naive, local)."""
    photo = receive(deployment, taken, name=name, serial=serial, data=data)
    return services.photo_process(photo_id=photo.pk)


def receive(
    deployment: Deployment,
    taken: datetime | None,
    *,
    name: str = "",
    serial: str = "CAM41146",
    data: bytes | None = None,
) -> Photo:
    """Receive one photo taken at this camera time and leave it waiting for processing."""
    seed = next(_seed)
    if data is None:
        data = jpeg_bytes(size=(64, 48), taken=taken, serial=serial, seed=seed)
    result = services.photo_receive(
        deployment=deployment, fileobj=io.BytesIO(data), original_name=name or f"IMG_{seed}.JPG"
    )
    return result.photo
