"""Pages in Russian and Chinese: labels instead of stored values, whole translated phrases."""

from datetime import date

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.roles import Role
from leopards.services import catalogue_edits
from tests.factories import UserFactory
from tests.leopards.reviewkit import known_leopard


def in_language(client, code: str):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = code
    return client


@pytest.mark.parametrize(("language", "label"), [("ru", "Инспектор"), ("zh-hans", "巡护员")])
def test_home_shows_the_roles_by_their_translated_labels(client, ranger, language, label):
    in_language(client, language).force_login(ranger)

    html = client.get(reverse("home")).content.decode()

    assert f'<span class="tag">{label}</span>' in html
    assert '<span class="tag">ranger</span>' not in html


def test_individual_page_shows_the_age_class_and_edits_by_their_russian_labels(
    client, park, scientist
):
    leopard = known_leopard(park, code="LEO-101U", birth_date=date(2015, 5, 1))
    catalogue_edits.leopard_update(
        leopard_id=leopard.pk,
        user=scientist,
        expected_version=None,
        changes={"sex": "female"},
        reason="seen with kittens",
    )
    in_language(client, "ru").force_login(scientist)

    html = client.get(reverse("leopards:leopard-detail", args=["LEO-101U"])).content.decode()

    assert '<span class="tag">Возраст: Взрослая особь</span>' in html
    assert "Пол: Неизвестно → Самка" in html
    assert "sex: unknown" not in html


def test_chinese_form_labels_and_role_lists_use_chinese_punctuation(client, park):
    user = UserFactory(username="mei", role=Role.SCIENTIST, parks=[park])
    user.groups.add(Group.objects.get(name=Role.MANAGER))
    in_language(client, "zh-hans").force_login(user)

    html = client.get(reverse("leopards:leopard-list")).content.decode()

    assert "\uff1a</label>" in html
    assert ":</label>" not in html
    assert 'title="管理人员\u3001科研人员"' in html
