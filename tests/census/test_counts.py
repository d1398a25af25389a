"""Counts per park and period: age classes, sex, new and returning, flanks, landscape."""

from datetime import date, timedelta

import pytest

from census import periods
from census.selectors import census_counts, individuals_seen
from leopards.models import AgeClass, Flank, Sighting, age_class_at
from tests.census.helpers import cat, local, sight, station_running

pytestmark = pytest.mark.django_db


def counts_by_label(parks, periods_):
    return {c.period.label: c for c in census_counts(parks=parks, periods_=periods_)}


def test_a_kitten_becomes_subadult_then_adult_in_later_years(park):
    _, deployment = station_running(park, "A1")
    kitten = cat("LEO-201F", born=date(2021, 5, 1))
    for y in (2021, 2022, 2023):
        sight(deployment, kitten, local(park, y, 10, 1, 22, 0))
    old = cat("LEO-100M", born=date(2019, 6, 1), sex="male")
    sight(deployment, old, local(park, 2022, 3, 1, 3, 0))

    counts = counts_by_label([park], periods.years(2021, 2023))

    assert (counts["2021"].kittens, counts["2021"].subadults, counts["2021"].adults) == (1, 0, 0)
    assert (counts["2022"].kittens, counts["2022"].subadults, counts["2022"].adults) == (0, 1, 1)
    assert (counts["2023"].kittens, counts["2023"].subadults, counts["2023"].adults) == (0, 0, 1)
    # A kitten of 2019 is an adult in 2022.
    assert counts["2022"].individuals == 2


def test_age_class_is_judged_on_the_last_day_of_the_period(park):
    _, deployment = station_running(park, "A1")
    # Turns one on 15 June 2022: a kitten in the first half-year, a subadult in the year.
    young = cat("LEO-300F", born=date(2021, 6, 15))
    sight(deployment, young, local(park, 2022, 3, 1, 22, 0))
    first_half = periods.date_range(date(2022, 1, 1), date(2022, 6, 14))
    whole_year = periods.year(2022)

    half, year = census_counts(parks=[park], periods_=[first_half, whole_year])

    assert half.kittens == 1
    assert year.subadults == 1


def test_sql_age_cutoffs_agree_with_age_class_at_on_every_day_of_a_leap_year(settings):
    reference = date(2024, 2, 29)
    cut_sub, cut_adult = periods.age_cutoffs(
        reference, settings.AGE_CLASS_SUBADULT_FROM_MONTHS, settings.AGE_CLASS_ADULT_FROM_MONTHS
    )
    for offset in range(0, 1200, 1):
        birth = reference - timedelta(days=offset)
        expected = age_class_at(birth, reference)
        sql_like = (
            AgeClass.KITTEN
            if birth > cut_sub
            else AgeClass.SUBADULT
            if birth > cut_adult
            else AgeClass.ADULT
        )
        assert sql_like == expected, birth


def test_unknown_birth_and_sex_are_counted_as_unknown(park):
    _, deployment = station_running(park, "A1")
    sight(deployment, cat("LEO-400U", born=None, sex="unknown"), local(park, 2024, 5, 1, 1, 0))

    (count,) = census_counts(parks=[park], periods_=[periods.year(2024)])

    assert (count.individuals, count.age_unknown, count.sex_unknown) == (1, 1, 1)


def test_only_confirmed_sightings_count(park):
    _, deployment = station_running(park, "A1")
    sight(
        deployment,
        cat("LEO-1F", date(2015, 1, 1)),
        local(park, 2024, 5, 1, 1, 0),
        status=Sighting.Status.PROPOSED,
    )

    (count,) = census_counts(parks=[park], periods_=[periods.year(2024)])

    assert count.individuals == 0


def test_sex_new_returning_and_known_alive(park):
    _, deployment = station_running(park, "A1")
    resident = cat("LEO-1F", date(2015, 1, 1), "female")
    newcomer = cat("LEO-2M", date(2016, 1, 1), "male")
    hiding = cat("LEO-3F", date(2015, 1, 1), "female")
    sight(deployment, resident, local(park, 2023, 4, 1, 1, 0))
    sight(deployment, resident, local(park, 2024, 4, 1, 1, 0))
    sight(deployment, newcomer, local(park, 2024, 7, 1, 1, 0))
    # Seen in 2023 and 2025 but not in 2024: alive in 2024 all the same.
    sight(deployment, hiding, local(park, 2023, 4, 1, 1, 0))
    sight(deployment, hiding, local(park, 2025, 4, 1, 1, 0))

    counts = counts_by_label([park], periods.years(2023, 2024))

    y2024 = counts["2024"]
    assert (y2024.individuals, y2024.females, y2024.males) == (2, 1, 1)
    assert (y2024.new, y2024.returning) == (1, 1)
    assert y2024.known_alive == 3
    assert (counts["2023"].new, counts["2023"].returning) == (2, 0)


def test_flank_minimum_pairs_left_only_with_right_only_records(park):
    _, deployment = station_running(park, "A1")
    when = local(park, 2024, 5, 1, 1, 0)
    both = cat("LEO-1F", date(2015, 1, 1))
    sight(deployment, both, when, Flank.LEFT)
    sight(deployment, both, when + timedelta(days=3), Flank.RIGHT)
    for code in ("LEO-2L", "LEO-3L"):
        sight(deployment, cat(code, date(2015, 1, 1)), when, Flank.LEFT)
    sight(deployment, cat("LEO-4R", date(2015, 1, 1)), when, Flank.RIGHT)

    (count,) = census_counts(parks=[park], periods_=[periods.year(2024)])

    assert (count.left_only, count.right_only) == (2, 1)
    # The right-only record may be one of the two left-only ones.
    assert (count.minimum, count.maximum) == (3, 4)


def test_a_flank_seen_in_another_year_still_pairs_the_record(park):
    _, deployment = station_running(park, "A1")
    leopard = cat("LEO-1F", date(2015, 1, 1))
    sight(deployment, leopard, local(park, 2024, 5, 1, 1, 0), Flank.LEFT)
    sight(deployment, leopard, local(park, 2022, 5, 1, 1, 0), Flank.RIGHT)

    (count,) = census_counts(parks=[park], periods_=[periods.year(2024)])

    assert (count.left_only, count.right_only, count.minimum) == (0, 0, 1)


def test_landscape_counts_a_border_crossing_cat_once(park, other_park):
    _, here = station_running(park, "A1")
    _, there = station_running(other_park, "B1")
    crosser = cat("LEO-9M", date(2015, 1, 1), "male")
    sight(here, crosser, local(park, 2024, 3, 1, 1, 0))
    sight(there, crosser, local(other_park, 2024, 9, 1, 1, 0))
    sight(there, cat("LEO-8F", date(2015, 1, 1)), local(other_park, 2024, 9, 2, 1, 0))

    year = [periods.year(2024)]
    (alpha,) = census_counts(parks=[park], periods_=year)
    (beta,) = census_counts(parks=[other_park], periods_=year)
    (landscape,) = census_counts(parks=[park, other_park], periods_=year)

    assert (alpha.individuals, beta.individuals) == (1, 2)
    assert landscape.individuals == 2
    assert landscape.several_parks == 1


def test_periods_follow_each_parks_local_days(park, other_park):
    # 23:30 on 31 December in Shanghai is already 1 January in Vladivostok.
    _, there = station_running(other_park, "B1")
    sight(there, cat("LEO-8F", date(2015, 1, 1)), local(other_park, 2023, 12, 31, 23, 30))

    y2023, y2024 = census_counts(parks=[park, other_park], periods_=periods.years(2023, 2024))

    assert (y2023.individuals, y2024.individuals) == (1, 0)


def test_seasons_and_months_split_the_year(park):
    _, deployment = station_running(park, "A1")
    sight(deployment, cat("LEO-1F", date(2015, 1, 1)), local(park, 2024, 1, 15, 1, 0))
    sight(deployment, cat("LEO-2F", date(2015, 1, 1)), local(park, 2024, 7, 15, 1, 0))

    seasons = periods.split(periods.SEASON, date(2024, 1, 1), date(2024, 12, 31))
    by_season = counts_by_label([park], seasons)

    assert [p.label for p in seasons] == [
        "2024 winter",
        "2024 spring",
        "2024 summer",
        "2024 autumn",
        "2025 winter",
    ]
    assert by_season["2024 winter"].individuals == 1
    assert by_season["2024 summer"].individuals == 1
    assert len(periods.split(periods.MONTH, date(2024, 1, 1), date(2024, 12, 31))) == 12


def test_individuals_seen_lists_each_cat_with_its_age_class_and_flanks(park):
    _, deployment = station_running(park, "A1")
    kitten = cat("LEO-5F", date(2024, 4, 1))
    sight(deployment, kitten, local(park, 2024, 9, 1, 1, 0), Flank.RIGHT)
    sight(deployment, kitten, local(park, 2024, 9, 2, 1, 0), Flank.RIGHT)

    (row,) = individuals_seen(parks=[park], period=periods.year(2024))

    assert row["code"] == "LEO-5F"
    assert row["age_class"] == "kitten"
    assert row["flanks"] == "right"
    assert row["sightings"] == 2
