"""Data exchange pages: who may download, import and review; outsiders get a 404."""

import io
import json
import zipfile

import pytest
from django.urls import reverse

from exchange.camtrap_dp.export import package_zip
from exchange.models import DetectorResult
from leopards.models import Sighting
from tests.exchange.helpers import build_registry
from tests.exchange.test_camtrap_dp_import import third_party_package
from tests.factories import DeploymentFactory, PhotoFactory
from traps.models import Event, Photo

pytestmark = pytest.mark.django_db


def _zip_of(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


@pytest.fixture
def run_job(client, django_capture_on_commit_callbacks):
    """Post a form that queues a job, run the job as the worker would, open its page."""

    def post(url: str, data: dict):
        with django_capture_on_commit_callbacks(execute=True):
            queued = client.post(url, data)
        assert queued.status_code == 302, queued.status_code
        return client.get(queued["Location"])

    return post


def _download(client, job_page) -> zipfile.ZipFile:
    job = job_page.context["job"]
    return _zip_of(client.get(reverse("exchange:job-download", args=[job.key])))


@pytest.mark.parametrize("who", ["scientist", "manager", "registry_admin"])
def test_exchange_page_answers_scientists_managers_and_admins(client, request, who):
    client.force_login(request.getfixturevalue(who))

    response = client.get(reverse("exchange:index"))

    assert response.status_code == 200
    assert "Download a Camtrap DP package" in response.text


def test_exchange_is_not_for_rangers(client, ranger):
    client.force_login(ranger)

    assert client.get(reverse("exchange:index")).status_code == 404
    assert client.get(reverse("exchange:import-package")).status_code == 404


def test_navigation_shows_data_exchange_to_managers_not_rangers(client, manager, ranger):
    client.force_login(manager)
    assert "Data exchange" in client.get(reverse("home")).text
    client.force_login(ranger)
    assert "Data exchange" not in client.get(reverse("home")).text


def test_download_is_a_zip_with_generalised_coordinates(client, park, manager, run_job):
    build_registry(park)
    client.force_login(manager)

    page = run_job(reverse("exchange:export"), {"park": "alpha", "exact_coordinates": "on"})

    assert page.status_code == 200
    assert "Download package" in page.text
    job = page.context["job"]
    response = client.get(reverse("exchange:job-download", args=[job.key]))
    assert response["Content-Disposition"].startswith("attachment")
    archive = _zip_of(response)
    assert "datapackage.json" in archive.namelist()
    assert json.loads(archive.read("datapackage.json"))["coordinatePrecision"] == 0.1
    assert b"43.123456" not in archive.read("deployments.csv")


def test_scientist_of_the_park_may_download_exact_coordinates_when_asked(
    client, park, scientist, run_job
):
    build_registry(park)
    client.force_login(scientist)

    asked = _download(
        client, run_job(reverse("exchange:export"), {"park": "alpha", "exact_coordinates": "on"})
    )
    not_asked = _download(client, run_job(reverse("exchange:export"), {"park": "alpha"}))

    assert b"43.123456" in asked.read("deployments.csv")
    assert b"43.123456" not in not_asked.read("deployments.csv")


def test_download_of_another_park_is_a_404(client, park, outsider):
    build_registry(park)
    client.force_login(outsider)

    assert client.post(reverse("exchange:export"), {"park": "alpha"}).status_code == 404


def test_import_page_answers_scientists_and_not_managers(client, scientist, manager):
    client.force_login(scientist)
    assert client.get(reverse("exchange:import-package")).status_code == 200
    assert client.get(reverse("exchange:import-megadetector")).status_code == 200
    client.force_login(manager)
    assert client.get(reverse("exchange:import-package")).status_code == 404
    assert client.get(reverse("exchange:import-megadetector")).status_code == 404


def test_upload_of_a_package_imports_it(client, park, scientist, tmp_path, run_job):
    folder = third_party_package(tmp_path / "pkg")
    package_zip(folder, tmp_path / "p.zip")
    client.force_login(scientist)

    with open(tmp_path / "p.zip", "rb") as fh:
        response = run_job(reverse("exchange:import-package"), {"park": "alpha", "package": fh})

    assert response.status_code == 200
    assert "Import into Alpha Leopard Park" in response.text
    assert "Photos (media records): 4" in response.text
    assert Photo.objects.filter(deployment__station__park=park).count() == 4
    assert not response.context["job"].file  # the upload is not kept


def test_upload_of_an_invalid_package_lists_its_problems(
    client, park, scientist, tmp_path, run_job
):
    folder = third_party_package(tmp_path / "pkg")
    (folder / "deployments.csv").write_text("deploymentID,latitude\nx,500\n")
    package_zip(folder, tmp_path / "p.zip")
    client.force_login(scientist)

    with open(tmp_path / "p.zip", "rb") as fh:
        response = run_job(reverse("exchange:import-package"), {"park": "alpha", "package": fh})

    assert response.context["job"].status == "failed"
    assert "The package was refused; nothing was imported." in response.text
    assert "deploymentStart" in response.text
    assert not Photo.objects.exists()


def test_import_into_another_park_is_a_404(client, park, outsider, tmp_path):
    folder = third_party_package(tmp_path / "pkg")
    package_zip(folder, tmp_path / "p.zip")
    client.force_login(outsider)

    with open(tmp_path / "p.zip", "rb") as fh:
        response = client.post(reverse("exchange:import-package"), {"park": "alpha", "package": fh})

    assert response.status_code == 404
    assert not Photo.objects.exists()


def test_megadetector_upload_proposes_boxes(client, park, scientist, tmp_path):
    deployment = DeploymentFactory(station__park=park)
    photo = PhotoFactory(deployment=deployment, original_name="IMG_0001.JPG")
    results = tmp_path / "md.json"
    results.write_text(
        json.dumps(
            {
                "detection_categories": {"1": "animal", "2": "person"},
                "images": [
                    {
                        "file": "card/IMG_0001.JPG",
                        "detections": [
                            {"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.3, 0.3]}
                        ],
                    },
                    {"file": "card/IMG_0404.JPG", "detections": []},
                ],
            }
        )
    )
    client.force_login(scientist)

    with open(results, "rb") as fh:
        response = client.post(
            reverse("exchange:import-megadetector"),
            {"deployment": deployment.pk, "threshold": "0.2", "results": fh},
        )

    assert response.status_code == 200
    assert "card/IMG_0404.JPG" in response.text
    assert Sighting.objects.get(photo=photo).source == Sighting.Source.DETECTOR


def test_megadetector_upload_for_another_parks_deployment_is_a_404(client, other_park, scientist):
    deployment = DeploymentFactory(station__park=other_park)
    client.force_login(scientist)

    response = client.post(
        reverse("exchange:import-megadetector"),
        {"deployment": deployment.pk, "threshold": "0.2", "results": io.BytesIO(b"{}")},
    )

    assert response.status_code == 404


def test_likely_blank_events_are_recorded_as_blank_in_bulk(client, park, scientist, outsider):
    deployment = DeploymentFactory(station__park=park)
    event = Event.objects.create(
        deployment=deployment, start=deployment.start, end=deployment.start
    )
    for n in range(2):
        photo = PhotoFactory(deployment=deployment, event=event, original_name=f"B{n}.JPG")
        DetectorResult.objects.create(photo=photo, threshold=0.2, likely_blank=True)
    mixed = Event.objects.create(
        deployment=deployment, start=deployment.start, end=deployment.start
    )
    PhotoFactory(deployment=deployment, event=mixed)
    DetectorResult.objects.create(
        photo=PhotoFactory(deployment=deployment, event=mixed), threshold=0.2, likely_blank=True
    )
    client.force_login(outsider)
    assert client.post(reverse("exchange:likely-blanks"), {"event": [event.pk]}).status_code == 302
    event.refresh_from_db()
    assert event.content == Event.Content.UNKNOWN  # not the outsider's park
    client.force_login(scientist)

    page = client.get(reverse("exchange:likely-blanks"))
    client.post(reverse("exchange:likely-blanks"), {"event": [event.pk, mixed.pk]})

    assert list(page.context["events"]) == [event]
    event.refresh_from_db()
    mixed.refresh_from_db()
    assert (event.content, event.status) == (Event.Content.BLANK, Event.Status.REVIEWED)
    assert mixed.content == Event.Content.UNKNOWN


def test_likely_blank_list_makes_a_fixed_number_of_queries(
    client, park, scientist, django_assert_num_queries
):
    deployment = DeploymentFactory(station__park=park)
    for _n in range(5):
        event = Event.objects.create(
            deployment=deployment, start=deployment.start, end=deployment.start
        )
        DetectorResult.objects.create(
            photo=PhotoFactory(deployment=deployment, event=event), threshold=0.2, likely_blank=True
        )
    client.force_login(scientist)
    client.get(reverse("exchange:likely-blanks"))

    with django_assert_num_queries(5):
        response = client.get(reverse("exchange:likely-blanks"))

    assert len(response.context["events"]) == 5


def test_an_export_only_queues_and_its_page_shows_the_progress(
    client, park, manager, django_capture_on_commit_callbacks
):
    build_registry(park)
    client.force_login(manager)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("exchange:export"), {"park": "alpha"})
    page = client.get(response["Location"])
    status = client.get(reverse("exchange:job-status", args=[page.context["job"].key])).json()

    assert len(callbacks) == 1  # the worker's task, queued after the commit
    assert "<progress" in page.text
    assert (status["status"], status["finished"]) == ("queued", False)
    assert "Download package" not in page.text
    assert "Your exports and imports" in client.get(reverse("exchange:index")).text


def test_the_export_task_reports_its_progress_and_runs_twice_safely(park, manager):
    from exchange import jobs, tasks
    from exchange.models import ExchangeJob

    build_registry(park)
    job = jobs.export_job_queue(
        user=manager, park=park, start=None, end=None, exact_coordinates=False
    )

    tasks.exchange_export(job_id=job.pk)
    tasks.exchange_export(job_id=job.pk)  # a redelivered message finds it done
    tasks.exchange_export(job_id=0)  # a job deleted meanwhile

    job.refresh_from_db()
    assert (job.status, job.percent) == (ExchangeJob.Status.DONE, 100)
    assert job.done == job.total == 4
    assert zipfile.ZipFile(job.file.open("rb")).read("datapackage.json")


def test_a_job_is_only_its_requesters(client, park, manager, scientist, run_job):
    build_registry(park)
    client.force_login(manager)
    job = run_job(reverse("exchange:export"), {"park": "alpha"}).context["job"]
    client.force_login(scientist)

    assert client.get(reverse("exchange:job", args=[job.key])).status_code == 404
    assert client.get(reverse("exchange:job-download", args=[job.key])).status_code == 404


def test_an_import_reports_its_rows_through_the_cache_while_it_runs(park, scientist, tmp_path):
    from django.core.cache import cache
    from django.core.files.uploadedfile import SimpleUploadedFile

    from exchange import jobs
    from exchange.models import ExchangeJob
    from tests.exchange.packages import partner_package

    archive = package_zip(partner_package(tmp_path / "cn"), tmp_path / "cn.zip")
    upload = SimpleUploadedFile("cn.zip", archive.read_bytes())
    job = jobs.import_job_queue(user=scientist, park=park, upload=upload, organisation="NETLNP")
    # What the page reads while the worker is half way.
    job.status = ExchangeJob.Status.RUNNING
    cache.set(jobs.progress_key(job.pk), (11, 22))
    assert jobs.job_progress(job).percent == 50

    jobs.import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ExchangeJob.Status.DONE
    assert (job.done, job.total) == (22, 22)  # 8 media and 14 observations
    assert cache.get(jobs.progress_key(job.pk)) is None


def test_the_exchange_page_shows_a_running_imports_progress(client, park, scientist, tmp_path):
    from django.core.cache import cache
    from django.core.files.uploadedfile import SimpleUploadedFile

    from exchange import jobs
    from exchange.models import ExchangeJob
    from tests.exchange.packages import partner_package

    archive = package_zip(partner_package(tmp_path / "cn"), tmp_path / "cn.zip")
    upload = SimpleUploadedFile("cn.zip", archive.read_bytes())
    job = jobs.import_job_queue(user=scientist, park=park, upload=upload, organisation="NETLNP")
    ExchangeJob.objects.filter(pk=job.pk).update(status=ExchangeJob.Status.RUNNING)
    # What the worker has told after its first batches.
    cache.set(jobs.progress_key(job.pk), (11, 44))
    client.force_login(scientist)

    page = client.get(reverse("exchange:index")).text

    assert '<progress max="100" value="25">' in page
    cache.delete(jobs.progress_key(job.pk))
