"""Errors show the registry's own pages, in the user's language, never Django's."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.roles import Role
from tests.factories import UserFactory

HEADINGS = {
    404: {"en": "Page not found", "ru": "Страница не найдена", "zh-hans": "找不到页面"},
    403: {"en": "Not allowed", "ru": "Нет доступа", "zh-hans": "不允许"},
    400: {
        "en": "The registry could not read this request",
        "ru": "Реестр не смог прочитать этот запрос",
        "zh-hans": "登记系统无法读取此请求",
    },
    500: {
        "en": "Something went wrong on the registry",
        "ru": "Что-то пошло не так на стороне реестра",
        "zh-hans": "登记系统出了问题",
    },
}
LANGUAGES = ["en", "ru", "zh-hans"]


@pytest.fixture
def error_urls(settings):
    settings.ROOT_URLCONF = "tests.error_urls"


def browser(code: str) -> Client:
    client = Client(raise_request_exception=False)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = code
    return client


def assert_registry_page(response, status: int, language: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert HEADINGS[status][language] in html
    assert 'class="brand"' in html  # the registry's own layout, from base.html
    assert f'<html lang="{language}">' in html
    for django_page in ("URLconf", "Traceback", "DEBUG = True", "Request Method"):
        assert django_page not in html
    return html


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_manager_typing_the_upload_address_sees_the_registry_404(db, language):
    park_manager = UserFactory(username="dora", role=Role.MANAGER)
    client = browser(language)
    client.force_login(park_manager)
    html = assert_registry_page(client.get("/upload/"), 404, language)
    assert "/deployments/" in html  # the menu of the manager's own pages
    assert "leopards:" not in html and "traps/" not in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_address_that_matches_nothing_shows_the_registry_404(db, ranger, language):
    client = browser(language)
    client.force_login(ranger)
    assert_registry_page(client.get("/no-such-page/"), 404, language)


def test_the_api_still_answers_a_missing_address_with_json(db, ranger):
    client = browser("en")
    client.force_login(ranger)
    response = client.get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("language", LANGUAGES)
def test_refusals_bad_requests_and_server_errors_show_the_registry_pages(
    db, ranger, error_urls, language
):
    client = browser(language)
    client.force_login(ranger)
    assert_registry_page(client.get("/test-errors/403/"), 403, language)
    assert_registry_page(client.get("/test-errors/400/"), 400, language)
    assert_registry_page(client.get("/test-errors/500/"), 500, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_expired_form_says_so_in_the_users_language(db, ranger, language):
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(ranger)
    response = client.post("/upload/", {})
    assert response.status_code == 403
    html = response.content.decode()
    expired = {"en": "The form has expired", "ru": "Форма устарела", "zh-hans": "表单已过期"}
    assert expired[language] in html
    assert 'class="brand"' in html
    assert "CSRF" not in html
