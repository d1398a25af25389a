"""Builders shared by the review, catalogue and second-opinion tests."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from leopards.models import Flank, Leopard, MatchCandidate, Sighting
from tests.factories import (
    DeploymentFactory,
    LeopardFactory,
    PhotoFactory,
    SightingFactory,
    StationFactory,
)
from traps.models import Event, Park, Station

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class ReviewEvent:
    event: Event
    photos: list
    sightings: list[Sighting]


def station_in(park: Park, **kwargs) -> Station:
    return StationFactory(park=park, **kwargs)


def make_event(
    park: Park,
    *,
    photos: int = 2,
    sightings_per_photo: int = 1,
    station: Station | None = None,
    start: datetime = START,
    candidates: list[Leopard] | None = None,
) -> ReviewEvent:
    """An event waiting for review: photos with proposed boxes, each with ranked candidates."""
    deployment = DeploymentFactory(station=station or station_in(park))
    event = Event.objects.create(
        deployment=deployment, start=start, end=start + timedelta(minutes=photos)
    )
    made_photos, made_sightings = [], []
    for i in range(photos):
        photo = PhotoFactory(
            deployment=deployment, event=event, taken_at=start + timedelta(minutes=i)
        )
        made_photos.append(photo)
        for j in range(sightings_per_photo):
            sighting = SightingFactory(
                photo=photo,
                leopard=None,
                status=Sighting.Status.PROPOSED,
                flank=Flank.LEFT,
                bbox_x=0.1 + 0.4 * j,
                bbox_w=0.35,
            )
            made_sightings.append(sighting)
            for rank, leopard in enumerate(candidates or [], start=1):
                MatchCandidate.objects.create(
                    sighting=sighting,
                    leopard=leopard,
                    rank=rank,
                    score=50.0 / rank,
                    probability=0.9 / rank,
                    matches=[[0.2, 0.3, 0.25, 0.35], [0.4, 0.5, 0.45, 0.55]],
                )
    return ReviewEvent(event=event, photos=made_photos, sightings=made_sightings)


def known_leopard(park: Park, *, flank: str = Flank.LEFT, code: str | None = None, **kwargs):
    """An individual with one confirmed sighting in the park (so members of the park see it)."""
    leopard = LeopardFactory(**({"code": code} if code else {}), **kwargs)
    deployment = DeploymentFactory(station=station_in(park))
    photo = PhotoFactory(deployment=deployment)
    SightingFactory(photo=photo, leopard=leopard, flank=flank)
    return leopard
