"""Density fits from the survey page: queued as a task, followed, stored and shown."""

import csv
import io
from datetime import date

import pytest
from django.urls import reverse

from census.models import DensityRun
from census.services import density_run_execute, density_run_request
from tests.census.helpers import cat, grid_park, local, sight, simulated_survey, station_running

pytestmark = pytest.mark.django_db

SURVEY = {"start": "2024-06-01", "end": "2024-06-30", "detectfn": "halfnormal", "buffer_km": "6"}


@pytest.fixture
def grid_survey(park):
    deployments = grid_park(park)
    return simulated_survey(park, deployments, date(2024, 6, 1))


def test_fit_button_queues_a_run_that_a_worker_completes(
    client, scientist, grid_survey, django_capture_on_commit_callbacks
):
    client.force_login(scientist)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("census:density-start", args=["alpha"]), SURVEY)

    assert response.status_code == 302
    assert response.url.endswith("#density")
    assert len(callbacks) == 1
    run = DensityRun.objects.get()
    assert run.status == DensityRun.Status.DONE
    assert run.progress == 100
    assert run.requested_by == scientist
    assert run.occasion_days == 1
    assert run.buffer_m == 6000
    assert run.result["n_animals"] == grid_survey.n_animals
    # 40 leopards per 100 km2 were simulated.
    assert run.lcl_per_100km2 < 40 < run.ucl_per_100km2


def test_status_reports_progress_as_json(client, scientist, park):
    run = DensityRun.objects.create(
        park=park, start=date(2024, 6, 1), end=date(2024, 6, 30), buffer_m=6000, progress=40
    )
    client.force_login(scientist)

    data = client.get(reverse("census:density-status", args=["alpha", run.pk])).json()

    assert data == {"status": "queued", "status_label": "queued", "progress": 40, "finished": False}


def test_survey_page_shows_a_running_fit_with_a_progress_bar(client, scientist, park):
    DensityRun.objects.create(
        park=park,
        start=date(2024, 6, 1),
        end=date(2024, 6, 30),
        buffer_m=6000,
        status=DensityRun.Status.RUNNING,
        progress=35,
    )
    client.force_login(scientist)

    html = client.get(reverse("census:survey", args=["alpha"])).content.decode()

    assert '<progress class="density-progress" max="100" value="35"' in html
    assert "js/census-survey.js" in html


def test_finished_fit_shows_density_and_every_parameter_as_csv(client, scientist, grid_survey):
    park = grid_survey and DensityRun._meta.get_field("park").related_model.objects.get()
    run = density_run_request(
        park=park,
        start=date(2024, 6, 1),
        end=date(2024, 6, 30),
        occasion_days=1,
        detectfn="halfnormal",
        buffer_m=6000,
    )
    density_run_execute(run_id=run.pk)
    run.refresh_from_db()
    client.force_login(scientist)

    html = client.get(reverse("census:survey", args=["alpha"])).content.decode()
    response = client.get(reverse("census:density-csv", args=["alpha", run.pk]))

    assert f'data-run="{run.pk}"' in html
    assert f"{run.density_per_100km2:.2f}" in html
    rows = {row[0]: row for row in csv.reader(io.StringIO(response.content.decode()))}
    assert float(rows["D per 100 km2"][1]) == pytest.approx(run.density_per_100km2)
    assert set(rows) >= {"D", "g0", "sigma", "N in the park", "loglik", "mask_points"}


def test_run_without_enough_data_stores_a_translated_reason(client, scientist, park):
    _station, deployment = station_running(park, "A1")
    sight(deployment, cat("LEO-1F", date(2015, 1, 1)), local(park, 2024, 6, 2, 22, 0))
    run = density_run_request(
        park=park,
        start=date(2024, 6, 1),
        end=date(2024, 6, 30),
        occasion_days=1,
        detectfn="halfnormal",
        buffer_m=6000,
    )
    density_run_execute(run_id=run.pk)
    run.refresh_from_db()

    assert run.status == DensityRun.Status.DONE
    assert run.density_per_100km2 is None
    assert "only 1 animals detected" in run.reason
    client.force_login(scientist)
    html = client.get(reverse("census:survey", args=["alpha"]), HTTP_ACCEPT_LANGUAGE="ru")
    assert "обнаружено животных: всего 1" in html.content.decode()


def test_execute_leaves_a_finished_or_deleted_run_alone(park):
    run = DensityRun.objects.create(
        park=park,
        start=date(2024, 6, 1),
        end=date(2024, 6, 30),
        buffer_m=6000,
        status=DensityRun.Status.DONE,
        density_per_100km2=1.5,
    )

    density_run_execute(run_id=run.pk)
    density_run_execute(run_id=run.pk + 1000)

    run.refresh_from_db()
    assert run.density_per_100km2 == 1.5


def _two_adults_seen_2020_to_2023(park) -> None:
    """Both adults are alive to the end: survival sits at its boundary of 1."""
    _station, deployment = station_running(park, "A1", 2018, 2024)
    for code, years in (("LEO-1F", (2020, 2021, 2022, 2023)), ("LEO-2M", (2020, 2022, 2023))):
        leopard = cat(code, date(2012, 1, 1))
        for year in years:
            sight(deployment, leopard, local(park, year, 6, 1, 22, 0))


def test_park_dashboard_shows_the_latest_density_and_adult_survival(client, manager, park):
    run = DensityRun.objects.create(
        park=park,
        start=date(2024, 1, 1),
        end=date(2024, 3, 31),
        buffer_m=12000,
        status=DensityRun.Status.DONE,
        density_per_100km2=0.98,
        lcl_per_100km2=0.71,
        ucl_per_100km2=1.35,
        result={"N": {"estimate": 27.4}},
    )
    _two_adults_seen_2020_to_2023(park)
    client.force_login(manager)

    html = client.get(reverse("census:park", args=["alpha"]), {"year": 2023}).content.decode()

    assert 'data-figure="density">0.98<' in html
    assert "0.71\u20131.35" in html
    assert "survey 2024-01-01 to 2024-03-31" in html
    assert 'data-figure="survival"' in html
    assert run.pk


def test_an_estimate_without_an_interval_says_so_instead_of_an_empty_interval(
    client, manager, park
):
    # Survival at its boundary (1.0) has no SE.
    DensityRun.objects.create(
        park=park,
        start=date(2024, 1, 1),
        end=date(2024, 3, 31),
        buffer_m=12000,
        status=DensityRun.Status.DONE,
        density_per_100km2=1.0,
    )
    _two_adults_seen_2020_to_2023(park)
    client.force_login(manager)

    html = client.get(reverse("census:park", args=["alpha"]), {"year": 2023}).content.decode()

    assert "95% interval \u2013<" not in html
    assert html.count("data-no-interval") == 2
    assert "too few to bound this estimate" in html


def test_outsiders_cannot_start_follow_or_download_fits(client, outsider, park):
    run = DensityRun.objects.create(
        park=park, start=date(2024, 6, 1), end=date(2024, 6, 30), buffer_m=6000
    )
    client.force_login(outsider)

    assert client.post(reverse("census:density-start", args=["alpha"]), SURVEY).status_code == 404
    assert client.get(reverse("census:density-status", args=["alpha", run.pk])).status_code == 404
    assert client.get(reverse("census:density-csv", args=["alpha", run.pk])).status_code == 404
    assert DensityRun.objects.count() == 1


def test_invalid_fit_request_is_refused_without_a_run(client, scientist, park):
    client.force_login(scientist)

    response = client.post(
        reverse("census:density-start", args=["alpha"]), {**SURVEY, "buffer_km": "-1"}
    )

    assert response.status_code == 302
    assert "start=2024-06-01" in response.url
    assert DensityRun.objects.count() == 0
    page = client.get(response.url).content.decode()
    assert "Ensure this value is greater than or equal to 0.5" in page


def test_api_lists_the_density_fits_of_the_users_parks_only(client, manager, park, other_park):
    mine = DensityRun.objects.create(
        park=park,
        start=date(2024, 6, 1),
        end=date(2024, 6, 30),
        buffer_m=6000,
        status=DensityRun.Status.DONE,
        density_per_100km2=1.2,
        result={"D_per_ha": 0.00012, "sigma": 2500.0},
    )
    DensityRun.objects.create(
        park=other_park, start=date(2024, 6, 1), end=date(2024, 6, 30), buffer_m=6000
    )
    client.force_login(manager)

    response = client.get("/api/density-runs/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [mine.pk]
    assert rows[0]["park_code"] == "alpha"
    assert rows[0]["result"]["sigma"] == 2500.0
    assert client.get(f"/api/density-runs/{mine.pk + 1}/").status_code == 404


def test_a_fit_that_crashes_is_marked_failed_not_left_running(park, monkeypatch):
    run = DensityRun.objects.create(
        park=park, start=date(2024, 6, 1), end=date(2024, 6, 30), buffer_m=6000
    )

    def crash(**kwargs):
        raise MemoryError

    monkeypatch.setattr("census.services.registry_survey", crash)
    density_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == DensityRun.Status.FAILED
    assert run.finished
    assert run.reason == "MemoryError"
