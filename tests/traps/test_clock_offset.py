"""Setting a deployment's clock offset afterwards recomputes its photos' times and events."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import DeploymentFactory
from tests.traps.ingest import ingest
from traps import services
from traps.models import Event, Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(park):
    return DeploymentFactory(
        station__park=park,
        start=datetime(2024, 5, 1, tzinfo=UTC),
        end=datetime(2024, 6, 1, tzinfo=UTC),
    )


def test_offset_moves_every_photo_and_event_and_keeps_review(deployment):
    a = ingest(deployment, datetime(2024, 5, 10, 18, 51, 14))
    b = ingest(deployment, datetime(2024, 5, 10, 19, 0, 0))
    Event.objects.update(status=Event.Status.REVIEWED)
    event = Event.objects.get()

    updated = services.deployment_set_clock_offset(
        deployment_id=deployment.pk, clock_offset=timedelta(hours=1), expected_version=1
    )

    assert updated.version == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.taken_at == datetime(2024, 5, 10, 9, 51, 14, tzinfo=UTC)
    assert b.taken_at == datetime(2024, 5, 10, 10, 0, tzinfo=UTC)
    event.refresh_from_db()
    assert (event.start, event.end) == (a.taken_at, b.taken_at)
    assert event.status == Event.Status.REVIEWED
    assert updated.history.count() == 2


def test_offset_that_moves_photos_out_of_the_deployment_flags_them(deployment):
    photo = ingest(deployment, datetime(2024, 5, 31, 9, 0))  # 23:00 UTC, inside
    assert photo.outside_deployment is False
    services.deployment_set_clock_offset(
        deployment_id=deployment.pk, clock_offset=timedelta(days=2)
    )
    photo.refresh_from_db()
    assert photo.outside_deployment is True


def test_offset_rescues_photos_of_a_camera_whose_clock_was_reset(deployment):
    # The camera restarted at 2000-01-01 00:00 when it was set up on 2024-05-10 08:00 local.
    reset = ingest(deployment, datetime(2000, 1, 1, 0, 5))
    later = ingest(deployment, datetime(2000, 1, 1, 0, 20))
    assert reset.time_problem == Photo.TimeProblem.NONE  # 2000 is possible, only outside
    assert reset.outside_deployment is True
    offset = datetime(2024, 5, 10, 8, 0) - datetime(2000, 1, 1, 0, 0)
    services.deployment_set_clock_offset(deployment_id=deployment.pk, clock_offset=offset)
    reset.refresh_from_db()
    later.refresh_from_db()
    assert reset.taken_at == datetime(2024, 5, 9, 22, 5, tzinfo=UTC)
    assert reset.outside_deployment is False
    assert reset.event_id == later.event_id


def test_offset_turns_an_impossible_time_into_a_usable_one_and_places_it(deployment):
    photo = ingest(deployment, datetime(1970, 1, 1, 0, 0, 10))
    assert photo.time_problem == Photo.TimeProblem.IMPLAUSIBLE
    offset = datetime(2024, 5, 10, 0, 0) - datetime(1970, 1, 1, 0, 0)
    services.deployment_set_clock_offset(deployment_id=deployment.pk, clock_offset=offset)
    photo.refresh_from_db()
    assert photo.time_problem == ""
    assert photo.taken_at == datetime(2024, 5, 9, 14, 0, 10, tzinfo=UTC)
    assert photo.event is not None


def test_offset_change_is_refused_when_someone_saved_meanwhile(deployment):
    ingest(deployment, datetime(2024, 5, 10, 12, 0))
    services.deployment_set_clock_offset(
        deployment_id=deployment.pk, clock_offset=timedelta(hours=1), expected_version=1
    )
    with pytest.raises(services.DeploymentChanged):
        services.deployment_set_clock_offset(
            deployment_id=deployment.pk, clock_offset=timedelta(hours=2), expected_version=1
        )
    deployment.refresh_from_db()
    assert deployment.clock_offset == timedelta(hours=1)


def test_photos_processed_after_the_change_use_the_new_offset(deployment):
    services.deployment_set_clock_offset(
        deployment_id=deployment.pk, clock_offset=timedelta(minutes=-30)
    )
    photo = ingest(deployment, datetime(2024, 5, 10, 12, 0))
    assert photo.taken_at == datetime(2024, 5, 10, 1, 30, tzinfo=UTC)
