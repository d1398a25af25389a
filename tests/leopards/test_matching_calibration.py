"""The shipped score calibration on real match figures and on held-out synthetic individuals."""

import dataclasses
import json
import math
from pathlib import Path

import pytest

from leopards import tasks
from leopards.matching.calibration import Calibration, Sample, sample_from
from leopards.models import MatchCandidate, Sighting
from leopards.services import matching
from tests.factories import LeopardFactory
from tests.leopards.matching_photos import leopard_sighting
from tests.leopards.stage_two import shortlist_candidate

# Rankings measured on the real snow-leopard photos of ../shared/data (right_Cat1, same
# flank, own event left out; bench/calibration.py): the figures only, not the photos,
# which the project may not copy. "catalogued": false is the same query with every Cat1
# photo taken out of the catalogue, as a new individual.
REAL = json.loads((Path(__file__).parent / "real_cat1_rankings.json").read_text())["queries"]


def _sample(row: dict) -> Sample:
    """Return the sample of a row's ranking (its "reranked" entry for the second stage)."""
    return Sample(
        top1=row["top1"],
        top2=row["top2"],
        correct=row["top1_right"],
        inliers=row["inliers"],
        static=row["static_share"],
        runners_up=tuple(row["runners_up"]),
        learned=row["learned"],
        learned_second=row["learned_second"],
        learned_confidence=row["learned_confidence"],
        learned_second_confidence=row["learned_second_confidence"],
        verified=row["verified"],
        verified_second=row["verified_second"],
    )


def test_a_stranger_with_no_or_a_near_zero_runner_up_is_not_certain():
    calibration = Calibration.load()
    # A catalogue with one individual on the query's flank: no runner-up at all. With the
    # runner-up floored at 0.1 such a stranger, scoring as strangers do, was certain.
    assert calibration.probability(6.0, inliers=4) < calibration.threshold
    # A runner-up near zero and nothing below it.
    assert calibration.probability(2.0, 0.02, inliers=4) < calibration.threshold
    # A catalogue of many, whose runner-ups are all far below a clear match, is still sure.
    many = (0.9, 0.7, 0.6, 0.6)
    assert calibration.probability(30.0, inliers=100, runners_up=many) > 0.95


@pytest.mark.django_db
def test_a_stranger_in_a_catalogue_of_one_other_individual_is_probably_new():
    only = LeopardFactory(code="LEO-40U")
    references = [leopard_sighting(40, "left", shot, leopard=only) for shot in (1, 2)]
    for reference in references:
        matching.sighting_extract_features(sighting_id=reference.pk)
    matching.catalogue_sync(sighting_ids=[r.pk for r in references])
    stranger = leopard_sighting(41, "left", 6, leopard=None, status=Sighting.Status.PROPOSED)

    tasks.sighting_match(stranger.pk)

    stranger.refresh_from_db()
    top = MatchCandidate.objects.filter(sighting=stranger, rank=1).first()
    assert top is None or top.probability < Calibration.load().threshold
    assert stranger.new_individual_likely


def test_the_fused_model_keeps_real_cat1_matches_with_strong_disk_evidence():
    # The shortlist alone finds no geometric inlier in most of these pairs; DISK +
    # LightGlue finds 60-97 (the strangers of this set: 11-67), well above the
    # runner-up's in all but one.
    fused = Calibration.load().second_stage
    assert fused is not None
    rows = [r["reranked"] for r in REAL if r["catalogued"] and r["reranked"]["learned"] >= 60]
    strong = [r for r in rows if r["learned"] >= 1.5 * r["learned_second"]]
    assert len(strong) >= 4
    for row in strong:
        assert row["top1_right"]
        assert fused.probability_of(_sample(row)) >= fused.threshold, row
    # Where the learned matcher's runner-up has as much evidence, the pair check decides:
    # a clear margin there keeps the match (a Station32 photo: hundreds of inliers with
    # both voices against a dozen); a tie there too leaves the first no surer than a coin
    # between them, less sure than any clear match.
    tied = [r for r in rows if r not in strong]
    assert tied
    for row in tied:
        assert row["learned_second"] >= row["learned"] * 0.9
        p = fused.probability_of(_sample(row))
        if row["verified"] >= 3 * row["verified_second"]:
            assert row["top1_right"] and p >= fused.threshold, row
        else:
            assert p < min(fused.probability_of(_sample(r)) for r in strong), row


def test_a_ranking_carries_the_pair_checks_inliers_into_its_sample():
    first = dataclasses.replace(shortlist_candidate(1, 10, 3.0), verified_inliers=40)
    unchecked = shortlist_candidate(2, 20, 2.0)  # below the pair check's depth
    sample = sample_from([first, unchecked], 1)
    assert (sample.correct, sample.verified, sample.verified_second) == (True, 40, 0)
    assert sample_from([first], 2, open_set=True).verified == 40


def test_a_clear_lead_in_the_pair_check_raises_the_fused_probability():
    # The real Cat1 match whose pair check stands furthest above its runner-up's, read
    # as measured and again as if the check had tied it with the runner-up.
    fused = Calibration.load().second_stage
    assert {"log1p_verified", "verified_margin"} <= set(fused.features)
    rows = [r["reranked"] for r in REAL if r["catalogued"]]
    led = max(rows, key=lambda r: r["verified"] - r["verified_second"])
    assert led["verified"] >= 3 * max(led["verified_second"], 1)
    tied = {**led, "verified": led["verified_second"]}
    assert fused.probability_of(_sample(led)) > fused.probability_of(_sample(tied))


def test_calibration_files_of_the_ratio_model_still_load_and_answer_as_before(tmp_path):
    # The model shipped in 2026-11: log_ratio with the runner-up floored at 0.1.
    path = tmp_path / "2026-11.json"
    path.write_text(
        json.dumps(
            {
                "coef": [-2.058, 3.421, 0.358, -7.302],
                "threshold": 0.376,
                "features": ["log_ratio", "log1p_inliers", "static_share"],
                "second_stage": {
                    "coef": [-2.378, 0.030, 0.169, 1.351, 0.035, 0.141],
                    "threshold": 0.203,
                    "features": [
                        "log_ratio",
                        "log1p_inliers",
                        "static_share",
                        "log1p_learned",
                        "learned_margin",
                    ],
                },
            }
        )
    )
    old = Calibration.load(path)
    assert old.features == ["log_ratio", "log1p_inliers", "static_share"]
    # log(4.1 / 1.1) and log1p(10) into the old coefficients, by hand.
    z = -2.058 + 3.421 * math.log(4.1 / 1.1) + 0.358 * math.log(11)
    assert old.probability(4.0, 1.0, inliers=10) == pytest.approx(1 / (1 + math.exp(-z)))
    assert old.second_stage is not None and old.second_stage.threshold == 0.203


def test_real_queries_of_a_removed_cat1_are_flagged_new_with_and_without_the_second_stage():
    calibration = Calibration.load()
    strangers = [r for r in REAL if not r["catalogued"]]
    shortlist = [calibration.probability_of(_sample(r)) < calibration.threshold for r in strangers]
    assert sum(shortlist) >= len(strangers) - 1, shortlist
    fused = calibration.second_stage
    assert fused is not None
    reranked = [fused.probability_of(_sample(r["reranked"])) < fused.threshold for r in strangers]
    assert sum(reranked) >= len(strangers) - 2, reranked


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
