"""The crop of one sighting's box, for side-by-side comparison with candidates."""

import hashlib
import io

from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET
from PIL import Image

from leopards.models import Sighting
from leopards.permissions import can_review
from traps.selectors import parks_for_user

MAX_SIDE = 960


def _crop_queryset(request: HttpRequest):
    mine = Q(photo__deployment__station__park__in=parks_for_user(request.user))
    if can_review(request.user):
        # A candidate's reference may come from a park across the border: its crop shows
        # only the coat pattern, never the place or the time, so every reviewer may see it.
        mine |= Q(status=Sighting.Status.CONFIRMED)
    return Sighting.objects.filter(mine, bbox_x__isnull=False).select_related("photo")


@require_GET
def sighting_crop(request: HttpRequest, pk: int) -> HttpResponse:
    """Serve the box of a sighting as a JPEG (at most MAX_SIDE pixels on its long side)."""
    sighting = get_object_or_404(_crop_queryset(request), pk=pk)
    try:
        side = min(MAX_SIDE, max(64, int(request.GET.get("size", 480))))
    except ValueError:
        side = 480
    photo = sighting.photo
    box = (sighting.bbox_x, sighting.bbox_y, sighting.bbox_w, sighting.bbox_h)
    # Hashed, not the photo's hash in clear: the crop is shown across the border, the hash is not.
    etag = '"{}"'.format(hashlib.sha256(f"{photo.sha256}:{box}:{side}".encode()).hexdigest()[:32])
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponse = HttpResponseNotModified()
    else:
        try:
            handle = default_storage.open(photo.file.name, "rb")
        except (FileNotFoundError, ValueError) as exc:
            raise Http404 from exc
        with handle, Image.open(handle) as image:
            width, height = image.size
            x, y, w, h = (
                box[0] * width,
                box[1] * height,
                box[2] * width,
                box[3] * height,
            )
            # Decode a JPEG at a reduced scale when the crop is much larger than needed.
            scale = max(1, int(max(w, h) // side))
            image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
            factor = width / image.size[0]
            crop = image.convert("RGB").crop(
                (
                    int(x / factor),
                    int(y / factor),
                    int((x + w) / factor),
                    int((y + h) / factor),
                )
            )
        crop.thumbnail((side, side))
        out = io.BytesIO()
        crop.save(out, "JPEG", quality=85)
        response = HttpResponse(out.getvalue(), content_type="image/jpeg")
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=86400"
    return response
