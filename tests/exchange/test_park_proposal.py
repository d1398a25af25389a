"""A package that names no park: the page proposes one of the user's parks, or a new one."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from exchange.camtrap_dp.export import package_zip
from exchange.models import ExchangeJob, ImportRun
from tests.exchange.helpers import read_csv, write_csv
from tests.exchange.test_camtrap_dp_import import third_party_package
from tests.factories import StationFactory
from traps.models import Park, Station

pytestmark = pytest.mark.django_db

# A square around the third-party package's camera (42.81 N, 130.91 E).
AROUND_THE_CAMERA = {
    "type": "Polygon",
    "coordinates": [[[130.8, 42.7], [131.0, 42.7], [131.0, 42.9], [130.8, 42.9], [130.8, 42.7]]],
}


def _package(tmp_path, *, groups: str = "", title: str = "Border survey", far: bool = False):
    folder = third_party_package(tmp_path / "package")
    rows = read_csv(folder / "deployments.csv")
    for row in rows:
        row["deploymentGroups"] = groups
        if far:
            row["latitude"], row["longitude"] = "-33.9", "18.4"
    write_csv(folder / "deployments.csv", rows)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    descriptor["project"]["title"] = title
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    package_zip(folder, tmp_path / "package.zip")
    return SimpleUploadedFile("package.zip", (tmp_path / "package.zip").read_bytes())


def _upload(client, package) -> ExchangeJob:
    response = client.post(reverse("exchange:import-package"), {"park": "", "package": package})
    assert response.status_code == 302, response.content[:500]
    job = ExchangeJob.objects.get()
    assert job.status == ExchangeJob.Status.WAITING and job.park is None
    return job


def test_proposes_the_park_its_deployment_groups_name_and_imports_once_confirmed(
    client, scientist, park, django_capture_on_commit_callbacks, tmp_path
):
    client.force_login(scientist)
    job = _upload(client, _package(tmp_path, groups="Alpha Leopard Park | summer 2023"))

    page = client.get(job.get_absolute_url())

    assert page.context["proposed_park"] == park
    assert "its deployment groups name the park" in page.text
    assert page.context["choice_form"]["park"].value() == "alpha"
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(reverse("exchange:job-park", args=[job.key]), {"park": "alpha"})
    assert confirmed.status_code == 302
    job.refresh_from_db()
    assert job.status == ExchangeJob.Status.DONE and job.park == park
    assert ImportRun.objects.get().park == park
    assert Station.objects.filter(park=park, code="loc-A").exists()


def test_proposes_the_park_whose_boundary_holds_the_cameras(client, scientist, park, tmp_path):
    park.boundary = AROUND_THE_CAMERA
    park.save()
    client.force_login(scientist)
    job = _upload(client, _package(tmp_path))

    page = client.get(job.get_absolute_url())

    assert page.context["proposed_park"] == park
    assert page.context["reasons"] == ["its cameras stand inside the park's boundary"]


def test_proposes_the_park_with_stations_near_the_cameras(
    client, scientist, park, other_park, tmp_path
):
    StationFactory(park=park, code="A-7", latitude="42.820000", longitude="130.920000")
    StationFactory(park=other_park, code="B-1", latitude="44.0", longitude="129.0")
    scientist.parks.add(other_park)
    client.force_login(scientist)
    job = _upload(client, _package(tmp_path))

    page = client.get(job.get_absolute_url())

    assert page.context["proposed_park"] == park
    assert "within 5.0 km of the park" in page.text


def test_proposes_a_new_park_to_an_admin_when_nothing_matches(
    client, registry_admin, park, django_capture_on_commit_callbacks, tmp_path
):
    client.force_login(registry_admin)
    job = _upload(client, _package(tmp_path, title="Cape leopard survey", far=True))

    page = client.get(job.get_absolute_url())

    assert page.context["proposed_park"] is None
    form = page.context["new_park_form"]
    assert form["name"].value() == "Cape leopard survey"
    assert form["time_zone"].value() == "Asia/Pyongyang"  # the package's +09:00
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            reverse("exchange:job-park", args=[job.key]),
            {
                "create": "1",
                "new-code": "cape",
                "new-name": "Cape leopard survey",
                "new-country": "KP",
                "new-area_km2": "120",
                "new-time_zone": "Asia/Pyongyang",
            },
        )
    assert created.status_code == 302
    new_park = Park.objects.get(code="cape")
    job.refresh_from_db()
    assert job.status == ExchangeJob.Status.DONE and job.park == new_park
    assert Station.objects.filter(park=new_park, code="loc-A").exists()


def test_tells_a_scientist_who_may_add_a_park_and_refuses_them_one(client, scientist, tmp_path):
    client.force_login(scientist)
    job = _upload(client, _package(tmp_path, title="Cape leopard survey", far=True))

    page = client.get(job.get_absolute_url())

    assert page.context["proposed_park"] is None
    assert page.context["new_park_form"] is None
    assert "only an administrator can add the park" in page.text
    assert "Cape leopard survey" in page.text
    refused = client.post(
        reverse("exchange:job-park", args=[job.key]),
        {"create": "1", "new-code": "cape", "new-name": "Cape", "new-country": "KP"},
    )
    assert refused.status_code == 404
    assert not Park.objects.filter(code="cape").exists()


def test_never_proposes_or_reveals_a_park_the_user_may_not_import_into(
    client, outsider, park, tmp_path
):
    # Every sign points to alpha, which the outsider (a scientist of beta) does not belong to.
    park.boundary = AROUND_THE_CAMERA
    park.save()
    StationFactory(park=park, code="loc-A", latitude="42.812345", longitude="130.912345")
    client.force_login(outsider)
    job = _upload(
        client, _package(tmp_path, groups="park:alpha | Alpha Leopard Park", title="Alpha survey")
    )

    page = client.get(job.get_absolute_url())

    assert page.context["proposed_park"] is None
    assert 'value="alpha"' not in page.text and "looks like" not in page.text
    assert [p.code for p in page.context["choice_form"].fields["park"].queryset] == ["beta"]
    forced = client.post(reverse("exchange:job-park", args=[job.key]), {"park": "alpha"})
    assert forced.status_code == 404
    job.refresh_from_db()
    assert job.status == ExchangeJob.Status.WAITING and job.park is None


def test_a_chosen_park_imports_without_a_proposal(
    client, scientist, park, django_capture_on_commit_callbacks, tmp_path
):
    client.force_login(scientist)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("exchange:import-package"), {"park": "alpha", "package": _package(tmp_path)}
        )
    assert response.status_code == 302
    job = ExchangeJob.objects.get()
    assert job.status == ExchangeJob.Status.DONE and "proposal" not in job.parameters


def test_an_unreadable_upload_without_a_park_is_refused_with_a_reason(client, scientist):
    client.force_login(scientist)

    response = client.post(
        reverse("exchange:import-package"),
        {"package": SimpleUploadedFile("package.zip", b"PK\x03\x04 not a zip")},
    )

    assert response.status_code == 400
    assert "could not be read to find its park" in response.text
    assert not ExchangeJob.objects.exists()
