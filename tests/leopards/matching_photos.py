"""Stored photos of synthetic leopards, and sightings of them, for the matcher's registry tests."""

import hashlib
import io

from django.core.files.base import ContentFile
from PIL import Image

from leopards.models import Flank, Leopard, Sighting
from leopards.synthetic import render_photo
from tests.factories import PhotoFactory, SightingFactory
from traps.models import Deployment, Photo

SIZE = (560, 392)


def stored_photo(image: Image.Image, deployment: Deployment | None = None, **fields) -> Photo:
    """Store a JPEG of the image in the default storage as an ingested photo."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    data = out.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    if deployment is not None:
        fields["deployment"] = deployment
    photo = PhotoFactory(
        sha256=sha, file="", width=image.width, height=image.height, size_bytes=len(data), **fields
    )
    photo.file.save(f"{sha}.jpg", ContentFile(data), save=True)
    return photo


def leopard_sighting(
    individual: int,
    flank: str,
    shot: int,
    *,
    leopard: Leopard | None,
    status: str = Sighting.Status.CONFIRMED,
    drawn_flank: str | None = None,
    deployment: Deployment | None = None,
    **fields,
) -> Sighting:
    """A sighting of a synthetic individual's flank: photo rendered, box around the animal.

    drawn_flank renders another flank than the one recorded, to catch a matcher
    that ignores the recorded flank.
    """
    rendered = render_photo(individual, drawn_flank or flank, shot, image_size=SIZE)
    photo = stored_photo(Image.fromarray(rendered.image), deployment, **fields)
    width, height = SIZE
    x, y, w, h = rendered.bbox
    return SightingFactory(
        photo=photo,
        leopard=leopard,
        status=status,
        flank=flank if flank in Flank.values else Flank.UNKNOWN,
        bbox_x=x / width,
        bbox_y=y / height,
        bbox_w=min(w / width, 1 - x / width),
        bbox_h=min(h / height, 1 - y / height),
    )
