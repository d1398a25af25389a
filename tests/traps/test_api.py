"""The upload API: one photo at a time, many hashes at a time, scoped to the user's parks."""

import io
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.roles import Role
from tests.factories import DeploymentFactory, PhotoFactory, UserFactory, jpeg_bytes
from tests.traps.images import truncated_jpeg
from tests.traps.ingest import ingest
from traps.images import sha256_of
from traps.models import Photo

pytestmark = pytest.mark.django_db

UPLOAD = "/api/photos/"
LOOKUP = "/api/photos/lookup/"
PROPOSE = "/api/photos/propose-deployment/"


@pytest.fixture
def deployment(park):
    return DeploymentFactory(station__park=park, camera_serial="CAM41146")


def _upload(client, deployment, data: bytes, file_name: str = "IMG_0001.JPG", **extra):
    return client.post(
        UPLOAD,
        {"deployment": deployment.pk, "file": SimpleUploadedFile(file_name, data), **extra},
    )


def test_upload_returns_201_with_the_new_photo(client, ranger, deployment):
    client.force_login(ranger)
    data = jpeg_bytes(seed=1)
    response = _upload(client, deployment, data, sha256=sha256_of(io.BytesIO(data))[0])
    assert response.status_code == 201
    body = response.json()
    assert body["deployment"] == deployment.pk
    assert body["original_name"] == "IMG_0001.JPG"
    assert body["file_url"] == f"/photos/{body['id']}/file"
    photo = Photo.objects.get(pk=body["id"])
    assert photo.uploaded_by == ranger


def test_upload_of_a_duplicate_returns_200_with_the_existing_photo(client, ranger, deployment):
    client.force_login(ranger)
    first = _upload(client, deployment, jpeg_bytes(seed=2)).json()
    response = _upload(client, deployment, jpeg_bytes(seed=2), file_name="again.jpg")
    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert Photo.objects.count() == 1


def test_upload_rejects_a_bad_file_with_a_json_reason(client, ranger, deployment):
    client.force_login(ranger)
    response = _upload(client, deployment, truncated_jpeg())
    assert response.status_code == 400
    assert response.json()["code"] == "truncated"
    assert "copy it from the card again" in response.json()["detail"]


def test_upload_rejects_a_path_in_the_name_the_page_sends(client, ranger, deployment):
    client.force_login(ranger)
    response = _upload(client, deployment, jpeg_bytes(), file_name="x.jpg", name="../x.jpg")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_name"


def test_upload_refuses_an_oversized_body_before_reading_it(client, ranger, deployment, settings):
    settings.PHOTO_MAX_BYTES = 1000
    client.force_login(ranger)
    response = _upload(client, deployment, b"\xff" * 200_000)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_upload_answers_415_for_an_unsupported_format(client, ranger, deployment):
    from tests.traps.images import image_bytes

    client.force_login(ranger)
    response = _upload(client, deployment, image_bytes("GIF"), file_name="a.gif")
    assert response.status_code == 415


def test_upload_asks_to_resend_bytes_damaged_on_the_way(client, ranger, deployment):
    client.force_login(ranger)
    response = _upload(client, deployment, jpeg_bytes(), sha256="a" * 64)
    assert response.status_code == 400
    assert response.json()["code"] == "hash_mismatch"
    assert Photo.objects.count() == 0


def test_upload_to_another_parks_deployment_is_404(client, outsider, deployment):
    client.force_login(outsider)
    assert _upload(client, deployment, jpeg_bytes()).status_code == 404
    assert Photo.objects.count() == 0


def test_manager_may_not_upload(client, manager, deployment):
    client.force_login(manager)
    assert _upload(client, deployment, jpeg_bytes()).status_code == 403


def test_upload_needs_a_login(client, deployment):
    assert _upload(client, deployment, jpeg_bytes()).status_code in (401, 403)


def test_duplicate_of_another_parks_photo_is_409_and_reveals_nothing(
    client, outsider, other_park, deployment
):
    ingest(deployment, None, data=jpeg_bytes(seed=77))
    theirs = DeploymentFactory(station__park=other_park)
    client.force_login(outsider)
    response = _upload(client, theirs, jpeg_bytes(seed=77))
    assert response.status_code == 409
    assert set(response.json()) == {"code", "detail", "name"}
    assert Photo.objects.count() == 1


def test_lookup_returns_only_the_hashes_stored_so_an_upload_resumes(client, ranger, deployment):
    client.force_login(ranger)
    card = [jpeg_bytes(seed=100 + i) for i in range(5)]
    hashes = [sha256_of(io.BytesIO(d))[0] for d in card]
    for data in card[:3]:  # the connection dropped after three photos
        _upload(client, deployment, data)
    response = client.post(LOOKUP, {"sha256": hashes}, content_type="application/json")
    assert response.status_code == 200
    assert sorted(p["sha256"] for p in response.json()["found"]) == sorted(hashes[:3])
    assert response.json()["elsewhere"] == []


def test_lookup_tells_bare_hashes_of_other_parks_and_no_details(
    client, outsider, deployment, django_assert_num_queries
):
    mine = ingest(deployment, None, data=jpeg_bytes(seed=5))
    client.force_login(outsider)
    response = client.post(
        LOOKUP, {"sha256": [mine.sha256, "b" * 64]}, content_type="application/json"
    )
    assert response.json() == {"found": [], "elsewhere": [mine.sha256]}


def test_brief_lookup_answers_only_id_deployment_and_hash(client, ranger, deployment):
    mine = PhotoFactory(deployment=deployment)
    theirs = PhotoFactory()
    client.force_login(ranger)
    response = client.post(
        LOOKUP,
        {"sha256": [mine.sha256, theirs.sha256, "d" * 64], "brief": True},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "found": [{"id": mine.pk, "deployment": deployment.pk, "sha256": mine.sha256}],
        "elsewhere": [theirs.sha256],
    }


def test_lookup_refuses_a_brief_that_is_not_a_boolean(client, ranger):
    client.force_login(ranger)
    response = client.post(
        LOOKUP, {"sha256": ["e" * 64], "brief": "maybe"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "brief" in response.json()["errors"]


def test_lookup_refuses_more_than_a_thousand_hashes(client, ranger):
    client.force_login(ranger)
    response = client.post(LOOKUP, {"sha256": ["c" * 64] * 1001}, content_type="application/json")
    assert response.status_code == 400


def test_lookup_runs_a_fixed_number_of_queries(
    client, ranger, deployment, django_assert_num_queries
):
    photos = [PhotoFactory(deployment=deployment) for _ in range(20)]
    client.force_login(ranger)
    client.get("/api/")  # warm the session and user caches
    with django_assert_num_queries(5):
        response = client.post(
            LOOKUP, {"sha256": [p.sha256 for p in photos]}, content_type="application/json"
        )
    assert len(response.json()["found"]) == 20


def test_photo_list_is_scoped_and_runs_a_fixed_number_of_queries(
    client, ranger, deployment, other_park, django_assert_num_queries
):
    for _ in range(15):
        PhotoFactory(deployment=deployment)
    PhotoFactory(deployment=DeploymentFactory(station__park=other_park))
    client.force_login(ranger)
    client.get("/api/")
    with django_assert_num_queries(5):
        response = client.get(UPLOAD, {"deployment": deployment.pk})
    assert response.json()["count"] == 15
    assert client.get(UPLOAD).json()["count"] == 15


def test_deployment_list_is_scoped(client, outsider, deployment, other_park):
    DeploymentFactory(station__park=other_park)
    client.force_login(outsider)
    ids = [d["id"] for d in client.get("/api/deployments/").json()["results"]]
    assert deployment.pk not in ids
    assert len(ids) == 1


def test_proposes_the_deployment_from_the_camera_serial_and_date(client, ranger, park, deployment):
    DeploymentFactory(station__park=park, camera_serial="CAM99999")
    client.force_login(ranger)
    head = jpeg_bytes(taken=datetime(2024, 5, 1, 22, 15), serial="CAM41146")[: 128 * 1024]
    response = client.post(PROPOSE, {"file": SimpleUploadedFile("a.jpg", head)})
    body = response.json()
    assert body["serial"] == "CAM41146"
    assert [d["id"] for d in body["deployments"]] == [deployment.pk]


def test_proposes_from_the_file_name_time_when_exif_has_none(client, ranger, deployment):
    client.force_login(ranger)
    head = jpeg_bytes(taken=None, serial="CAM41146")
    response = client.post(
        PROPOSE, {"file": SimpleUploadedFile("Station1__2024-5-1__22-15-00(1).JPG", head)}
    )
    body = response.json()
    assert body["camera_time"] == "2024-05-01 22:15:00"
    assert [d["id"] for d in body["deployments"]] == [deployment.pk]
    nameless = client.post(PROPOSE, {"file": SimpleUploadedFile("IMG_0001.JPG", head)})
    assert nameless.json()["camera_time"] is None


def test_proposes_nothing_for_a_date_outside_every_deployment(client, ranger, deployment):
    client.force_login(ranger)
    head = jpeg_bytes(taken=datetime(2026, 5, 1, 22, 15), serial="CAM41146")
    response = client.post(PROPOSE, {"file": SimpleUploadedFile("a.jpg", head)})
    assert response.json()["deployments"] == []


def test_proposes_no_deployment_of_another_park(client, outsider, deployment):
    client.force_login(outsider)
    head = jpeg_bytes(taken=datetime(2024, 5, 1, 22, 15), serial="CAM41146")
    response = client.post(PROPOSE, {"file": SimpleUploadedFile("a.jpg", head)})
    assert response.json()["deployments"] == []


def test_retry_endpoint_queues_a_failed_photo(client, ranger, deployment):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15))
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.FAILED, error_code=Photo.ErrorCode.UNDECODABLE, error="x"
    )
    client.force_login(ranger)
    response = client.post(f"/api/photos/{photo.pk}/retry/")
    assert response.status_code == 202


def test_a_script_uploads_with_a_token(client, deployment, park):
    from accounts.services import api_token_create

    user = UserFactory(username="script", role=Role.RANGER, parks=[park])
    _token, key = api_token_create(user=user, name="card script")
    response = client.post(
        UPLOAD,
        {"deployment": deployment.pk, "file": SimpleUploadedFile("a.jpg", jpeg_bytes(seed=9))},
        headers={"Authorization": f"Token {key}"},
    )
    assert response.status_code == 201


def test_schema_describes_the_upload_endpoint(client, ranger):
    client.force_login(ranger)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/photos/lookup/" in response.content


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "outside this deployment (2024-01-01 to 2024-12-31)"),
        ("ru", "вне периода этой установки (2024-01-01 \u2013 2024-12-31)"),
        ("zh-hans", "不在此布设的时间范围内\uff082024-01-01 至 2024-12-31\uff09"),
    ],
)
def test_upload_warns_when_the_camera_time_lies_outside_the_deployment(
    client, ranger, deployment, language, words
):
    client.cookies["django_language"] = language
    client.force_login(ranger)
    stray = _upload(client, deployment, jpeg_bytes(taken=datetime(2012, 3, 4, 5, 6), seed=7))
    assert stray.status_code == 201
    warning = stray.json()["time_warning"]
    assert "2012-03-04 05:06" in warning
    assert words in warning
    inside = _upload(client, deployment, jpeg_bytes(seed=8), file_name="IMG_0002.JPG")
    assert inside.status_code == 201
    assert inside.json()["time_warning"] == ""
