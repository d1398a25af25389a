"""The crop of one sighting's box, for side-by-side comparison with candidates."""

import hashlib
import io

from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET
from PIL import Image

from leopards.selectors.catalogue import visible_sightings

MAX_SIDE = 960


def _crop_queryset(request: HttpRequest):
    # The photo's own rule: a crop is part of the photo, so whoever may not open the photo
    # gets the same 404 for its crops (a reference from another park included).
    return visible_sightings(request.user).filter(bbox_x__isnull=False).select_related("photo")


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
    # Hashed, not the photo's hash in clear: the ETag must not name the stored file.
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
