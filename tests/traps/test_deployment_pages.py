"""Deployment pages, photo files and the upload page, scoped to the user's parks."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import DeploymentFactory, PhotoFactory, StationFactory
from tests.traps.images import corrupt_jpeg
from tests.traps.ingest import ingest
from traps.models import Deployment, Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(park):
    return DeploymentFactory(
        station__park=park,
        station__code="ST-7",
        camera_serial="CAM41146",
        start=datetime(2024, 5, 1, tzinfo=UTC),
        end=datetime(2024, 6, 1, tzinfo=UTC),
    )


def test_list_shows_the_users_deployments_with_counts(client, ranger, deployment, other_park):
    ingest(deployment, datetime(2024, 5, 10, 12, 0))
    ingest(deployment, None, data=corrupt_jpeg())
    DeploymentFactory(station__park=other_park, camera_serial="CAM-THEIRS")
    client.force_login(ranger)
    response = client.get("/deployments/")
    page = response.content.decode()
    assert "ST-7" in page
    assert "CAM-THEIRS" not in page
    row = response.context["page"].object_list[0]
    assert (row.photo_count, row.failed_count, row.event_count) == (2, 1, 1)


def test_list_filters_by_station(client, ranger, park, deployment):
    other = DeploymentFactory(station=StationFactory(park=park, code="ST-9"))
    client.force_login(ranger)
    response = client.get("/deployments/", {"station": other.station_id})
    assert [d.pk for d in response.context["page"].object_list] == [other.pk]


def test_list_runs_a_fixed_number_of_queries(client, ranger, park, django_assert_num_queries):
    for _ in range(12):
        PhotoFactory(deployment=DeploymentFactory(station__park=park))
    client.force_login(ranger)
    client.get("/deployments/")
    # Session, user, roles, parks, stations, then the page: its count, its
    # deployments, and the photo and event counts of those deployments only.
    with django_assert_num_queries(9):
        response = client.get("/deployments/")
    assert len(response.context["page"].object_list) == 12


def test_list_counts_the_photos_of_the_deployments_on_a_later_page(client, ranger, park):
    station = StationFactory(park=park, code="ST-1")
    for day in range(52):
        DeploymentFactory(station=station, start=datetime(2024, 1, 1 + day % 28, tzinfo=UTC))
    oldest = Deployment.objects.filter(station=station).order_by("start", "-pk").first()
    for _ in range(3):
        PhotoFactory(deployment=oldest, status=Photo.Status.FAILED)
    client.force_login(ranger)
    response = client.get("/deployments/", {"page": 2})
    rows = response.context["page"].object_list
    assert len(rows) == 2  # 52 deployments, 50 a page, newest first
    assert oldest.pk in [d.pk for d in rows]
    counts = {d.pk: (d.photo_count, d.failed_count, d.event_count) for d in rows}
    assert counts[oldest.pk] == (3, 3, 0)


def test_detail_shows_photos_by_event_in_the_parks_time(client, ranger, deployment):
    ingest(deployment, datetime(2024, 5, 10, 22, 15), name="IMG_0001.JPG")
    ingest(deployment, datetime(2024, 5, 10, 22, 20), name="IMG_0002.JPG")
    client.force_login(ranger)
    page = client.get(deployment.get_absolute_url()).content.decode()
    assert "2024-05-10 22:15:00 \u2013 22:20:00" in page  # Vladivostok time, not UTC
    assert page.count('class="photo photo-processed"') == 2


def test_detail_lists_a_failed_photo_with_its_reason_and_a_retry_button(client, ranger, deployment):
    failed = ingest(deployment, None, data=corrupt_jpeg(), name="BAD.JPG")
    client.force_login(ranger)
    page = client.get(deployment.get_absolute_url()).content.decode()
    assert "BAD.JPG" in page
    assert "damaged" in page
    assert f'action="/photos/{failed.pk}/retry/"' in page


def test_detail_runs_a_fixed_number_of_queries(
    client, ranger, deployment, django_assert_num_queries
):
    for minute in range(0, 300, 20):
        ingest(deployment, datetime(2024, 5, 10, 8, 0) + timedelta(minutes=minute * 2))
    client.force_login(ranger)
    client.get(deployment.get_absolute_url())
    with django_assert_num_queries(9):
        client.get(deployment.get_absolute_url())


def test_outsider_gets_404_for_deployment_pages_and_photo_files(client, outsider, deployment):
    photo = ingest(deployment, datetime(2024, 5, 10, 12, 0))
    client.force_login(outsider)
    assert client.get(deployment.get_absolute_url()).status_code == 404
    assert client.post(f"/deployments/{deployment.pk}/clock/").status_code == 404
    assert client.get(f"/photos/{photo.pk}/file").status_code == 404
    assert client.get(f"/photos/{photo.pk}/thumbnail").status_code == 404
    assert client.post(f"/photos/{photo.pk}/retry/").status_code == 404


def test_serves_photo_and_thumbnail_to_members_with_private_caching(client, ranger, deployment):
    photo = ingest(deployment, datetime(2024, 5, 10, 12, 0))
    client.force_login(ranger)
    response = client.get(f"/photos/{photo.pk}/file")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    served = b"".join(response.streaming_content) if response.streaming else response.content
    with photo.file.open("rb") as fh:
        assert served == fh.read()
    thumb = client.get(f"/photos/{photo.pk}/thumbnail")
    assert thumb.status_code == 200
    again = client.get(f"/photos/{photo.pk}/thumbnail", headers={"If-None-Match": thumb["ETag"]})
    assert again.status_code == 304


def test_media_files_are_not_served_publicly(client, ranger, deployment):
    photo = ingest(deployment, datetime(2024, 5, 10, 12, 0))
    client.force_login(ranger)
    assert client.get(f"/media/{photo.file.name}").status_code == 404


def test_retry_button_queues_the_photo_again(client, ranger, deployment):
    photo = ingest(deployment, datetime(2024, 5, 10, 12, 0))
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.FAILED, error_code=Photo.ErrorCode.UNDECODABLE, error="x"
    )
    client.force_login(ranger)
    response = client.post(f"/photos/{photo.pk}/retry/")
    assert response.status_code == 302
    assert Photo.objects.get(pk=photo.pk).status in {
        Photo.Status.RECEIVED,
        Photo.Status.PROCESSED,
    }


def test_clock_form_sets_the_offset_and_recomputes_times(client, ranger, deployment):
    photo = ingest(deployment, datetime(2024, 5, 10, 12, 0))
    client.force_login(ranger)
    response = client.post(
        f"/deployments/{deployment.pk}/clock/", {"offset": "+01:00:00", "version": 1}
    )
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.clock_offset == timedelta(hours=1)
    photo.refresh_from_db()
    assert photo.taken_at == datetime(2024, 5, 10, 3, 0, tzinfo=UTC)


def test_clock_form_sets_the_offset_from_a_photo_of_a_known_time(client, ranger, deployment):
    photo = ingest(deployment, datetime(2024, 5, 10, 17, 51, 15))
    client.force_login(ranger)
    client.post(
        f"/deployments/{deployment.pk}/clock/",
        {"reference_photo": photo.pk, "true_time": "2024-05-10T18:51:14", "version": 1},
    )
    deployment.refresh_from_db()
    assert deployment.clock_offset == timedelta(minutes=59, seconds=59)


def test_clock_form_says_when_someone_changed_it_meanwhile(client, ranger, deployment):
    Deployment.objects.filter(pk=deployment.pk).update(version=2)
    client.force_login(ranger)
    response = client.post(
        f"/deployments/{deployment.pk}/clock/",
        {"offset": "+02:00", "version": 1},
        follow=True,
    )
    assert "Someone changed this deployment meanwhile" in response.content.decode()
    deployment.refresh_from_db()
    assert deployment.clock_offset == timedelta(0)


def test_clock_form_rejects_a_garbled_offset(client, ranger, deployment):
    client.force_login(ranger)
    response = client.post(
        f"/deployments/{deployment.pk}/clock/", {"offset": "one hour", "version": 1}
    )
    assert response.status_code == 400
    assert "+HH:MM:SS" in response.content.decode()


def test_manager_sees_deployments_but_cannot_change_the_clock(client, manager, deployment):
    client.force_login(manager)
    assert client.get(deployment.get_absolute_url()).status_code == 200
    response = client.post(
        f"/deployments/{deployment.pk}/clock/", {"offset": "+1:00", "version": 1}
    )
    assert response.status_code == 404


def test_upload_page_offers_the_users_running_deployments_only(
    client, ranger, park, deployment, other_park
):
    running = DeploymentFactory(station__park=park, end=None)
    theirs = DeploymentFactory(station__park=other_park, end=None)
    client.force_login(ranger)
    response = client.get("/upload/")
    page = response.content.decode()
    assert f'value="{running.pk}"' in page
    assert f'value="{theirs.pk}"' not in page
    assert f'value="{deployment.pk}"' not in page  # ended long ago: proposed, not listed
    assert "<script>" not in page  # no inline script: data via json_script and data-*
    assert "{stored}" in response.context["messages_js"]["done"]


def test_upload_page_is_not_for_managers(client, manager):
    client.force_login(manager)
    assert client.get("/upload/").status_code == 404


def test_navigation_offers_upload_to_rangers_and_deployments_to_managers(client, ranger, manager):
    client.force_login(ranger)
    assert 'href="/upload/"' in client.get("/").content.decode()
    client.force_login(manager)
    page = client.get("/").content.decode()
    assert 'href="/upload/"' not in page
    assert 'href="/deployments/"' in page
