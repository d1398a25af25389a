"""A processing error reads in the reader's language, whoever's worker wrote it."""

import importlib

import pytest
from django.apps import apps
from django.utils import translation

from tests.factories import DeploymentFactory, PhotoFactory
from tests.traps.images import corrupt_jpeg
from tests.traps.ingest import ingest
from traps.models import Photo

pytestmark = pytest.mark.django_db
migration = importlib.import_module("traps.migrations.0005_photo_error_code_from_text")


@pytest.fixture
def deployment(park):
    return DeploymentFactory(station__park=park)


def test_a_worker_writes_a_code_and_each_reader_sees_their_language(deployment):
    # The worker runs in English.
    with translation.override("en"):
        photo = ingest(deployment, None, data=corrupt_jpeg())
    assert photo.error_code == Photo.ErrorCode.UNDECODABLE
    detail = photo.error
    assert detail and "damaged" not in detail  # the decoder's own words only
    with translation.override("ru"):
        russian = photo.error_text
    with translation.override("zh-hans"):
        chinese = photo.error_text
    assert russian != chinese
    assert detail in russian and detail in chinese
    assert not russian.startswith("The image") and not chinese.startswith("The image")


def test_the_deployment_page_and_api_show_the_error_in_the_readers_language(
    client, ranger, deployment
):
    photo = PhotoFactory(
        deployment=deployment,
        status=Photo.Status.FAILED,
        error_code=Photo.ErrorCode.GAVE_UP,
        error="disk gone",
    )
    client.force_login(ranger)
    with translation.override("ru"):
        expected = str(Photo.objects.get(pk=photo.pk).error_text)
    assert "disk gone" in expected and not expected.startswith("Processing")
    page = client.get(f"/deployments/{deployment.pk}/", headers={"accept-language": "ru"})
    assert expected in page.content.decode()
    body = client.get(f"/api/photos/{photo.pk}/", headers={"accept-language": "ru"}).json()
    assert (body["error_code"], body["error"]) == ("gave_up", expected)


def test_the_migration_reads_stored_texts_in_any_language_back_into_codes(deployment):
    with translation.override("ru"):
        russian = translation.gettext("The image data is damaged and cannot be decoded (%(why)s).")
    stored = {
        "en": "Processing stopped after several attempts: disk gone",
        "ru": russian % {"why": "broken data stream"},
        "pixels": "The image has more pixels than the limit.",
        "other": "something a person wrote",
    }
    photos = {
        key: PhotoFactory(deployment=deployment, status=Photo.Status.FAILED, error=text)
        for key, text in stored.items()
    }
    migration.codes_from_text(apps, None)
    found = {
        key: Photo.objects.values_list("error_code", "error").get(pk=photo.pk)
        for key, photo in photos.items()
    }
    assert found == {
        "en": ("gave_up", "disk gone"),
        "ru": ("undecodable", "broken data stream"),
        "pixels": ("too_many_pixels", ""),
        "other": ("", "something a person wrote"),
    }
    migration.text_from_codes(apps, None)
    assert Photo.objects.get(pk=photos["en"].pk).error == stored["en"]
