"""Review work for the demo landscape: new photo events with boxes waiting for a scientist.

The demo (demo/landscape.py) fills the catalogue with confirmed sightings; this adds a
few events after them in which the matcher has ranked candidates, so that the review
page has something to show: a known cat, a mother with her kitten, a newcomer and a
blank event.
"""

import io
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count
from PIL import Image

from demo.landscape import individual_seed
from demo.photos import PHOTO_SIZE, exif_jpeg
from leopards.models import Flank, Leopard, Sighting
from traps.models import Deployment, Photo, Station
from traps.services import photo_receive

# (which known cats by rank of how often they were seen, or None for a newcomer; flank;
# photos in the event)
SCENES: list[tuple[list[int | None], str, int]] = [
    ([0], Flank.LEFT, 2),
    ([1], Flank.RIGHT, 1),
    ([None], Flank.LEFT, 1),
    ([2], Flank.LEFT, 2),
    ([], Flank.UNKNOWN, 1),
]
NEWCOMER_SEED = 97


def review_demo_build(*, log: Callable[[str], None] = print) -> int:
    """Add the demo's review events (idempotent: a second run adds nothing); return sightings."""
    from leopards.services import matching

    # The park's most photographed cats come back.
    regulars = list(
        Leopard.objects.filter(
            sightings__photo__deployment__station__park__code="lotl",
            sightings__status=Sighting.Status.CONFIRMED,
        )
        .annotate(seen=Count("sightings"))
        .order_by("-seen", "code")
        .values_list("code", flat=True)[:3]
    )
    seeds = {rank: individual_seed(code) for rank, code in enumerate(regulars)}
    station = Station.objects.filter(park__code="lotl").order_by("code").first()
    if station is None:
        log("  no demo park: run seed_demo first")
        return 0
    deployment = (
        Deployment.objects.filter(station__park__code="lotl", end__isnull=True)
        .order_by("station__code")
        .first()
    )
    if deployment is None:
        return 0
    start = datetime(2026, 10, 2, 21, 0, tzinfo=deployment.station.park.tzinfo)
    created: list[int] = []
    for number, (codes, flank, photos) in enumerate(SCENES):
        when = start + timedelta(days=number * 3)
        for shot in range(photos):
            name = f"REVIEW_{number:02d}_{shot}.JPG"
            if Photo.objects.filter(original_name=name).exists():
                continue
            created += _photo(deployment, name, when + timedelta(seconds=20 * shot), codes,
                              flank, seeds, number * 10 + shot)  # fmt: skip
    log(f"  {len(created)} review boxes added; ranking candidates")
    if created:
        matching.match_index_rebuild(extract_missing=True)
        for pk in created:
            matching.sighting_match(sighting_id=pk)
    return len(created)


def _photo(deployment, name, when, codes, flank, seeds, photo_seed) -> list[int]:
    from leopards.synthetic import render_photo

    if not codes:
        image = Image.new("RGB", PHOTO_SIZE, (64, 72, 58))
        boxes = []
    else:
        rendered = [
            render_photo(
                seeds.get(code, NEWCOMER_SEED) if code is not None else NEWCOMER_SEED,
                flank,
                500 + photo_seed,
                image_size=PHOTO_SIZE,
                station_seed=deployment.station_id,
            )
            for code in codes
        ]
        image = Image.fromarray(rendered[0].image)
        boxes = [r.bbox for r in rendered]
    local = when.astimezone(deployment.station.park.tzinfo).replace(tzinfo=None)
    data = exif_jpeg(image, local, deployment.camera_serial)
    with transaction.atomic():
        photo = photo_receive(
            deployment=deployment, fileobj=io.BytesIO(data), original_name=name
        ).photo
        width, height = PHOTO_SIZE
        made = []
        for x, y, w, h in boxes:
            made.append(
                Sighting.objects.create(
                    photo=photo,
                    bbox_x=x / width,
                    bbox_y=y / height,
                    bbox_w=min(w / width, 1 - x / width),
                    bbox_h=min(h / height, 1 - y / height),
                    flank=flank,
                    status=Sighting.Status.PROPOSED,
                    source=Sighting.Source.DETECTOR,
                ).pk
            )
    return made
