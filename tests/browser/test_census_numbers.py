"""The census charts write numbers as the page's language does: "0,5" in Russian."""

import pytest

from tests.browser.test_census import demo_census, log_in  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TICKS = """(id) => {
    const chart = Chart.getChart(document.getElementById(id));
    return {locale: chart.options.locale, labels: chart.scales.rate.ticks.map(t => t.label)};
}"""


@pytest.mark.parametrize(
    ("language", "decimal", "other"), [("en", ".", ","), ("ru", ",", "."), ("zh-hans", ".", ",")]
)
@pytest.mark.parametrize("width", [360, 1366])
def test_chart_axes_write_decimals_in_the_pages_language(
    page,
    demo_census,  # noqa: F811 (the fixture imported above)
    language,
    decimal,
    other,
    width,
):
    log_in(page, demo_census)
    page.set_viewport_size({"width": width, "height": 900})
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.base_url}])
    page.goto(f"{page.base_url}/census/?year=2024")
    page.wait_for_function("() => window.Chart && Chart.getChart('census-effort-chart')")

    ticks = page.evaluate(TICKS, "census-effort-chart")

    assert ticks["locale"] == language
    fractions = [label for label in ticks["labels"] if decimal in label]
    assert fractions, ticks  # the detection rate axis has fractional ticks
    assert not [label for label in ticks["labels"] if other in label], ticks
