"""Learned whitening of DISK descriptors: fitted on matched patches, read by the pair check."""

import dataclasses

import numpy as np
import pytest

from leopards.matching import verify, whitening
from leopards.matching.whitening import Whitening, WhiteningError
from tests.leopards.described_patches import box, patches, points, views
from tests.leopards.stage_two import shortlist_candidate


def _fitted(dimensions: int = 24) -> Whitening:
    seen = patches(4000, 1)
    first, second = views(seen, 2), views(seen, 3)
    unit = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in (first, second)]
    return whitening.fit(*unit, model="disk-test", dimensions=dimensions)


def test_matched_patches_that_the_raw_descriptors_lose_are_found_after_the_projection():
    projection = _fitted()
    seen, where = patches(300, 10), points(300, 11)
    query, again = box(views(seen, 12), where), box(views(seen, 13), where + 4.0)
    stranger = box(views(patches(300, 14), 15), where)

    raw = verify.pair_inliers(query, again)
    projected = verify.pair_inliers(
        verify.projected(query, projection), verify.projected(again, projection)
    )
    stranger_projected = verify.pair_inliers(
        verify.projected(query, projection), verify.projected(stranger, projection)
    )

    assert projection.projection.shape == (128, 24)
    assert raw < 60 and projected > 200
    assert stranger_projected < 20


def test_the_check_with_a_projection_puts_the_animal_first():
    projection = _fitted()
    seen, where = patches(300, 22), points(300, 21)
    query = box(views(seen, 23), where)
    stored = {10: box(views(patches(300, 24), 25), where), 30: box(views(seen, 26), where)}
    # The shortlist put a stranger (1) ahead of the animal (3).
    shortlist = [shortlist_candidate(1, 10, 9.0), shortlist_candidate(3, 30, 8.0)]

    def load(ids):
        return {r: stored[r] for r in ids}

    plain = verify.verify(shortlist, query, load)
    whitened = verify.verify(shortlist, query, load, whitening=projection)

    assert [c.individual_id for c in plain] == [1, 3]
    assert [c.individual_id for c in whitened] == [3, 1]
    assert whitened[0].verified_inliers >= verify.MIN_OVERTAKE


def test_a_projection_of_another_model_leaves_the_descriptors_alone():
    projection = _fitted()
    described = box(views(patches(50, 31), 32), np.zeros((50, 2)))
    other = dataclasses.replace(described, model="xfeat-test")

    assert verify.projected(other, projection) is other
    assert verify.projected(described, None) is described
    # A file made by hand for descriptors of another length is not applied.
    shorter = dataclasses.replace(
        projection, mean=projection.mean[:64], projection=projection.projection[:64]
    )
    assert verify.projected(described, shorter) is described
    moved = verify.projected(described, projection)
    assert moved.descriptors.shape == (50, 24)
    assert np.allclose(np.linalg.norm(moved.descriptors, axis=1), 1.0, atol=1e-5)


def test_the_checks_inliers_give_the_matched_descriptors_of_pairs_with_enough():
    seen, where = patches(300, 51), points(300, 52)
    one, two = box(views(seen, 53, 0.4), where), box(views(seen, 54, 0.4), where + 3.0)
    stranger = box(views(patches(300, 55), 56, 0.4), where)

    first, second, kept = verify.matched_descriptors([(one, two), (one, stranger)], 15)
    found = verify.inlier_pairs(one, two)

    assert kept == 1 and len(first) == len(second) == len(found) >= 15
    # The inliers are the same patch in both photos, and their descriptors are kept.
    assert np.array_equal(found[:, 0], found[:, 1])
    assert np.array_equal(first, one.descriptors[found[:, 0]].astype(np.float32))
    none = verify.matched_descriptors([(one, stranger)], 15)
    assert none[2] == 0 and len(none[0]) == 0


def test_with_a_projection_the_check_finds_more_pairs_and_gives_their_own_descriptors():
    projection = _fitted()
    seen, where = patches(300, 61), points(300, 62)
    one, two = box(views(seen, 63), where), box(views(seen, 64), where + 3.0)

    plain = verify.matched_descriptors([(one, two)], 15)
    first, second, kept = verify.matched_descriptors([(one, two)], 15, projection)

    assert plain[2] == 0
    assert kept == 1 and len(first) > 200
    # The boxes' own 128 dimensions, for a projection fitted again on them.
    assert first.shape[1] == second.shape[1] == 128
    found = verify.inlier_pairs(
        verify.projected(one, projection), verify.projected(two, projection)
    )
    assert np.array_equal(first, one.descriptors[found[:, 0]].astype(np.float32))


def test_a_saved_projection_reads_back_and_a_wrong_file_says_why(tmp_path):
    projection = _fitted(dimensions=8)
    path = tmp_path / "whitening.npz"
    projection.save(path)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a projection")

    read = Whitening.load(path)

    assert np.array_equal(read.projection, projection.projection)
    assert np.array_equal(read.mean, projection.mean)
    assert (read.model, read.pairs) == ("disk-test", 4000)
    with pytest.raises(WhiteningError, match="not a descriptor projection"):
        Whitening.load(garbage)
    with pytest.raises(WhiteningError, match="not a descriptor projection"):
        Whitening.load(tmp_path / "missing.npz")


def test_a_fit_on_too_few_pairs_or_to_too_many_dimensions_is_refused():
    seen = patches(100, 41)
    first, second = views(seen, 42), views(seen, 43)

    with pytest.raises(WhiteningError, match="100 matched pairs"):
        whitening.fit(first, second, model="disk-test")
    with pytest.raises(WhiteningError, match="200 dimensions of 128"):
        whitening.fit(first, second, model="disk-test", dimensions=200, min_pairs=10)
    with pytest.raises(WhiteningError, match="shapes"):
        whitening.fit(first, second[:50], model="disk-test")
