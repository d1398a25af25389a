"""A scientist downloads a package and sees why a bad package is refused, in a real browser."""

import json
import os
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from exchange.camtrap_dp.export import package_zip
from tests.conftest import browser_login
from tests.exchange.helpers import build_registry, read_csv, write_csv
from tests.exchange.test_camtrap_dp_import import third_party_package
from traps.models import Photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_scientist_downloads_a_package_and_a_bad_upload_is_refused(page, park, scientist, tmp_path):
    build_registry(park)
    folder = third_party_package(tmp_path / "pkg")
    (folder / "deployments.csv").write_text("deploymentID,latitude\nx,500\n")
    package_zip(folder, tmp_path / "bad.zip")
    browser_login(page, scientist)

    # A scientist's occasional pages are under "More" in the top bar.
    page.click("nav.mainnav details.navmore summary")
    page.click("text=Data exchange")
    page.click("button:has-text('Download package')")
    # The request only queues the export; its page offers the file once a worker wrote it.
    with page.expect_download() as download:
        page.click("a:has-text('Download package')")
    download.value.save_as(tmp_path / "got.zip")
    page.click("text=← Data exchange")
    page.click("text=Import a Camtrap DP package")
    page.select_option("#id_park", "alpha")
    page.set_input_files("#id_package", str(tmp_path / "bad.zip"))
    page.click("text=Check and import")

    archive = zipfile.ZipFile(tmp_path / "got.zip")
    assert json.loads(archive.read("datapackage.json"))["coordinatePrecision"] == 0.1
    assert page.locator(".problems").is_visible()
    assert "deploymentStart" in page.locator(".problem-list").inner_text()
    assert not Photo.objects.filter(deployment__station__code="loc-A").exists()


def test_scientist_confirms_a_partners_cat_and_sees_it_on_the_review(
    page, park, scientist, tmp_path
):
    from leopards.models import Sighting
    from tests.exchange.packages import partner_package
    from tests.factories import LeopardFactory

    ours = LeopardFactory(code="LEO-112F")
    archive = package_zip(
        partner_package(tmp_path / "cn", local=frozenset({"m1", "m2"})), tmp_path / "cn.zip"
    )
    browser_login(page, scientist)

    page.click("nav.mainnav details.navmore summary")
    page.click("text=Data exchange")
    page.click("text=Import a Camtrap DP package")
    page.select_option("#id_park", park.code)
    page.set_input_files("#id_package", str(archive))
    page.fill("#id_organisation", "NETLNP")
    page.click("text=Check and import")
    assert "Observations: 14" in page.locator("#job").inner_text()
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    page.screenshot(path=str(shots / "job-1280.png"), full_page=True)
    page.click("text=← Data exchange")
    row = page.locator("table.partner-ids tr", has_text="NE-L12")
    row.locator("input[name=leopard]").fill("LEO-112F")
    row.locator("button").click()

    assert "NETLNP's NE-L12 is our LEO-112F." in page.locator("main").inner_text()
    assert "Siberian roe deer" in page.locator("table.taxa").inner_text()
    for width in (360, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(shots / f"exchange-{width}.png"), full_page=True)
    sighting = Sighting.objects.get(exchange_observation__identifier="o-m3")
    page.goto(page.base_url + reverse("leopards:event-review", args=[sighting.photo.event_id]))
    assert "NETLNP identified:" in page.locator("main").inner_text()
    assert Sighting.objects.filter(leopard=ours).count() == 1
    for width in (360, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(shots / f"review-{width}.png"), full_page=True)


def test_scientist_imports_a_package_that_names_no_park_into_the_proposed_one(
    page, park, scientist, tmp_path
):
    folder = third_party_package(tmp_path / "pkg")
    rows = read_csv(folder / "deployments.csv")
    write_csv(
        folder / "deployments.csv", [{**r, "deploymentGroups": "Alpha Leopard Park"} for r in rows]
    )
    package_zip(folder, tmp_path / "pkg.zip")
    browser_login(page, scientist)

    page.goto(f"{page.base_url}{reverse('exchange:import-package')}")
    page.set_input_files("#id_package", str(tmp_path / "pkg.zip"))
    page.click("text=Check and import")
    proposal = page.locator(".park-proposal")
    proposal.wait_for()
    for width in (360, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(tmp_path / f"proposal-{width}.png"), full_page=True)
    assert "Alpha Leopard Park" in proposal.inner_text()
    assert "its deployment groups name the park" in proposal.inner_text()
    page.click("text=Import into this park")
    page.locator(".job h2:has-text('Imported')").wait_for()
    for width in (360, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(tmp_path / f"imported-{width}.png"), full_page=True)

    assert Photo.objects.filter(deployment__station__park=park).exists()
