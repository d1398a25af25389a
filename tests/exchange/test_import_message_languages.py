"""What an import warned and created reads in the reader's language, not the importer's."""

# The expected texts are Russian and Chinese, with their own letters and punctuation.
# ruff: noqa: RUF001

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from exchange.megadetector import megadetector_import
from exchange.models import ImportRun, warning_text
from tests.factories import DeploymentFactory, LeopardFactory, PhotoFactory

migration = importlib.import_module("exchange.migrations.0002_import_messages_as_codes")

pytestmark = pytest.mark.django_db


@pytest.fixture
def detector_run(park, scientist):
    """MegaDetector results imported by a scientist working in Russian."""
    deployment = DeploymentFactory(station__park=park)
    PhotoFactory(deployment=deployment, original_name="IMG_0001.JPG")
    data = {
        "detection_categories": {"1": "animal"},
        "images": [
            {
                "file": "IMG_0001.JPG",
                "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.3, 0.3]}],
            },
            {"file": "IMG_9999.JPG", "detections": []},
        ],
    }
    with translation.override("ru"):
        return megadetector_import(data=data, deployment=deployment, user=scientist).run


def test_detector_warnings_and_counts_are_stored_as_codes(detector_run):
    assert detector_run.warnings == [{"code": "not_in_deployment", "params": {"f": "IMG_9999.JPG"}}]
    assert detector_run.created == {"proposed_boxes": 1, "likely_blank": 0, "with_people": 0}
    with translation.override("zh-hans"):
        assert detector_run.warning_texts == ["不在该布设中：IMG_9999.JPG"]
        assert detector_run.created_items == [("建议检测框", 1)]
    with translation.override("en"):
        assert detector_run.warning_texts == ["Not in this deployment: IMG_9999.JPG"]
        assert detector_run.created_items == [("Proposed boxes", 1)]


def test_warnings_of_earlier_imports_written_in_russian_read_in_chinese():
    # Imports now keep other species as taxa; a run stored before still reads.
    run = ImportRun(warnings=[{"code": "other_species", "params": {"n": 1}}])

    with translation.override("zh-hans"):
        assert "1 条其他物种的观测记录已作为所属事件的内容“其他物种”保存；系统不保存物种名称。" in (
            run.warning_texts
        )


def test_a_sex_in_a_warning_reads_in_the_readers_language():
    warning = {
        "code": "sex_differs",
        "params": {"code": "AMUR-F1", "ours": "female", "theirs": "male"},
    }

    with translation.override("ru"):
        assert warning_text(warning) == (
            "Пол особи AMUR-F1 здесь — Самка, а в пакете — Самец; оставлено значение Самка."
        )


def test_a_warning_with_broken_parameters_reads_as_its_label_and_old_text_as_it_was():
    with translation.override("en"):
        assert warning_text({"code": "media_not_stored", "params": {}}) == (
            "A media file was not stored"
        )
        assert warning_text("Медиафайл 7 уже есть в реестре") == "Медиафайл 7 уже есть в реестре"


@pytest.mark.parametrize(
    ("language", "warning", "created"),
    [
        ("ru", "Нет в этой установке: IMG_9999.JPG", "Предложенные рамки"),
        ("zh-hans", "不在该布设中：IMG_9999.JPG", "建议检测框"),
    ],
)
def test_the_exchange_page_lists_warnings_and_counts_in_the_readers_language(
    client, detector_run, scientist, language, warning, created
):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(scientist)

    page = client.get(reverse("exchange:index")).content.decode()

    assert warning in page
    assert created in page
    assert "Not in this deployment" not in page
    assert "Proposed boxes" not in page


def test_the_migration_reads_stored_texts_in_any_language_back_into_codes(park):
    old = ImportRun.objects.create(
        kind=ImportRun.Kind.MEGADETECTOR,
        park=park,
        created={"proposed boxes": 3, "likely blank photos": 1, "photos with people": 0},
        warnings=[
            "Not in this deployment: IMG_1.JPG",
            "Несколько фотографий с таким именем: IMG_2.JPG",
            "检测模型处理失败：IMG_3.JPG: Failure image access",
            "Наблюдений других видов: 4. Они сохранены как содержимое серий снимков "
            "«Другие виды»; названия видов реестр не хранит.",
            "Individual AMUR-F1 is female here but male in the package; kept female.",
            "Медиафайл 12: файл не сохранён (Файл пуст); запись о нём сохранена.",
            "something a newer importer wrote",
        ],
    )
    LeopardFactory()  # other rows are left alone

    migration.texts_to_codes(apps, None)

    old.refresh_from_db()
    assert old.created == {"proposed_boxes": 3, "likely_blank": 1, "with_people": 0}
    assert old.warnings == [
        {"code": "not_in_deployment", "params": {"f": "IMG_1.JPG"}},
        {"code": "ambiguous_name", "params": {"f": "IMG_2.JPG"}},
        {"code": "detector_failed", "params": {"f": "IMG_3.JPG: Failure image access"}},
        {"code": "other_species", "params": {"n": 4}},
        {
            "code": "sex_differs",
            "params": {"code": "AMUR-F1", "ours": "female", "theirs": "male"},
        },
        {"code": "media_not_stored", "params": {"id": "12", "why": "Файл пуст"}},
        "something a newer importer wrote",
    ]
    with translation.override("en"):
        assert old.warning_texts[3] == (
            "4 observations of other species were kept as their events' content "
            "“other species”; the registry does not store their names."
        )


def test_the_migration_back_writes_english_texts(detector_run):
    migration.codes_to_texts(apps, None)

    detector_run.refresh_from_db()
    assert detector_run.warnings == ["Not in this deployment: IMG_9999.JPG"]
    assert detector_run.created == {
        "proposed boxes": 1,
        "likely blank photos": 0,
        "photos with people": 0,
    }


def test_a_refused_file_reads_why_in_the_readers_language_when_the_check_is_known():
    refused = {
        "code": "media_not_stored",
        "params": {"id": "m-7", "why": "Файл пуст (0 байт).", "rejected": "empty"},
    }
    older = {"code": "media_not_stored", "params": {"id": "m-8", "why": "Файл пуст (0 байт)."}}

    with translation.override("en"):
        assert warning_text(refused) == (
            "Media m-7: the file was not stored (the file is empty); its record is kept."
        )
        assert warning_text(older) == (
            "Media m-8: the file was not stored (Файл пуст (0 байт).); its record is kept."
        )
    with translation.override("zh-hans"):
        assert warning_text(refused) == "媒体 m-7：文件未保存（文件为空），但保留了其记录。"
