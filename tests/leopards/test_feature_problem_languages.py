"""Why the matcher found no features in a box reads in the reader's language, not the worker's."""

# The expected texts are Russian and Chinese, with their own letters and punctuation.
# ruff: noqa: RUF001

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from leopards import tasks
from leopards.models import Sighting
from leopards.services import matching
from tests.factories import SightingFactory
from tests.leopards.reviewkit import make_event

migration = importlib.import_module("leopards.migrations.0008_feature_problem_codes_from_text")

pytestmark = pytest.mark.django_db


def too_small(sighting: Sighting) -> Sighting:
    Sighting.objects.filter(pk=sighting.pk).update(
        feature_status=Sighting.FeatureStatus.NO_FEATURES,
        feature_error_code=Sighting.FeatureProblem.TOO_SMALL,
        feature_error_params={"px": "12", "min": 24},
    )
    sighting.refresh_from_db()
    return sighting


def test_a_problem_found_by_a_russian_worker_is_stored_as_a_code_and_read_in_chinese():
    missing = SightingFactory(leopard=None, status=Sighting.Status.PROPOSED)

    with translation.override("ru"):
        matching.sighting_extract_features(sighting_id=missing.pk)
    missing.refresh_from_db()

    assert (missing.feature_error_code, missing.feature_error) == ("file_missing", "")
    with translation.override("zh-hans"):
        assert missing.feature_error_text == "存储中缺少该照片文件。"
    with translation.override("en"):
        assert missing.feature_error_text == "The photo file is missing from storage."


def test_a_problem_with_parameters_reads_them_in_each_language(park):
    sighting = too_small(SightingFactory(leopard=None, status=Sighting.Status.PROPOSED))

    with translation.override("ru"):
        assert sighting.feature_error_text == (
            "Рамка слишком мала, чтобы различить рисунок пятен "
            "(12 пикс. в поперечнике; нужно не менее 24)."
        )
    with translation.override("zh-hans"):
        assert (
            sighting.feature_error_text
            == "检测框过小，无法显示斑纹（宽 12 像素，至少需要 24 像素）。"
        )


def test_a_problem_with_broken_parameters_reads_as_its_label():
    sighting = SightingFactory(
        feature_error_code=Sighting.FeatureProblem.TOO_SMALL, feature_error_params={}
    )

    with translation.override("en"):
        assert sighting.feature_error_text == "The box is too small to show a spot pattern."


def test_matching_that_gives_up_records_a_code_with_the_error_as_it_was():
    pending = SightingFactory(
        leopard=None, status=Sighting.Status.PROPOSED, feature_status=Sighting.FeatureStatus.PENDING
    )

    with translation.override("ru"):
        tasks.sighting_match.on_failure(
            OSError("bucket unreachable"), "task-1", (pending.pk,), {}, None
        )
    pending.refresh_from_db()

    assert pending.feature_status == Sighting.FeatureStatus.FAILED
    assert pending.feature_error_params == {"why": "bucket unreachable"}
    with translation.override("zh-hans"):
        assert pending.feature_error_text == "多次尝试后匹配已停止：bucket unreachable"


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("ru", "Рамка слишком мала, чтобы различить рисунок пятен"),
        ("zh-hans", "检测框过小，无法显示斑纹"),
    ],
)
def test_the_review_page_shows_the_problem_in_the_readers_language(
    client, park, scientist, language, text
):
    work = make_event(park, photos=1)
    too_small(work.sightings[0])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(scientist)

    page = client.get(reverse("leopards:event-review", args=[work.event.pk])).content.decode()

    assert text in page
    assert "too small" not in page


def test_the_api_gives_the_problem_in_the_requests_language_and_its_code(park, scientist):
    work = make_event(park, photos=1)
    sighting = too_small(work.sightings[0])
    api = APIClient(HTTP_ACCEPT_LANGUAGE="ru")
    api.force_authenticate(scientist)

    answer = api.get(f"/api/sightings/{sighting.pk}/").json()

    assert answer["feature_error_code"] == "too_small"
    assert answer["feature_error_params"] == {"px": "12", "min": 24}
    assert answer["feature_error"].startswith("Рамка слишком мала")


def test_the_migration_reads_stored_texts_in_any_language_back_into_codes():
    stored = {
        "missing": "The photo file is missing from storage.",
        "no_file": "У этой записи о фотографии нет сохранённого файла.",
        "small": "检测框过小，无法显示斑纹（宽 9 像素，至少需要 24 像素）。",
        "unreadable": "The photo cannot be read as an image: cannot identify image file",
        "blank": "В рамке не найден рисунок пятен: возможно, она пуста, кадр пере- или "
        "недоэкспонирован либо слишком размыт.",
        "gave_up": "Сопоставление остановлено после нескольких попыток: timeout",
        "other": "the worker ran out of memory",
    }
    sightings = {key: SightingFactory(feature_error=text) for key, text in stored.items()}

    migration.texts_to_codes(apps, None)

    read = {
        key: Sighting.objects.values_list(
            "feature_error_code", "feature_error_params", "feature_error"
        ).get(pk=sighting.pk)
        for key, sighting in sightings.items()
    }
    assert read == {
        "missing": ("file_missing", {}, ""),
        "no_file": ("no_file", {}, ""),
        "small": ("too_small", {"px": "9", "min": 24}, ""),
        "unreadable": ("unreadable", {"why": "cannot identify image file"}, ""),
        "blank": ("no_pattern", {}, ""),
        "gave_up": ("gave_up", {"why": "timeout"}, ""),
        "other": ("", {}, "the worker ran out of memory"),
    }
    with translation.override("en"):
        assert Sighting.objects.get(pk=sightings["small"].pk).feature_error_text == (
            "The box is too small to show a spot pattern (9 pixels across; at least 24 are needed)."
        )
        assert Sighting.objects.get(pk=sightings["other"].pk).feature_error_text == (
            "the worker ran out of memory"
        )


def test_the_migration_back_writes_the_english_texts():
    sighting = too_small(SightingFactory())

    migration.codes_to_texts(apps, None)

    sighting.refresh_from_db()
    assert (sighting.feature_error_code, sighting.feature_error) == (
        "",
        "The box is too small to show a spot pattern (12 pixels across; at least 24 are needed).",
    )
