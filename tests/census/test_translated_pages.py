"""The census pages in Russian and Chinese: reasons, periods, titles and map labels."""

from django.conf import settings
from django.urls import reverse

from tests.census.test_pages import census  # noqa: F401 (fixture)

# Chinese punctuation is full width.
COLON = "\uff1a"


def in_language(client, code: str):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = code
    return client


def test_survey_explains_a_missing_estimate_in_russian(client, scientist, census):  # noqa: F811
    in_language(client, "ru").force_login(scientist)

    response = client.get(
        reverse("census:survey", args=["alpha"]),
        {"start": "2024-08-01", "end": "2024-10-30", "occasion_days": "15"},
    )

    html = response.content.decode()
    assert "Отлов-повторный отлов: " in html
    assert "нет повторных отловов" in html
    assert "no recaptures" not in html
    assert "Чепмен (две выборки)" in html


def test_census_page_names_seasons_and_the_title_as_whole_chinese_phrases(
    client,
    manager,
    census,  # noqa: F811
):
    in_language(client, "zh-hans").force_login(manager)

    response = client.get(
        reverse("census:park", args=["alpha"]),
        {"period": "season", "start": "2024-03-01", "end": "2024-11-30"},
    )

    html = response.content.decode()
    assert f"种群监测{COLON}" in html
    assert "2024年秋季" in html
    assert "2024-03-01 至 2024-11-30" in html
    assert f'data-text-stations="相机位点{COLON}{{count}}"' in html


def test_a_date_range_download_keeps_an_ascii_file_name_in_russian(
    client,
    manager,
    census,  # noqa: F811
):
    in_language(client, "ru").force_login(manager)

    response = client.get(
        reverse("census:park-csv", args=["alpha", "periods"]),
        {"period": "season", "start": "2024-03-01", "end": "2024-11-30"},
    )

    assert response["Content-Disposition"] == (
        'attachment; filename="census-alpha-2024-03-01_to_2024-11-30-periods.csv"'
    )
    assert "осень 2024" in response.content.decode()


def test_survey_form_errors_name_the_field_by_its_label(client, scientist, census):  # noqa: F811
    in_language(client, "ru").force_login(scientist)

    response = client.get(
        reverse("census:survey", args=["alpha"]),
        {"start": "not a day", "end": "2024-10-30", "occasion_days": "15"},
    )

    html = response.content.decode()
    assert "<p>Первый день: Введите правильную дату.</p>" in html
    assert "<li>start" not in html


def test_dashboard_shows_field_errors_not_only_form_errors(client, manager, census):  # noqa: F811
    client.force_login(manager)

    response = client.get(reverse("census:park", args=["alpha"]), {"year": "1200"})

    assert "<p>Year: Ensure this value is greater than or equal to 1990.</p>" in (
        response.content.decode()
    )
