"""Database constraints hold even for writes that bypass the services."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from leopards.models import Leopard, MatchCandidate, Sighting
from tests.factories import (
    DeploymentFactory,
    LeopardFactory,
    ParkFactory,
    PhotoFactory,
    SightingFactory,
    StationFactory,
)
from traps.models import Deployment, MalfunctionPeriod, Park, Photo, Station

pytestmark = pytest.mark.django_db


def _fails(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_rejects_park_without_positive_area():
    _fails(lambda: Park.objects.create(code="x", name="X", country="RU", area_km2=Decimal("0")))


def test_rejects_station_outside_the_globe():
    park = ParkFactory()
    _fails(lambda: Station.objects.create(park=park, code="A", latitude=91, longitude=10))
    _fails(lambda: Station.objects.create(park=park, code="B", latitude=10, longitude=-181))


def test_rejects_two_stations_with_one_code_in_a_park_but_allows_it_across_parks():
    station = StationFactory(code="S-1")
    _fails(lambda: StationFactory(code="S-1", park=station.park))
    assert StationFactory(code="S-1").park != station.park


def test_rejects_deployment_that_ends_before_it_starts():
    start = datetime(2024, 3, 1, tzinfo=UTC)
    _fails(lambda: DeploymentFactory(start=start, end=start - timedelta(days=1)))
    assert DeploymentFactory(start=start, end=None).end is None


def test_rejects_malfunction_period_that_ends_before_it_starts():
    deployment = DeploymentFactory()
    _fails(
        lambda: MalfunctionPeriod.objects.create(
            deployment=deployment,
            start=datetime(2024, 5, 2).date(),
            end=datetime(2024, 5, 1).date(),
        )
    )


def test_rejects_second_photo_with_the_same_hash():
    photo = PhotoFactory()
    _fails(lambda: PhotoFactory(sha256=photo.sha256))
    assert Photo.objects.count() == 1


def test_rejects_photo_hash_that_is_not_sha256_hex():
    _fails(lambda: PhotoFactory(sha256="not-a-hash"))


def test_rejects_duplicate_leopard_code_and_empty_code():
    LeopardFactory(code="LEO-112F")
    _fails(lambda: LeopardFactory(code="LEO-112F"))
    _fails(lambda: LeopardFactory(code=""))


def test_rejects_leopard_as_its_own_mother():
    leopard = LeopardFactory()
    leopard.mother_id = leopard.pk
    _fails(lambda: leopard.save())
    assert Leopard.objects.get(pk=leopard.pk).mother_id is None


def test_rejects_box_outside_the_photo():
    _fails(lambda: SightingFactory(bbox_x=1.2))
    _fails(lambda: SightingFactory(bbox_w=0))


def test_allows_sighting_without_box_but_not_half_a_box():
    assert SightingFactory(bbox_x=None, bbox_y=None, bbox_w=None, bbox_h=None).has_box is False
    _fails(lambda: SightingFactory(bbox_x=None))


def test_rejects_confirmed_sighting_without_individual():
    _fails(lambda: SightingFactory(leopard=None, status=Sighting.Status.CONFIRMED))
    assert SightingFactory(leopard=None, status=Sighting.Status.PROPOSED).leopard is None


def test_rejects_two_candidates_at_one_rank_or_one_leopard_twice():
    sighting = SightingFactory()
    a, b = LeopardFactory(), LeopardFactory()
    MatchCandidate.objects.create(sighting=sighting, leopard=a, rank=1, score=10)
    _fails(lambda: MatchCandidate.objects.create(sighting=sighting, leopard=b, rank=1, score=5))
    _fails(lambda: MatchCandidate.objects.create(sighting=sighting, leopard=a, rank=2, score=5))
    _fails(lambda: MatchCandidate.objects.create(sighting=sighting, leopard=b, rank=0, score=5))
    _fails(
        lambda: MatchCandidate.objects.create(
            sighting=sighting, leopard=b, rank=2, score=5, probability=1.5
        )
    )


def test_keeps_photos_when_someone_tries_to_delete_their_deployment():
    photo = PhotoFactory()
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        Deployment.objects.filter(pk=photo.deployment_id).delete()
    assert Photo.objects.filter(pk=photo.pk).exists()
