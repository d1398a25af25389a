"""The shipped score calibration on real match figures and on held-out synthetic individuals."""

import json
from pathlib import Path

import pytest

from leopards import tasks
from leopards.matching.calibration import Calibration, Sample
from leopards.models import MatchCandidate, Sighting
from leopards.services import matching
from tests.factories import LeopardFactory
from tests.leopards.matching_photos import leopard_sighting

# Rankings measured on the real snow-leopard photos of ../shared/data (right_Cat1, same
# flank, own event left out; bench/calibration.py): the figures only, not the photos,
# which the project may not copy. "catalogued": false is the same query with every Cat1
# photo taken out of the catalogue, as a new individual.
REAL = json.loads((Path(__file__).parent / "real_cat1_rankings.json").read_text())["queries"]


def _sample(row: dict) -> Sample:
    return Sample(
        top1=row["top1"],
        top2=row["top2"],
        correct=row["top1_right"],
        inliers=row["inliers"],
        static=row["static_share"],
    )


def test_shipped_calibration_keeps_a_real_cat1_match_above_the_new_threshold():
    calibration = Calibration.load()
    clearest = next(
        r
        for r in REAL
        if r["catalogued"]
        and r["query"].startswith("right_Cat1__02__Station32__Camera1__2012-9-16")
    )
    assert calibration.probability_of(_sample(clearest)) >= calibration.threshold
    kept = [
        calibration.probability_of(_sample(r)) >= calibration.threshold
        for r in REAL
        if r["catalogued"]
    ]
    assert sum(kept) >= 4, kept


def test_shipped_calibration_flags_real_queries_of_a_removed_cat1_as_new():
    calibration = Calibration.load()
    flagged = [
        calibration.probability_of(_sample(r)) < calibration.threshold
        for r in REAL
        if not r["catalogued"]
    ]
    assert sum(flagged) >= 5, flagged


@pytest.mark.django_db
def test_a_held_out_individual_is_flagged_new_and_a_catalogued_one_is_not():
    catalogued = range(10, 18)
    for individual in catalogued:
        leopard = LeopardFactory(code=f"LEO-{individual}U")
        references = [
            leopard_sighting(individual, "left", shot, leopard=leopard) for shot in (1, 2)
        ]
        for reference in references:
            matching.sighting_extract_features(sighting_id=reference.pk)
        matching.catalogue_sync(sighting_ids=[r.pk for r in references])
    threshold = Calibration.load().threshold

    known = leopard_sighting(12, "left", 6, leopard=None, status=Sighting.Status.PROPOSED)
    tasks.sighting_match(known.pk)
    known.refresh_from_db()
    top = MatchCandidate.objects.get(sighting=known, rank=1)
    assert top.leopard.code == "LEO-12U"
    assert top.probability >= threshold and not known.new_individual_likely

    held_out = [
        leopard_sighting(individual, "left", 6, leopard=None, status=Sighting.Status.PROPOSED)
        for individual in (30, 31, 32)
    ]
    for sighting in held_out:
        tasks.sighting_match(sighting.pk)
    flags = list(
        Sighting.objects.filter(pk__in=[s.pk for s in held_out]).values_list(
            "new_individual_likely", flat=True
        )
    )
    assert sum(flags) >= 2, flags
