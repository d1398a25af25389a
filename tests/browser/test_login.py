"""A person logs in, sees their parks and switches the interface language."""

import pytest

from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ranger_logs_in_sees_their_park_and_switches_to_russian(page, ranger):
    browser_login(page, ranger)
    assert page.locator("h3", has_text="Alpha Leopard Park").is_visible()
    page.select_option("#language-select", "ru")
    page.click(".langswitch button")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Обзор"
    assert page.locator("html").get_attribute("lang") == "ru"
