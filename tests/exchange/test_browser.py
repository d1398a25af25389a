"""A scientist downloads a package and sees why a bad package is refused, in a real browser."""

import json
import zipfile

import pytest

from tests.conftest import browser_login
from tests.exchange.helpers import build_registry
from tests.exchange.test_camtrap_dp_import import third_party_package
from traps.exchange.camtrap_dp.export import package_zip
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
    with page.expect_download() as download:
        page.click("text=Download package")
    download.value.save_as(tmp_path / "got.zip")
    page.click("text=Import a Camtrap DP package")
    page.set_input_files("#id_package", str(tmp_path / "bad.zip"))
    page.click("text=Check and import")

    archive = zipfile.ZipFile(tmp_path / "got.zip")
    assert json.loads(archive.read("datapackage.json"))["coordinatePrecision"] == 0.1
    assert page.locator(".problems").is_visible()
    assert "deploymentStart" in page.locator(".problem-list").inner_text()
    assert not Photo.objects.filter(deployment__station__code="loc-A").exists()
