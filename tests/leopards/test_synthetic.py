"""Behaviour of the synthetic leopard generator."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leopards.synthetic import render_coat, render_photo, write_dataset


def test_coat_is_deterministic_per_seed_and_flank() -> None:
    np.testing.assert_array_equal(render_coat(7, "left"), render_coat(7, "left"))
    assert render_coat(7, "left").shape == (320, 640, 3)


def test_flanks_and_individuals_have_different_coats() -> None:
    left, right, other = render_coat(7, "left"), render_coat(7, "right"), render_coat(8, "left")
    assert np.abs(left.astype(int) - right.astype(int)).mean() > 20
    assert np.abs(left.astype(int) - other.astype(int)).mean() > 20


def test_it_rejects_an_unknown_flank() -> None:
    with pytest.raises(ValueError, match="flank"):
        render_coat(1, "front")


def test_photo_box_lies_inside_the_image_and_covers_the_animal() -> None:
    for photo in range(6):
        shot = render_photo(2, "right", photo, image_size=(800, 560))
        x, y, w, h = shot.bbox
        assert shot.image.shape == (560, 800, 3)
        assert x >= 0 and y >= 0 and x + w <= 800 and y + h <= 560
        assert w > 100 and h > 50
        # The coat's dark spots make the box busier than the whole frame's average.
        inside = shot.image[y : y + h, x : x + w].std()
        assert inside > 20


def test_photos_of_one_flank_differ_but_repeat_for_the_same_seed() -> None:
    a = render_photo(4, "left", 0, image_size=(640, 448))
    b = render_photo(4, "left", 1, image_size=(640, 448))
    again = render_photo(4, "left", 0, image_size=(640, 448))
    np.testing.assert_array_equal(a.image, again.image)
    assert a.bbox != b.bbox or not np.array_equal(a.image, b.image)


def test_write_dataset_writes_images_and_labels(tmp_path: Path) -> None:
    labels = write_dataset(tmp_path / "set", individuals=2, photos_per_flank=2, seed=1)
    with labels.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 2 * 2
    assert {r["side"] for r in rows} == {"left", "right"}
    assert len({r["individual_id"] for r in rows}) == 2
    for row in rows:
        with Image.open(labels.parent / row["path"]) as image:
            assert image.size == (1000, 700)
            assert int(row["bbox_x"]) + int(row["bbox_w"]) <= image.size[0]


def test_fur_and_revisits_are_optional_and_repeat_for_the_same_seed() -> None:
    plain = render_photo(4, "left", 0, image_size=(640, 448), station_seed=7)
    furred = render_photo(4, "left", 0, image_size=(640, 448), station_seed=7, fur=1.0)
    again = render_photo(4, "left", 0, image_size=(640, 448), station_seed=7, fur=1.0)
    np.testing.assert_array_equal(furred.image, again.image)
    # The pose and the box come from the same numbers; only the look of the coat changes.
    assert furred.bbox == plain.bbox
    x, y, w, h = plain.bbox
    coat_change = np.abs(
        furred.image[y : y + h, x : x + w].astype(int) - plain.image[y : y + h, x : x + w]
    )
    assert coat_change.mean() > 5


def test_a_revisited_station_looks_different_from_one_visit_to_the_next() -> None:
    def corner(photo: int, revisit: float) -> np.ndarray:
        shot = render_photo(
            4, "left", photo, image_size=(640, 448), station_seed=7, revisit=revisit
        )
        return shot.image[:60, :80].astype(int)  # sky and rocks, no animal

    same_scene = np.abs(corner(0, 0.0) - corner(1, 0.0)).mean()
    revisited = np.abs(corner(0, 1.0) - corner(1, 1.0)).mean()
    assert revisited > same_scene + 5
