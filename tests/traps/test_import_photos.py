"""The import_photos command walks a card dump through the same service as the page."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.factories import DeploymentFactory, jpeg_bytes
from tests.traps.images import truncated_jpeg
from traps.models import Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(tmp_path):
    dcim = tmp_path / "card" / "DCIM" / "100PANTH"
    dcim.mkdir(parents=True)
    for i in range(3):
        (dcim / f"IMG_{i:04d}.JPG").write_bytes(jpeg_bytes(seed=200 + i))
    (dcim / "IMG_0003.JPG").write_bytes(truncated_jpeg())
    (dcim / "IMG_0004.xml").write_text("<annotation/>")
    (dcim / "EMPTY.JPG").write_bytes(b"")
    return tmp_path / "card"


def _run(card, deployment, *extra) -> str:
    out = io.StringIO()
    call_command("import_photos", str(card), "--deployment", str(deployment.pk), *extra, stdout=out)
    return out.getvalue()


def test_imports_a_card_and_reports_each_rejection(card, park, django_capture_on_commit_callbacks):
    deployment = DeploymentFactory(station__park=park)
    with django_capture_on_commit_callbacks(execute=True):
        summary = json.loads(_run(card, deployment, "--format", "json"))
    assert (summary["stored"], summary["duplicates"], summary["rejected"]) == (3, 0, 3)
    reasons = {item["file"]: item["code"] for item in summary["rejected_files"]}
    assert reasons == {
        "DCIM/100PANTH/EMPTY.JPG": "empty",
        "DCIM/100PANTH/IMG_0003.JPG": "truncated",
        "DCIM/100PANTH/IMG_0004.xml": "not_an_image",
    }
    assert Photo.objects.filter(status=Photo.Status.PROCESSED).count() == 3


def test_importing_the_same_card_twice_stores_nothing_twice(card, park):
    deployment = DeploymentFactory(station__park=park)
    _run(card, deployment)
    text = _run(card, deployment)
    assert "6 files: 0 stored, 3 duplicates, 3 rejected" in text
    assert Photo.objects.count() == 3


def test_refuses_an_unknown_deployment(card):
    with pytest.raises(CommandError):
        call_command("import_photos", str(card), "--deployment", "999999", stdout=io.StringIO())
