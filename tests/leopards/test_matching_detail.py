"""The pair check's RootSIFT voice: the box at the photo's detail, inside the animal."""

import dataclasses

import cv2
import numpy as np

from leopards.matching import detail, foreground
from leopards.matching.learned import LearnedFeatures
from leopards.synthetic import render_photo
from tests.leopards.stage_two import rendered_box


def _photo(size=(1200, 800)):
    return render_photo(3, "left", 1, image_size=size)


def test_keypoints_lie_inside_the_shrunk_outline_of_a_box_reduced_to_640_px():
    photo = _photo()
    x, y, w, h = photo.bbox
    # The animal's outline: the box's left half only.
    mask = np.zeros((100, 160), np.uint8)
    mask[:, :80] = 255

    found = detail.extract_detail(photo.image, photo.bbox, foreground=mask)
    whole = detail.extract_detail(photo.image, photo.bbox)

    width, height = found.size
    assert max(width, height) == min(detail.LONG_SIDE, round(max(w, h)))
    assert found.model == detail.MODEL
    assert 50 < len(found) <= detail.KEYPOINTS and len(whole) > len(found)
    inside = cv2.resize(foreground.inner(mask), found.size, interpolation=cv2.INTER_NEAREST)
    columns, rows = found.keypoints.astype(int).T
    assert (inside[rows, columns] > 0).all()
    # Photo pixels: the keypoints map back into the box.
    points = found.image_points()
    assert (points[:, 0] >= x - 1).all() and (points[:, 0] <= x + w + 1).all()
    assert (points[:, 1] >= y - 1).all() and (points[:, 1] <= y + h + 1).all()


def test_a_small_box_is_described_at_its_own_size_never_enlarged():
    photo = _photo((400, 280))
    found = detail.extract_detail(photo.image, photo.bbox)
    assert found.size == (round(photo.bbox[2]), round(photo.bbox[3]))
    assert len(found) > 0
    # Blank boxes give none.
    assert len(detail.extract_detail(np.full((300, 400), 128, np.uint8))) == 0


def test_the_voice_is_stored_with_the_learned_features_exactly_and_old_blobs_have_none():
    features = rendered_box("disk", 3, 1)
    assert features.detail is not None and len(features.detail) > 50

    again = LearnedFeatures.from_bytes(features.to_bytes())

    assert again.detail.model == detail.MODEL
    assert again.detail.size == features.detail.size
    assert np.array_equal(again.detail.keypoints, features.detail.keypoints)
    # Quantised when extracted, so the stored uint8 gives back what a query compares.
    assert np.array_equal(again.detail.descriptors, features.detail.descriptors)
    norms = np.linalg.norm(again.detail.descriptors.astype(np.float32), axis=1)
    assert np.allclose(norms, 1.0, atol=0.02)
    # A blob written before the voice existed loads without it.
    older = LearnedFeatures.from_bytes(dataclasses.replace(features, detail=None).to_bytes())
    assert older.detail is None and len(older) == len(features)
