"""Reasons and flags the registry writes itself read in the reader's language, not the writer's."""

# The expected texts are Russian and Chinese, with their own letters and punctuation.
# ruff: noqa: RUF001

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from accounts.roles import Role
from leopards.models import CatalogueChange, EventReview, SecondOpinion
from leopards.services import catalogue_edits, identification, review, second_opinion
from tests.factories import LeopardFactory, UserFactory
from tests.leopards.reviewkit import known_leopard, make_event
from tests.leopards.test_catalogue_edits import paired_photos

migration = importlib.import_module("leopards.migrations.0006_message_codes_from_text")


@pytest.fixture
def checker(park):
    return UserFactory(username="grace", role=Role.SCIENTIST, parks=[park])


@pytest.fixture
def disagreed(park, scientist, checker, settings):
    """A blind check answered by a scientist working in Russian, who named another individual."""
    settings.SECOND_OPINION_SAMPLE_RATE = 1.0
    leopard = known_leopard(park, code="LEO-11F")
    other = known_leopard(park, code="LEO-12F")
    work = make_event(park, photos=1, candidates=[leopard, other])
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    review.event_finish(event_id=work.event.pk, user=scientist, expected_version=None)
    with translation.override("ru"):
        second_opinion.second_opinion_answer(
            opinion_id=SecondOpinion.objects.get().pk,
            user=checker,
            answer="leopard",
            leopard_id=other.pk,
        )
    return work


def in_language(client, code: str):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = code
    return client


def test_a_blind_check_reason_is_stored_as_a_code_and_read_in_each_language(disagreed):
    change = CatalogueChange.objects.get(kind="second_opinion")

    assert (change.reason_code, change.reason) == ("blind_check_disagreed", "")
    with translation.override("zh-hans"):
        assert change.reason_text == "盲审结果不一致。"
    with translation.override("ru"):
        assert change.reason_text == "Слепая проверка: ответы не совпали."
    with translation.override("en"):
        assert change.reason_text == "Blind check disagreed."


def test_a_flag_written_by_a_russian_reader_reads_in_chinese(disagreed):
    flagged = EventReview.objects.get(event=disagreed.event)

    assert flagged.flag == ""
    assert flagged.flag_params == {"first": "LEO-11F", "second": "LEO-12F"}
    with translation.override("zh-hans"):
        assert flagged.flag_text == "复核结果不一致：LEO-11F 还是 LEO-12F？"
    with translation.override("en"):
        assert flagged.flag_text == "Second opinion disagrees: LEO-11F or LEO-12F?"


def test_a_flag_naming_no_individual_reads_the_second_answer_in_the_readers_language(
    park, scientist, checker, settings
):
    settings.SECOND_OPINION_SAMPLE_RATE = 1.0
    leopard = known_leopard(park, code="LEO-13F")
    work = make_event(park, photos=1, candidates=[leopard])
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    with translation.override("zh-hans"):
        second_opinion.second_opinion_answer(
            opinion_id=SecondOpinion.objects.get().pk, user=checker, answer="new"
        )
    flagged = EventReview.objects.get(event=work.event)

    assert flagged.flag_params == {"first": "LEO-13F", "answer": "new"}
    with translation.override("ru"):
        assert flagged.flag_text == (
            "Второе мнение расходится с первым: LEO-13F или Нет в каталоге: новая особь?"
        )


def test_finishing_the_event_again_clears_the_flag(disagreed, scientist):
    review.event_finish(event_id=disagreed.event.pk, user=scientist, expected_version=None)
    cleared = EventReview.objects.get(event=disagreed.event)

    assert (cleared.flag_code, cleared.flag_params, cleared.flagged) == ("", {}, False)


def test_a_removed_box_and_a_flank_link_give_coded_reasons(park, scientist):
    leopard = known_leopard(park, code="LEO-14F")
    work = make_event(park, photos=1)
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk,
        leopard_id=leopard.pk,
        user=scientist,
        expected_version=1,
        sample=False,
    )
    with translation.override("ru"):
        review.sighting_remove(sighting_id=work.sightings[0].pk, user=scientist, expected_version=2)
    left, right = paired_photos(
        park, LeopardFactory(code="LEO-15U"), LeopardFactory(code="LEO-16U")
    )
    with translation.override("ru"):
        link = catalogue_edits.leopard_link_flanks(
            left_sighting_id=left.pk, right_sighting_id=right.pk, user=scientist
        )
    removed = CatalogueChange.objects.get(kind="unconfirm")

    assert removed.reason_code == "box_shows_no_leopard"
    assert link.reason_params == {"a": str(left.photo), "b": str(right.photo)}
    with translation.override("zh-hans"):
        assert removed.reason_text == "检测框内没有东北豹。"
        assert link.reason_text == f"同一相机位点同时拍到左右体侧：{left.photo} 和 {right.photo}。"


def test_a_persons_own_reason_is_kept_as_it_was_typed(park, scientist):
    left, right = paired_photos(park, LeopardFactory(), LeopardFactory())
    change = catalogue_edits.leopard_link_flanks(
        left_sighting_id=left.pk, right_sighting_id=right.pk, user=scientist, reason="одна особь"
    )

    assert (change.reason_code, change.reason) == ("", "одна особь")
    with translation.override("zh-hans"):
        assert change.reason_text == "одна особь"


@pytest.mark.parametrize(
    ("language", "flag", "reason"),
    [
        ("ru", "Второе мнение расходится с первым: LEO-11F или LEO-12F?", "ответы не совпали"),
        ("zh-hans", "复核结果不一致：LEO-11F 还是 LEO-12F？", "盲审结果不一致。"),
    ],
)
def test_pages_show_the_flag_and_the_reason_in_the_readers_language(
    client, disagreed, scientist, language, flag, reason
):
    in_language(client, language).force_login(scientist)

    event_page = client.get(reverse("leopards:event-review", args=[disagreed.event.pk]))
    individual_page = client.get(reverse("leopards:leopard-detail", args=["LEO-11F"]))

    assert flag in event_page.content.decode()
    assert reason in individual_page.content.decode()
    assert "Blind check" not in individual_page.content.decode()


def test_the_api_gives_the_code_and_the_text_in_the_requests_language(disagreed, scientist):
    api = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans")
    api.force_authenticate(scientist)

    event = api.get(f"/api/review/events/{disagreed.event.pk}/").json()
    changes = api.get("/api/catalogue-changes/").json()["results"]
    blind = next(c for c in changes if c["kind"] == "second_opinion")

    assert (event["flag_code"], event["flag"]) == (
        "second_opinion_disagrees",
        "复核结果不一致：LEO-11F 还是 LEO-12F？",
    )
    assert (blind["reason_code"], blind["reason"]) == ("blind_check_disagreed", "盲审结果不一致。")


def test_the_migration_reads_stored_texts_in_any_language_back_into_codes(park, scientist):
    stored = {
        "agreed": CatalogueChange.objects.create(kind="second_opinion", reason="盲审结果一致。"),
        "disagreed": CatalogueChange.objects.create(
            kind="second_opinion", reason="Blind check disagreed."
        ),
        "removed": CatalogueChange.objects.create(kind="unconfirm", reason="В рамке нет леопарда."),
        "linked": CatalogueChange.objects.create(
            kind="flank_link",
            reason="Left and right flanks seen together at one station: "
            "IMG_0001.JPG and IMG_0002.JPG.",
        ),
        "typed": CatalogueChange.objects.create(kind="unconfirm", reason="wrong animal, a lynx"),
        # The same words typed as the reason of another kind of change stay a person's words.
        "other_kind": CatalogueChange.objects.create(kind="edit", reason="Blind check agreed."),
    }
    named = make_event(park, photos=1).event
    answered = make_event(park, photos=1).event
    typed = make_event(park, photos=1).event
    EventReview.objects.create(
        event=named, flag="Второе мнение расходится с первым: LEO-1F или LEO-2F?"
    )
    EventReview.objects.create(event=answered, flag="复核结果不一致：LEO-3M 还是 无法判断？")
    EventReview.objects.create(event=typed, flag="check the tail")

    migration.texts_to_codes(apps, None)

    codes = {
        key: CatalogueChange.objects.values_list("reason_code", "reason_params", "reason").get(
            pk=change.pk
        )
        for key, change in stored.items()
    }
    assert codes == {
        "agreed": ("blind_check_agreed", {}, ""),
        "disagreed": ("blind_check_disagreed", {}, ""),
        "removed": ("box_shows_no_leopard", {}, ""),
        "linked": ("flanks_seen_together", {"a": "IMG_0001.JPG", "b": "IMG_0002.JPG"}, ""),
        "typed": ("", {}, "wrong animal, a lynx"),
        "other_kind": ("", {}, "Blind check agreed."),
    }
    flags = dict(
        EventReview.objects.filter(event__in=[named, answered, typed]).values_list(
            "event_id", "flag_params"
        )
    )
    assert flags == {
        named.pk: {"first": "LEO-1F", "second": "LEO-2F"},
        answered.pk: {"first": "LEO-3M", "answer": "unidentifiable"},
        typed.pk: {},
    }
    assert EventReview.objects.get(event=typed).flag == "check the tail"
    with translation.override("en"):
        assert EventReview.objects.get(event=answered).flag_text == (
            "Second opinion disagrees: LEO-3M or Cannot be told?"
        )
