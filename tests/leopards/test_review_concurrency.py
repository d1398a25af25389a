"""Two scientists at the same moment, on PostgreSQL: nothing is lost or given twice."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from accounts.roles import Role
from leopards.models import Leopard, Sighting
from leopards.services import catalogue_edits, identification
from leopards.services.errors import ReviewError
from tests.factories import UserFactory
from tests.leopards.reviewkit import START, known_leopard, make_event

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*calls) -> list[object]:
    """Run the calls in threads released at once; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # the test inspects what each call got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")


def test_two_new_individuals_at_once_get_two_codes(postgres_only, park, scientist):
    colleague = UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])
    known_leopard(park, code="LEO-120F")
    one = make_event(park, photos=1, start=START)
    other = make_event(park, photos=1, start=START + timedelta(days=1))
    results = run_together(
        lambda: identification.sighting_create_individual(
            sighting_id=one.sightings[0].pk, user=scientist, expected_version=1
        ),
        lambda: identification.sighting_create_individual(
            sighting_id=other.sightings[0].pk, user=colleague, expected_version=1
        ),
    )
    codes = sorted(result.leopard.code for result in results)
    assert codes == ["LEO-121U", "LEO-122U"]


def test_two_confirmations_of_one_box_at_once_keep_one_and_refuse_the_other(
    postgres_only, park, scientist
):
    colleague = UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])
    a, b = known_leopard(park), known_leopard(park)
    work = make_event(park, photos=1)
    sighting = work.sightings[0].pk
    results = run_together(
        lambda: identification.sighting_confirm(
            sighting_id=sighting, leopard_id=a.pk, user=scientist, expected_version=1
        ),
        lambda: identification.sighting_confirm(
            sighting_id=sighting, leopard_id=b.pk, user=colleague, expected_version=1
        ),
    )
    refused = [r for r in results if isinstance(r, ReviewError)]
    saved = [r for r in results if isinstance(r, Sighting)]
    assert len(refused) == 1 and len(saved) == 1
    assert Sighting.objects.get(pk=sighting).leopard == saved[0].leopard


def test_two_merges_of_one_record_at_once_merge_it_once(postgres_only, park, scientist):
    survivor_a, survivor_b, absorbed = (known_leopard(park) for _ in range(3))
    results = run_together(
        lambda: catalogue_edits.leopard_merge(
            survivor_id=survivor_a.pk, absorbed_id=absorbed.pk, user=scientist, reason="dup"
        ),
        lambda: catalogue_edits.leopard_merge(
            survivor_id=survivor_b.pk, absorbed_id=absorbed.pk, user=scientist, reason="dup"
        ),
    )
    assert sum(isinstance(r, ReviewError) for r in results) == 1
    absorbed = Leopard.objects.get(pk=absorbed.pk)
    assert absorbed.merged_into_id in {survivor_a.pk, survivor_b.pk}
    assert Sighting.objects.filter(leopard=absorbed.merged_into).count() == 2
