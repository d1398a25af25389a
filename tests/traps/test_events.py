"""Photos of a deployment group into events by the independence interval."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.factories import DeploymentFactory
from tests.traps.ingest import at, event_groups, ingest
from traps import services
from traps.models import Event, Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(park):
    return DeploymentFactory(station__park=park)


def test_a_gap_just_under_the_interval_keeps_one_event(deployment):
    ingest(deployment, at(0), name="a")
    ingest(deployment, at(29.9), name="b")
    ingest(deployment, at(59.8), name="c")
    assert event_groups(deployment) == [["a", "b", "c"]]
    event = Event.objects.get()
    assert (event.start, event.end) == (
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 10, 59, 48, tzinfo=UTC),
    )


def test_a_gap_of_exactly_the_interval_still_joins(deployment):
    ingest(deployment, at(0), name="a")
    ingest(deployment, at(30), name="b")
    assert event_groups(deployment) == [["a", "b"]]


def test_a_gap_just_over_the_interval_opens_a_new_event(deployment):
    ingest(deployment, at(0), name="a")
    ingest(deployment, at(30) + timedelta(seconds=1), name="b")
    assert event_groups(deployment) == [["a"], ["b"]]


def test_the_interval_is_a_setting(deployment, settings):
    settings.INDEPENDENCE_INTERVAL_MINUTES = 5
    ingest(deployment, at(0), name="a")
    ingest(deployment, at(6), name="b")
    assert event_groups(deployment) == [["a"], ["b"]]


def test_a_photo_between_two_events_merges_them(deployment):
    ingest(deployment, at(0), name="a")
    ingest(deployment, at(50), name="c")
    assert len(event_groups(deployment)) == 2
    ingest(deployment, at(25), name="b")
    assert event_groups(deployment) == [["a", "b", "c"]]
    assert Event.objects.count() == 1


def test_placing_a_photo_reads_both_neighbours_in_one_query(deployment, django_assert_num_queries):
    ingest(deployment, at(0), name="a")
    ingest(deployment, at(20), name="c")
    photo = Photo.objects.get(original_name="c")
    photo.taken_at -= timedelta(minutes=10)  # as if it were a new photo at minute 10
    photo.event = None
    # One query for the photos just before and just after; the event it joins is up to
    # date already, so nothing is written.
    with django_assert_num_queries(1):
        event = services.event_place(photo)
    assert event == Photo.objects.get(original_name="a").event


def test_photos_arriving_out_of_order_group_as_in_time_order(deployment):
    for minute, name in [(90, "e"), (0, "a"), (200, "g"), (40, "c"), (20, "b"), (65, "d")]:
        ingest(deployment, at(minute), name=name)
    assert event_groups(deployment) == [["a", "b", "c", "d", "e"], ["g"]]
    assert services.events_rebuild(deployment_id=deployment.pk) == 2
    assert event_groups(deployment) == [["a", "b", "c", "d", "e"], ["g"]]


def test_deployments_do_not_share_events(park):
    one, two = DeploymentFactory(station__park=park), DeploymentFactory(station__park=park)
    ingest(one, at(0))
    ingest(two, at(1))
    assert Event.objects.count() == 2


def test_a_reviewed_event_that_gains_a_photo_goes_back_to_review(deployment):
    ingest(deployment, at(0), name="a")
    Event.objects.update(status=Event.Status.REVIEWED)
    ingest(deployment, at(10), name="b")
    assert Event.objects.get().status == Event.Status.PENDING


def test_rebuild_keeps_the_event_row_and_its_review_when_nothing_changes(deployment):
    ingest(deployment, at(0))
    ingest(deployment, at(10))
    event = Event.objects.get()
    Event.objects.update(status=Event.Status.REVIEWED)
    services.events_rebuild(deployment_id=deployment.pk)
    assert Event.objects.get().pk == event.pk
    assert Event.objects.get().status == Event.Status.REVIEWED


def test_rebuild_splits_events_when_the_interval_shrinks(deployment, settings):
    ingest(deployment, at(0), name="a")
    ingest(deployment, at(20), name="b")
    settings.INDEPENDENCE_INTERVAL_MINUTES = 10
    assert services.events_rebuild(deployment_id=deployment.pk) == 2
    assert event_groups(deployment) == [["a"], ["b"]]
    assert Photo.objects.filter(event__isnull=True).count() == 0


def test_deleting_the_only_photo_of_an_event_in_the_admin_deletes_the_event(
    deployment, client, registry_admin
):
    ingest(deployment, at(0), name="a")
    alone = ingest(deployment, at(100), name="b")
    client.force_login(registry_admin)
    response = client.post(
        reverse("admin:traps_photo_delete", args=[alone.pk]), {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not Photo.objects.filter(pk=alone.pk).exists()
    assert event_groups(deployment) == [["a"]]


def test_deleting_the_photo_that_bridged_two_bursts_splits_their_event(deployment):
    ingest(deployment, at(0), name="a")
    bridge = ingest(deployment, at(25), name="b")
    ingest(deployment, at(50), name="c")
    Event.objects.update(status=Event.Status.REVIEWED)
    assert services.photos_delete(photo_ids=[bridge.pk]) == 1
    assert event_groups(deployment) == [["a"], ["c"]]
    # The event that kept its photos keeps its review; the split-off one is new.
    assert Event.objects.get(photos__original_name="a").status == Event.Status.REVIEWED
    assert Event.objects.get(photos__original_name="c").status == Event.Status.PENDING


def test_deleting_photos_in_bulk_in_the_admin_leaves_no_empty_event(
    deployment, client, registry_admin
):
    photos = [ingest(deployment, at(m), name=n) for m, n in [(0, "a"), (100, "b"), (101, "c")]]
    client.force_login(registry_admin)
    response = client.post(
        reverse("admin:traps_photo_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [p.pk for p in photos[1:]],
            "post": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert event_groups(deployment) == [["a"]]
