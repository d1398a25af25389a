"""The event lists, the survey and the data exchange show the park's local dates with the
zone named, and counts are grouped as each language writes them (9,093 in English and
Chinese, 9 093 in Russian)."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from census.services import census_rebuild
from exchange.models import DetectorResult, ImportRun
from tests.census.helpers import cat, sight, station_running
from tests.factories import PhotoFactory, UserFactory
from traps.models import Event

pytestmark = pytest.mark.django_db

# 2024-05-01 15:30 UTC is 2024-05-02 01:30 in Vladivostok (UTC+10).
LATE_UTC = datetime(2024, 5, 1, 15, 30, tzinfo=UTC)
LOCAL = "2024-05-02 01:30"
ZONE = "(Asia/Vladivostok)"


@pytest.fixture
def late_event(park):
    _, deployment = station_running(park, "A1", first_year=2024, last_year=2024)
    event = Event.objects.create(deployment=deployment, start=LATE_UTC, end=LATE_UTC)
    photo = PhotoFactory(deployment=deployment, event=event, taken_at=LATE_UTC)
    return event, photo


def test_the_review_queue_shows_the_parks_local_time_with_its_zone_in_the_header(
    client, scientist, late_event
):
    client.force_login(scientist)
    html = client.get(reverse("leopards:review-queue")).content.decode()

    assert LOCAL in html and "2024-05-01 15:30" not in html
    header = html[html.index("<thead>") : html.index("</thead>")]
    assert ZONE in header


def test_a_queue_of_events_in_two_zones_names_the_zone_on_each_row(
    client, park, other_park, late_event
):
    assert other_park.time_zone != park.time_zone
    _, there = station_running(other_park, "B1", first_year=2024, last_year=2024)
    Event.objects.create(deployment=there, start=LATE_UTC, end=LATE_UTC)
    both = UserFactory(username="sam", role=Role.SCIENTIST, parks=[park, other_park])
    client.force_login(both)
    html = client.get(reverse("leopards:review-queue")).content.decode()

    header = html[html.index("<thead>") : html.index("</thead>")]
    assert ZONE not in header
    row = html[html.index('data-event="') :]
    assert f'{LOCAL} <span class="muted zone">{ZONE}</span>' in row


def test_likely_blank_events_show_the_parks_local_time_and_zone(client, scientist, late_event):
    _event, photo = late_event
    DetectorResult.objects.create(photo=photo, threshold=0.2, likely_blank=True)
    client.force_login(scientist)

    html = client.get(reverse("exchange:likely-blanks")).content.decode()

    assert f'{LOCAL} <span class="muted zone">{ZONE}</span>' in html


def test_the_exchange_page_shows_imports_in_the_parks_time_with_its_zone(client, park, scientist):
    run = ImportRun.objects.create(kind=ImportRun.Kind.CAMTRAP_DP, park=park, organisation="P")
    ImportRun.objects.filter(pk=run.pk).update(imported_at=LATE_UTC)
    client.force_login(scientist)

    html = client.get(reverse("exchange:index")).content.decode()

    assert f'{LOCAL} <span class="muted zone">{ZONE}</span>' in html


def test_the_survey_names_the_parks_zone_and_opens_on_the_parks_today(client, park, manager):
    client.force_login(manager)
    # 15:30 UTC on New Year's Eve is already 2025 in Vladivostok.
    with time_machine.travel(datetime(2024, 12, 31, 15, 30, tzinfo=UTC), tick=False):
        assert timezone.localdate() == date(2024, 12, 31)
        response = client.get(reverse("census:survey", args=[park.code]))

    html = response.content.decode()
    assert "days in Asia/Vladivostok" in html
    # With no sighting yet the page opens on last year's winter season: last year as
    # seen in the park, where it is 2025 already (2023's season by the UTC date).
    form = response.context["form"]
    assert (str(form["start"].value()), str(form["end"].value())) == ("2024-01-01", "2024-03-31")


@pytest.fixture
def busy_park(park):
    # Three cameras running all of 2024 and 2025: 1,096 trap-nights in 2024 (a leap year).
    for code in ("A1", "A2", "A3"):
        _, deployment = station_running(park, code, first_year=2024, last_year=2025)
    sight(deployment, cat("LEO-1F", date(2015, 5, 1)), datetime(2024, 6, 1, 12, tzinfo=UTC))
    census_rebuild()
    return park


@pytest.mark.parametrize(
    ("language", "grouped"),
    [("en", "1,098"), ("ru", "1\N{NO-BREAK SPACE}098"), ("zh-hans", "1,098")],
)
def test_census_counts_are_grouped_as_the_language_writes_them(
    client, manager, busy_park, language, grouped
):
    client.force_login(manager)
    client.cookies["django_language"] = language

    html = client.get(reverse("census:park", args=[busy_park.code]) + "?year=2024").content.decode()

    assert grouped in html
    assert ">1098<" not in html


@pytest.mark.parametrize(
    ("language", "area"),
    [("en", "2,620 km²"), ("ru", "2\N{NO-BREAK SPACE}620 км²"), ("zh-hans", "2,620")],
)
def test_a_parks_area_is_grouped_on_the_overview(client, ranger, park, language, area):
    park.area_km2 = 2620
    park.save()
    client.force_login(ranger)
    client.cookies["django_language"] = language

    html = client.get(reverse("home")).content.decode()

    assert area in html


@pytest.mark.parametrize(
    ("language", "phrase"),
    [
        ("en", "1,005 events wait for review."),
        ("ru", "1\N{NO-BREAK SPACE}005 серий снимков ждут проверки."),
        ("zh-hans", "1,005 个事件等待审核。"),
    ],
)
def test_a_count_inside_a_plural_phrase_is_grouped(client, scientist, park, language, phrase):
    _, deployment = station_running(park, "A1", first_year=2024, last_year=2024)
    Event.objects.bulk_create(
        Event(deployment=deployment, start=LATE_UTC, end=LATE_UTC) for _ in range(1005)
    )
    client.force_login(scientist)
    client.cookies["django_language"] = language

    html = client.get(reverse("home")).content.decode()

    assert phrase in html
    assert "1005" not in html
