"""Many rows' fields written in two statements hold what each row was given."""

from datetime import UTC, datetime

import pytest

from tests.factories import PhotoFactory
from traps.bulk import write_fields
from traps.models import Event, Photo

pytestmark = pytest.mark.django_db


def test_each_row_keeps_its_own_values_nulls_and_json_included():
    first, second, third = PhotoFactory.create_batch(3)
    event = Event.objects.create(
        deployment=first.deployment,
        start=datetime(2024, 5, 1, tzinfo=UTC),
        end=datetime(2024, 5, 1, 0, 5, tzinfo=UTC),
    )
    given = {
        first.pk: ({"model": 'O\'Brien "V4"', "tags": {"n": 1}}, None, event, 640, "a.jpg"),
        second.pk: ({"model": "Зверь"}, datetime(2024, 5, 2, tzinfo=UTC), None, 640, "b.jpg"),
        third.pk: ({}, datetime(2023, 1, 1, 12, tzinfo=UTC), event, 640, ""),
    }
    photos = [first, second, third]
    for photo in photos:
        photo.exif, photo.camera_time, photo.event, photo.width, photo.thumbnail.name = given[
            photo.pk
        ]
        photo.status = Photo.Status.FAILED
    write_fields(photos, ["exif", "camera_time", "event", "width", "thumbnail", "status"])
    stored = {
        p.pk: (p.exif, p.camera_time, p.event, p.width, p.thumbnail.name)
        for p in Photo.objects.filter(pk__in=given)
    }
    assert stored == given
    assert set(Photo.objects.values_list("status", flat=True)) == {Photo.Status.FAILED}


def test_rows_not_given_are_left_alone():
    written, untouched = PhotoFactory.create_batch(2)
    written.width = 99
    write_fields([written], ["width"])
    assert dict(Photo.objects.values_list("pk", "width")) == {written.pk: 99, untouched.pk: 640}
