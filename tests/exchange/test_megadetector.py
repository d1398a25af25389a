"""MegaDetector results: proposed boxes above the threshold, likely blanks, people flagged."""

import json

import pytest
from django.core.management import CommandError, call_command

from exchange.camtrap_dp.validation import PackageInvalid
from exchange.megadetector import megadetector_import, results_parse
from exchange.models import DetectorResult
from leopards.models import Sighting
from tests.factories import DeploymentFactory, PhotoFactory

pytestmark = pytest.mark.django_db


def results(*images: dict) -> dict:
    return {
        "info": {"format_version": "1.4", "detector": "md_v5a.0.0.pt"},
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "images": list(images),
    }


@pytest.fixture
def card(park):
    deployment = DeploymentFactory(station__park=park)
    names = ["IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG", "IMG_0004.JPG"]
    return deployment, {
        name: PhotoFactory(deployment=deployment, original_name=name) for name in names
    }


def test_animal_above_threshold_becomes_a_proposed_detector_sighting(card):
    deployment, photos = card
    data = results(
        {
            "file": "DCIM\\100MEDIA\\IMG_0001.JPG",
            "detections": [
                {"category": "1", "conf": 0.93, "bbox": [0.1, 0.2, 0.3, 0.4]},
                {"category": "1", "conf": 0.05, "bbox": [0.6, 0.6, 0.1, 0.1]},
            ],
        }
    )

    summary = megadetector_import(data=data, deployment=deployment, threshold=0.2)

    sighting = Sighting.objects.get(photo=photos["IMG_0001.JPG"])
    assert (sighting.status, sighting.source) == (
        Sighting.Status.PROPOSED,
        Sighting.Source.DETECTOR,
    )
    assert sighting.detection_confidence == 0.93
    assert (sighting.bbox_x, sighting.bbox_y, sighting.bbox_w, sighting.bbox_h) == (
        0.1,
        0.2,
        0.3,
        0.4,
    )
    assert (summary.proposed_boxes, summary.below_threshold) == (1, 1)
    result = DetectorResult.objects.get(photo=photos["IMG_0001.JPG"])
    assert not result.likely_blank and result.detector == "md_v5a.0.0.pt"


def test_empty_photo_is_flagged_likely_blank(card):
    deployment, photos = card
    data = results(
        {"file": "IMG_0002.JPG", "detections": []},
        {
            "file": "IMG_0003.JPG",
            "detections": [{"category": "1", "conf": 0.1, "bbox": [0, 0, 1, 1]}],
        },
    )

    summary = megadetector_import(data=data, deployment=deployment, threshold=0.2)

    assert DetectorResult.objects.get(photo=photos["IMG_0002.JPG"]).likely_blank
    assert DetectorResult.objects.get(photo=photos["IMG_0003.JPG"]).likely_blank
    assert summary.likely_blank == 2
    assert not Sighting.objects.exists()


def test_person_is_flagged_so_the_photo_can_be_hidden(card):
    deployment, photos = card
    data = results(
        {
            "file": "IMG_0004.JPG",
            "detections": [{"category": "2", "conf": 0.8, "bbox": [0.4, 0.1, 0.2, 0.7]}],
        }
    )

    megadetector_import(data=data, deployment=deployment)

    result = DetectorResult.objects.get(photo=photos["IMG_0004.JPG"])
    assert result.shows_person and not result.likely_blank
    assert not Sighting.objects.exists()


def test_unknown_ambiguous_and_failed_files_are_reported(card):
    deployment, _photos = card
    PhotoFactory(deployment=deployment, original_name="IMG_0004.JPG")  # a second card
    data = results(
        {"file": "IMG_9999.JPG", "detections": []},
        {"file": "IMG_0004.JPG", "detections": []},
        {"file": "IMG_0003.JPG", "failure": "Failure image access", "detections": None},
    )

    summary = megadetector_import(data=data, deployment=deployment)

    assert summary.unknown_files == ["IMG_9999.JPG"]
    assert summary.ambiguous_files == ["IMG_0004.JPG"]
    assert summary.failed_files == ["IMG_0003.JPG: Failure image access"]
    assert summary.matched == 0
    assert len(summary.run.warnings) == 3


def test_photos_of_another_deployment_are_not_matched(card, park):
    deployment, _photos = card
    elsewhere = DeploymentFactory(station__park=park)
    PhotoFactory(deployment=elsewhere, original_name="IMG_7777.JPG")

    summary = megadetector_import(
        data=results({"file": "IMG_7777.JPG", "detections": []}), deployment=deployment
    )

    assert summary.unknown_files == ["IMG_7777.JPG"]
    assert not DetectorResult.objects.exists()


def test_importing_the_same_results_twice_adds_no_second_box(card):
    deployment, _photos = card
    data = results(
        {
            "file": "IMG_0001.JPG",
            "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}],
        }
    )

    megadetector_import(data=data, deployment=deployment)
    summary = megadetector_import(data=data, deployment=deployment)

    assert Sighting.objects.count() == 1
    assert summary.existing_boxes == 1
    assert DetectorResult.objects.count() == 1


def test_results_that_are_not_megadetector_output_are_refused():
    with pytest.raises(PackageInvalid):
        results_parse(b'{"images": [{"file": "a.jpg", "detections": [{"category": "9"}]}]}')
    with pytest.raises(PackageInvalid):
        results_parse(b"not json")


def test_command_imports_a_results_file(card, tmp_path):
    deployment, _photos = card
    path = tmp_path / "md.json"
    path.write_text(
        json.dumps(
            results(
                {
                    "file": "IMG_0001.JPG",
                    "detections": [{"category": "1", "conf": 0.5, "bbox": [0.2, 0.2, 0.5, 0.5]}],
                }
            )
        )
    )

    call_command(
        "import_megadetector", str(path), "--deployment", str(deployment.pk), "--threshold", "0.4"
    )

    assert Sighting.objects.filter(source=Sighting.Source.DETECTOR).count() == 1
    with pytest.raises(CommandError):
        call_command("import_megadetector", str(path), "--deployment", "999999")
