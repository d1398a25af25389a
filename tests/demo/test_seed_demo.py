"""The demo landscape is believable and building it twice changes nothing."""

import io

import pytest
from django.core.management import call_command

from leopards.models import Leopard, MatchIndexEntry, Sighting
from traps.models import Deployment, Event, Park, Photo, Station

pytestmark = pytest.mark.django_db(transaction=True)


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Park, Station, Deployment, Leopard, Photo, Event, Sighting)
    }


def test_seed_demo_builds_the_landscape_and_a_second_run_changes_nothing():
    call_command("seed_demo", stdout=io.StringIO())
    first = _counts()
    assert first["Park"] == 3
    assert 55 <= first["Station"] <= 65
    assert 35 <= first["Leopard"] <= 45
    assert first["Photo"] > 200
    assert Photo.objects.exclude(status=Photo.Status.PROCESSED).count() == 0
    assert Leopard.objects.filter(mother__isnull=False).count() >= 10
    # Kittens of the first demo year are adults by the last one.
    assert Leopard.objects.filter(birth_date__year=2021, mother__isnull=False).exists()
    # At least one cat was photographed in two countries.
    assert (
        Leopard.objects.filter(sightings__photo__deployment__station__park__country="RU")
        .filter(sightings__photo__deployment__station__park__country="CN")
        .exists()
    )
    confirmed = Sighting.objects.filter(status=Sighting.Status.CONFIRMED)
    proposed = Sighting.objects.filter(status=Sighting.Status.PROPOSED)
    assert confirmed.count() + proposed.count() == first["Sighting"]
    # A few detector boxes wait for review with ranked candidates; one cat seen once
    # is probably a new individual. Every confirmed box is in the match index.
    assert proposed.count() == 7
    assert proposed.filter(new_individual_likely=False, candidates__rank=1).distinct().count() == 6
    assert MatchIndexEntry.objects.filter(present=True).count() == confirmed.count()
    # Photo names do not give the answer away on the review page.
    names = " ".join(Photo.objects.values_list("original_name", flat=True))
    assert not [code for code in Leopard.objects.values_list("code", flat=True) if code in names]

    call_command("seed_demo", stdout=io.StringIO())
    assert _counts() == first
