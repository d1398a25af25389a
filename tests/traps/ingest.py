"""Put test photos through the real receive and process services."""

import io
from datetime import datetime

from tests.factories import jpeg_bytes
from traps import services
from traps.models import Deployment, Photo

_seed = iter(range(10_000, 10**9))


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
