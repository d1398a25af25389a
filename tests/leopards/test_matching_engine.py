"""Behaviour of the matching engine on synthetic leopards (no Django, no shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from leopards.matching.calibration import Calibration, Sample, fit, sample_from
from leopards.matching.evaluate import evaluate, read_labels, run_queries
from leopards.matching.features import Features, extract_features
from leopards.matching.index import MatchIndex
from leopards.matching.scoring import match_pair, rank
from leopards.synthetic import render_photo, write_dataset

INDIVIDUALS = 6
PHOTOS = 3


def _features(individual: int, flank: str, photo: int) -> Features:
    shot = render_photo(individual, flank, photo, image_size=(640, 448))
    return extract_features(shot.image, shot.bbox)


@pytest.fixture(scope="module")
def catalogue() -> dict[tuple[int, str, int], Features]:
    """Features of a few synthetic individuals, both flanks, several photos each."""
    return {
        (i, flank, p): _features(i, flank, p)
        for i in range(INDIVIDUALS)
        for flank in ("left", "right")
        for p in range(PHOTOS)
    }


def _index(catalogue: dict, *, photos: range = range(1, PHOTOS)) -> MatchIndex:
    """Index photos 1.. of every individual; photo 0 is left for queries."""
    return MatchIndex.build(
        [
            (f"{i}-{flank}-{p}", f"ind{i}", flank, f)
            for (i, flank, p), f in catalogue.items()
            if p in photos
        ]
    )


def test_features_round_trip_through_bytes(catalogue: dict) -> None:
    features = catalogue[(0, "left", 0)]
    assert len(features) > 100
    restored = Features.from_bytes(features.to_bytes())
    np.testing.assert_array_equal(restored.keypoints, features.keypoints)
    np.testing.assert_array_equal(restored.descriptors, features.descriptors)
    assert restored.descriptors.dtype == np.uint8


def test_features_are_in_original_image_pixels() -> None:
    shot = render_photo(3, "right", 1, image_size=(800, 560))
    features = extract_features(shot.image, shot.bbox)
    x, y, w, h = shot.bbox
    assert features.keypoints[:, 0].min() >= x - 1
    assert features.keypoints[:, 0].max() <= x + w + 1
    assert features.keypoints[:, 1].min() >= y - 1
    assert features.keypoints[:, 1].max() <= y + h + 1


def test_a_mask_keeps_the_strongest_keypoints_inside_it_up_to_the_limit() -> None:
    # OpenCV's own nfeatures keeps the strongest of the whole chip before it drops those
    # outside the mask, which left a masked box with far fewer keypoints than the limit.
    shot = render_photo(2, "left", 0, image_size=(640, 448))
    everything = extract_features(shot.image, shot.bbox, max_keypoints=5000, ellipse_mask=0)
    limit = len(everything) // 4
    x, _y, w, _h = shot.bbox
    right = everything.keypoints[:, 0] >= x + w / 2
    # The mask keeps the half of the box that holds fewer of the strongest keypoints,
    # and more than the limit of all of them.
    keep_right = right[:limit].mean() < right.mean()
    assert np.sum(right == keep_right) > limit
    inside = np.zeros((100, 100), np.uint8)
    if keep_right:
        inside[:, 50:] = 255
    else:
        inside[:, :50] = 255

    kept = extract_features(
        shot.image, shot.bbox, max_keypoints=limit, ellipse_mask=0, foreground=inside
    )

    assert len(kept) == limit
    on_kept_side = (kept.keypoints[:, 0] >= x + w / 2 - 2) == keep_right
    assert on_kept_side.mean() > 0.98


def test_features_from_a_jpeg_path_match_the_decoded_array(tmp_path: Path) -> None:
    from PIL import Image

    shot = render_photo(1, "left", 0, image_size=(1600, 1120))
    path = tmp_path / "photo.jpg"
    Image.fromarray(shot.image).save(path, quality=95)
    from_path = extract_features(path, shot.bbox)
    from_array = extract_features(shot.image, shot.bbox)
    # Draft decoding and a different grey conversion change pixels slightly, not identity.
    assert len(match_pair(from_path, from_array)) > 50


def test_blank_box_gives_no_features_and_an_empty_ranking(catalogue: dict) -> None:
    grey = np.full((400, 600, 3), 128, np.uint8)
    blank = extract_features(grey, (50, 50, 300, 200))
    tiny = extract_features(grey, (10, 10, 5, 5))
    outside = extract_features(grey, (900, 900, 50, 50))
    assert len(blank) == len(tiny) == len(outside) == 0
    assert Features.from_bytes(blank.to_bytes()).keypoints.shape == (0, 4)
    assert rank(_index(catalogue), blank, "left") == []
    assert len(match_pair(blank, catalogue[(0, "left", 0)])) == 0


def test_it_ranks_the_right_individual_first(catalogue: dict) -> None:
    index = _index(catalogue)
    hits = 0
    for i in range(INDIVIDUALS):
        for flank in ("left", "right"):
            candidates = rank(index, catalogue[(i, flank, 0)], flank)
            hits += candidates[0].individual_id == f"ind{i}"
    assert hits >= 2 * INDIVIDUALS - 1


def test_left_query_never_returns_right_only_references(catalogue: dict) -> None:
    # Individual 0 is catalogued from its right flank only.
    index = MatchIndex.build(
        [(f"{i}-{fl}-{p}", f"ind{i}", fl, f) for (i, fl, p), f in catalogue.items() if p > 0]
    )
    for p in (1, 2):
        index.remove(f"0-left-{p}")
    left = rank(index, catalogue[(0, "left", 0)], "left")
    assert "ind0" not in {c.individual_id for c in left}
    assert all(index.flank_of(c.best_reference_id) == "left" for c in left)
    # The same descriptors with an unknown flank search the right catalogue too.
    unknown = rank(index, catalogue[(0, "right", 0)], "unknown")
    assert unknown[0].individual_id == "ind0"
    assert index.flank_of(unknown[0].best_reference_id) == "right"


def test_add_remove_and_relabel_change_the_ranking(catalogue: dict) -> None:
    index = _index(catalogue, photos=range(1, 2))
    query = catalogue[(2, "left", 0)]
    assert rank(index, query, "left")[0].individual_id == "ind2"

    index.remove("2-left-1")
    assert "ind2" not in {c.individual_id for c in rank(index, query, "left")}

    index.add("new-ref", "ind2-again", "left", catalogue[(2, "left", 2)])
    top = rank(index, query, "left")[0]
    assert (top.individual_id, top.best_reference_id) == ("ind2-again", "new-ref")

    # A merge: everything of ind2-again now belongs to ind5.
    assert index.relabel("ind2-again", "ind5") == 1
    assert rank(index, query, "left")[0].individual_id == "ind5"
    # A split of one box back out.
    assert index.relabel("ind5", "ind2", reference_ids=["new-ref"]) == 1
    assert rank(index, query, "left")[0].individual_id == "ind2"
    assert index.individual_of("5-left-1") == "ind5"


def test_replacing_a_reference_keeps_one_copy(catalogue: dict) -> None:
    index = _index(catalogue)
    before = index.descriptor_count
    index.add("1-left-1", "ind1", "left", catalogue[(1, "left", 1)])
    assert index.descriptor_count == before
    assert len(index) == INDIVIDUALS * 2 * (PHOTOS - 1)


def test_save_and_load_give_the_same_ranking(catalogue: dict, tmp_path: Path) -> None:
    index = _index(catalogue)
    index.remove("4-right-1")
    index.relabel("ind3", "ind3b")
    path = tmp_path / "index.npz"
    index.save(path)
    loaded = MatchIndex.load(path)
    for key in [(3, "left", 0), (4, "right", 0), (0, "right", 0)]:
        flank = key[1]
        a = rank(index, catalogue[key], flank)
        b = rank(loaded, catalogue[key], flank)
        assert [(c.individual_id, c.best_reference_id) for c in a] == [
            (c.individual_id, c.best_reference_id) for c in b
        ]
        assert [c.score for c in a] == pytest.approx([c.score for c in b])
    assert "4-right-1" not in loaded


def test_saving_and_loading_stream_the_faiss_indexes(
    catalogue: dict, tmp_path: Path, monkeypatch
) -> None:
    import faiss

    records = [(f"{i}-{fl}-{p}", f"ind{i}", fl, f) for (i, fl, p), f in catalogue.items() if p > 0]
    index = MatchIndex.build(records, flat_limit=1000)
    path = tmp_path / "index.npz"

    def whole_blob(*args):
        raise AssertionError("the index went through one blob in memory")

    # A blob the size of the index doubled a 50,000-reference build's peak.
    monkeypatch.setattr(faiss, "serialize_index", whole_blob)
    monkeypatch.setattr(faiss, "deserialize_index", whole_blob)
    index.save(path)
    loaded = MatchIndex.load(path)

    assert not loaded._catalogues["left"].is_flat
    for key in [(0, "left", 0), (3, "right", 0)]:
        query = catalogue[key].float_descriptors()
        mine, theirs = loaded.search(query, key[1], 5), index.search(query, key[1], 5)
        np.testing.assert_array_equal(mine.reference_rows, theirs.reference_rows)
        np.testing.assert_array_equal(mine.distances, theirs.distances)
    row = loaded._row_of["2-left-1"]
    np.testing.assert_array_equal(
        loaded.points_of_row(row), catalogue[(2, "left", 1)].keypoints[:, :2]
    )


def test_a_snapshot_written_by_np_savez_still_loads(catalogue: dict, tmp_path: Path) -> None:
    index = _index(catalogue)
    index.save(tmp_path / "streamed.npz")
    # Snapshots saved before saves streamed: the same arrays, written by numpy.
    with np.load(tmp_path / "streamed.npz") as archive:
        np.savez(tmp_path / "savez.npz", **{name: archive[name] for name in archive.files})
    loaded = MatchIndex.load(tmp_path / "savez.npz")

    query = catalogue[(4, "right", 0)]
    assert [(c.individual_id, c.best_reference_id) for c in rank(loaded, query, "right")] == [
        (c.individual_id, c.best_reference_id) for c in rank(index, query, "right")
    ]


def test_a_box_added_finds_its_own_descriptors_at_distance_zero(catalogue: dict) -> None:
    index = _index(catalogue)
    features = catalogue[(2, "right", 1)]
    found = index.search(features.float_descriptors(), "right", 1)
    # The index holds exactly the query's float descriptors, as add_many converted them.
    assert (found.distances[:, 0] == 0).all()
    assert set(found.reference_rows[:, 0]) == {index._row_of["2-right-1"]}
    np.testing.assert_array_equal(found.local[:, 0], np.arange(len(features)))


def test_ivf_catalogue_ranks_like_the_exact_one(catalogue: dict) -> None:
    records = [(f"{i}-{fl}-{p}", f"ind{i}", fl, f) for (i, fl, p), f in catalogue.items() if p > 0]
    exact = MatchIndex.build(records)
    # A tiny flat limit forces the compressed IVF-PQ index even for this small set.
    compressed = MatchIndex.build(records, flat_limit=1000)
    assert not compressed._catalogues["left"].is_flat
    agree = sum(
        rank(exact, catalogue[(i, fl, 0)], fl)[0].individual_id
        == rank(compressed, catalogue[(i, fl, 0)], fl)[0].individual_id
        for i in range(INDIVIDUALS)
        for fl in ("left", "right")
    )
    assert agree >= 2 * INDIVIDUALS - 1


def test_a_streamed_build_answers_as_the_index_built_all_at_once(catalogue: dict) -> None:
    records = [(f"{i}-{fl}-{p}", f"ind{i}", fl, f) for (i, fl, p), f in catalogue.items() if p > 0]
    # All at once: every descriptor in memory, the IVF lists trained on all of them.
    at_once = MatchIndex(flat_limit=1000)
    at_once.add_many(records)
    # Streamed: the records read twice from a function, added a few boxes at a time.
    reads = []

    def stream():
        reads.append(True)
        yield from records

    streamed = MatchIndex.build(stream, flat_limit=1000, chunk_descriptors=500)

    assert len(reads) == 2
    assert not streamed._catalogues["left"].is_flat
    for key in [(0, "left", 0), (3, "right", 0), (5, "left", 0)]:
        query = catalogue[key].float_descriptors()
        mine, theirs = streamed.search(query, key[1], 5), at_once.search(query, key[1], 5)
        np.testing.assert_array_equal(mine.reference_rows, theirs.reference_rows)
        np.testing.assert_array_equal(mine.local, theirs.local)
        np.testing.assert_allclose(mine.distances, theirs.distances, rtol=1e-6)
        assert [
            (c.individual_id, c.best_reference_id) for c in rank(streamed, catalogue[key], key[1])
        ] == [(c.individual_id, c.best_reference_id) for c in rank(at_once, catalogue[key], key[1])]


def test_a_build_trains_on_a_sample_of_bounded_size(catalogue: dict, monkeypatch) -> None:
    from leopards.matching import index as index_module

    records = [(f"{i}-{fl}-{p}", f"ind{i}", fl, f) for (i, fl, p), f in catalogue.items()]
    left = sum(len(f) for (_, fl, _), f in catalogue.items() if fl == "left")
    monkeypatch.setattr(index_module, "TRAINING_SAMPLE", 700)
    samples = {}
    prepare = MatchIndex.prepare

    def spy(self, flank, sample, expected_count):
        samples[flank] = (len(sample), expected_count)
        prepare(self, flank, sample, expected_count)

    monkeypatch.setattr(MatchIndex, "prepare", spy)
    index = MatchIndex.build(records, flat_limit=1000)

    assert samples["left"] == (700, left)
    assert index.descriptor_count == sum(len(f) for f in catalogue.values())
    with pytest.raises(TypeError):
        MatchIndex.build(iter(records))  # read twice: a one-shot iterator cannot be


def test_ivf_lists_found_with_numpy_give_faiss_own_neighbours(catalogue: dict) -> None:
    records = [(f"{i}-{fl}-{p}", f"ind{i}", fl, f) for (i, fl, p), f in catalogue.items() if p > 0]
    index = MatchIndex.build(records, flat_limit=1000)
    index.set_nprobe(4)
    left = index._catalogues["left"]
    query = catalogue[(0, "left", 0)].float_descriptors()
    distances, ids = left.search(query, 7)
    faiss_distances, faiss_ids = left.index.search(query, 7)
    assert (ids >= 0).all()
    np.testing.assert_array_equal(ids, faiss_ids)
    np.testing.assert_allclose(distances, faiss_distances, rtol=1e-5)
    # A different nprobe is honoured: more lists find neighbours at least as near.
    index.set_nprobe(64)
    wider, _ = left.search(query, 7)
    assert (wider[:, 0] <= distances[:, 0] + 1e-6).all()
    assert (wider[:, 0] < distances[:, 0] - 1e-6).any()


def _records(catalogue: dict, photos: range = range(1, PHOTOS)) -> list:
    return [
        (f"{i}-{fl}-{p}", f"ind{i}", fl, f) for (i, fl, p), f in catalogue.items() if p in photos
    ]


def _assert_same_neighbours(
    mine: MatchIndex, theirs: MatchIndex, vectors: np.ndarray, flank: str, k: int
) -> None:
    """Assert equal distances, and equal neighbours up to the order of equal distances."""
    a, b = mine.search(vectors, flank, k), theirs.search(vectors, flank, k)
    np.testing.assert_array_equal(a.distances, b.distances)
    for row, last in enumerate(a.distances[:, -1]):
        # Neighbours tied with the k-th may be a different pick of the tied ones.
        found = [
            sorted(
                (float(d), index.reference_of_row(r), int(local))
                for d, r, local in zip(
                    n.distances[row], n.reference_rows[row], n.local[row], strict=True
                )
                if d < last
            )
            for index, n in ((mine, a), (theirs, b))
        ]
        assert found[0] == found[1]


def test_a_build_into_a_file_in_shards_finds_what_one_index_finds(
    catalogue: dict, tmp_path: Path
) -> None:
    from leopards.matching import index as index_module

    records = _records(catalogue)
    held = MatchIndex.build(records, flat_limit=1000, chunk_descriptors=500)
    path = tmp_path / "sharded.npz"
    assert (
        MatchIndex.build_file(
            path, records, flat_limit=1000, chunk_descriptors=500, shard_descriptors=2000
        )
        == path
    )
    loaded = MatchIndex.load(path)

    for flank in ("left", "right"):
        shards = loaded._catalogues[flank].shards
        assert len(shards) >= 3
        assert sum(s.ntotal for s in shards) == held._catalogues[flank].ntotal
    members = set(np.load(path).files)
    # A reader that knows only one member per flank must not find half a catalogue.
    assert "faiss_left.npy" not in members and "faiss_left.0" in members
    assert {p.name for p in tmp_path.iterdir()} == {"sharded.npz"}  # no temporary files left
    assert list(loaded.reference_ids()) == list(held.reference_ids())
    for key in [(0, "left", 0), (3, "right", 0), (5, "left", 0)]:
        query = catalogue[key].float_descriptors()
        for flank in (key[1], index_module.UNKNOWN_FLANK):
            _assert_same_neighbours(loaded, held, query, flank, 7)
        assert [
            (c.individual_id, c.best_reference_id, c.score)
            for c in rank(loaded, catalogue[key], key[1])
        ] == [
            (c.individual_id, c.best_reference_id, c.score)
            for c in rank(held, catalogue[key], key[1])
        ]
    row = loaded._row_of["2-left-1"]
    np.testing.assert_array_equal(
        loaded.points_of_row(row), catalogue[(2, "left", 1)].keypoints[:, :2]
    )


def test_a_build_into_a_file_holds_at_most_its_shard_limit(
    catalogue: dict, tmp_path: Path, monkeypatch
) -> None:
    from leopards.matching import index as index_module

    held_after_spill = []
    spill = index_module._Spill.spill

    def spy(self, index):
        spill(self, index)
        held_after_spill.append(
            (
                sum(c.ntotal for c in index._catalogues.values()),
                sum(len(points) for points in index._ref_points),
            )
        )

    monkeypatch.setattr(index_module._Spill, "spill", spy)
    MatchIndex.build_file(
        tmp_path / "index.npz",
        _records(catalogue),
        flat_limit=1000,
        chunk_descriptors=500,
        shard_descriptors=2000,
    )
    total = sum(len(f) for (_, _, p), f in catalogue.items() if p > 0)
    assert len(held_after_spill) > 5
    assert max(descriptors for descriptors, _ in held_after_spill) <= 2000 < total
    assert {points for _, points in held_after_spill} == {0}


def test_a_sharded_index_takes_adds_removals_and_relabels_after_loading(
    catalogue: dict, tmp_path: Path
) -> None:
    records = _records(catalogue, photos=range(1, 2))
    held = MatchIndex.build(records, flat_limit=1000)
    MatchIndex.build_file(
        tmp_path / "a.npz", records, flat_limit=1000, chunk_descriptors=300, shard_descriptors=1000
    )
    loaded = MatchIndex.load(tmp_path / "a.npz")
    assert len(loaded._catalogues["left"].shards) > 2
    query = catalogue[(2, "left", 0)]

    for index in (held, loaded):
        # 2-left-1, the third box of its flank, is in a shard that takes no more adds.
        index.remove("2-left-1")
        index.add("new-ref", "ind2-again", "left", catalogue[(2, "left", 2)])
        index.relabel("ind4", "ind5")
    assert "ind2" not in {c.individual_id for c in rank(loaded, query, "left")}
    top = rank(loaded, query, "left")[0]
    assert (top.individual_id, top.best_reference_id) == ("ind2-again", "new-ref")
    assert loaded.individual_of("4-right-1") == "ind5"
    assert loaded.descriptor_count == held.descriptor_count
    vectors = catalogue[(2, "left", 2)].float_descriptors()
    _assert_same_neighbours(loaded, held, vectors, "left", 5)
    found = loaded.search(vectors, "left", 1)
    assert (found.reference_rows[:, 0] == loaded._row_of["new-ref"]).mean() > 0.97

    # Saved again and loaded, the shards stay shards and answer the same.
    loaded.save(tmp_path / "b.npz")
    again = MatchIndex.load(tmp_path / "b.npz")
    assert len(again._catalogues["left"].shards) == len(loaded._catalogues["left"].shards)
    for key in [(2, "left", 0), (4, "right", 0), (1, "left", 0)]:
        vectors = catalogue[key].float_descriptors()
        _assert_same_neighbours(again, held, vectors, key[1], 5)
        assert [
            (c.individual_id, c.best_reference_id) for c in rank(again, catalogue[key], key[1])
        ] == [(c.individual_id, c.best_reference_id) for c in rank(held, catalogue[key], key[1])]


def test_a_build_into_a_file_that_never_spills_writes_what_save_writes(
    catalogue: dict, tmp_path: Path
) -> None:
    records = _records(catalogue)
    MatchIndex.build(records, flat_limit=1000).save(tmp_path / "saved.npz")
    MatchIndex.build_file(tmp_path / "built.npz", records, flat_limit=1000)
    # One member per flank, as files written before shards have: any reader loads it.
    assert (tmp_path / "built.npz").read_bytes() == (tmp_path / "saved.npz").read_bytes()


def test_a_build_into_a_file_refuses_a_reference_twice(catalogue: dict, tmp_path: Path) -> None:
    records = _records(catalogue)
    with pytest.raises(ValueError, match="twice"):
        MatchIndex.build_file(tmp_path / "index.npz", [*records, records[0]], flat_limit=1000)
    assert list(tmp_path.iterdir()) == []


def test_a_box_added_after_a_removal_is_found_in_a_compressed_catalogue(
    catalogue: dict, tmp_path: Path, monkeypatch
) -> None:
    from leopards.matching import index as index_module

    def own_share(index: MatchIndex) -> float:
        vectors = catalogue[(2, "left", 2)].float_descriptors()
        found = index.search(vectors, "left", 1)
        return float((found.reference_rows[:, 0] == index._row_of["new-ref"]).mean())

    index = MatchIndex.build(_records(catalogue, photos=range(1, 2)), flat_limit=1000)
    index.remove("2-left-1")
    index.add("new-ref", "ind2", "left", catalogue[(2, "left", 2)])
    assert own_share(index) > 0.97

    # A file saved after a removal that left the removed codes behind, as before they
    # were cleared: the first add after loading clears them.
    dirty = MatchIndex.build(_records(catalogue, photos=range(1, 2)), flat_limit=1000)
    with monkeypatch.context() as patch:
        patch.setattr(index_module, "_clear_block_tails", lambda *args: None)
        dirty.remove("2-left-1")
        dirty.save(tmp_path / "dirty.npz")
        loaded = MatchIndex.load(tmp_path / "dirty.npz")
        loaded.add("new-ref", "ind2", "left", catalogue[(2, "left", 2)])
        assert own_share(loaded) < 0.9  # what faiss does without the clearing
    loaded = MatchIndex.load(tmp_path / "dirty.npz")
    loaded.add("new-ref", "ind2", "left", catalogue[(2, "left", 2)])
    assert own_share(loaded) > 0.97


def test_match_pair_finds_many_inliers_only_for_the_same_flank(catalogue: dict) -> None:
    same = match_pair(catalogue[(1, "right", 0)], catalogue[(1, "right", 1)])
    other = match_pair(catalogue[(1, "right", 0)], catalogue[(2, "right", 1)])
    other_flank = match_pair(catalogue[(1, "right", 0)], catalogue[(1, "left", 1)])
    assert same.shape[1] == 4
    assert len(same) > 3 * max(len(other), len(other_flank), 5)


def test_calibration_gives_correct_matches_higher_probability(catalogue: dict) -> None:
    index = _index(catalogue)
    samples = []
    for i in range(INDIVIDUALS):
        for flank in ("left", "right"):
            query = catalogue[(i, flank, 0)]
            samples.append(sample_from(rank(index, query, flank), f"ind{i}"))
            # The same query with its individual gone looks like a new individual.
            unseen = [f"{i}-{flank}-{p}" for p in range(PHOTOS)]
            samples.append(
                sample_from(rank(index, query, flank, exclude_reference_ids=unseen), f"ind{i}")
            )
    calibration = fit(samples)
    right = [calibration.probability_of(s) for s in samples if s.correct]
    wrong = [calibration.probability_of(s) for s in samples if not s.correct]
    assert np.mean(right) > 0.7 > 0.3 > np.mean(wrong)
    assert min(right) > max(wrong) - 0.2


def test_calibration_round_trips_through_json(tmp_path: Path) -> None:
    calibration = Calibration(coef=[-2.0, 0.5, 4.0], threshold=0.4)
    calibration.save(tmp_path / "c.json")
    loaded = Calibration.load(tmp_path / "c.json")
    assert loaded == calibration
    assert loaded.assess([]) == (0.0, True)


def test_shipped_calibration_flags_weak_matches_as_new() -> None:
    calibration = Calibration.load()
    assert calibration.probability(40.0, 2.0, inliers=60) > 0.9
    assert calibration.probability(1.0, 0.9) < calibration.threshold
    # Scores are read relative to the runner-up: the same margin at another scale (a
    # denser or sparser catalogue) gives the same answer.
    assert calibration.probability(8.0, 2.0, inliers=10) == pytest.approx(
        calibration.probability(80.0, 20.0, inliers=10), abs=0.03
    )


def test_calibration_files_of_the_first_model_still_load(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text('{"coef": [-14.5, 5.0, 2.4], "threshold": 0.5, "fitted_on": "synthetic"}')
    old = Calibration.load(path)
    assert old.features == ["log1p_top1", "log1p_margin"]
    assert old.probability(60.0, 2.0) > 0.9 > 0.1 > old.probability(2.0, 1.9)


def test_a_calibration_with_a_coefficient_too_few_is_refused() -> None:
    with pytest.raises(ValueError, match="coefficient"):
        Calibration(coef=[1.0, 2.0], features=["log_ratio", "log1p_inliers"])


def test_fitting_without_a_threshold_balances_the_two_errors() -> None:
    # Right answers stand out from the runner-up by 1.8-4x, strangers by 1-2x.
    rng = np.random.default_rng(0)
    right = [Sample(top1=r * 2.0, top2=2.0, correct=True) for r in rng.uniform(1.8, 4, 50)]
    strangers = [Sample(top1=r * 2.0, top2=2.0, correct=False) for r in rng.uniform(1, 2, 50)]
    calibration = fit(right + strangers, features=["log_ratio"])
    called_new = sum(calibration.probability_of(s) < calibration.threshold for s in right)
    kept = sum(calibration.probability_of(s) >= calibration.threshold for s in strangers)
    assert called_new <= 5 and kept <= 5
    assert abs(called_new - kept) <= 2


def test_evaluate_reads_labels_and_scores_a_small_synthetic_set(tmp_path: Path) -> None:
    labels = write_dataset(
        tmp_path, individuals=8, photos_per_flank=3, seed=3, image_size=(640, 448)
    )
    assert labels.read_text().splitlines()[0] == (
        "path,individual_id,side,bbox_x,bbox_y,bbox_w,bbox_h"
    )
    result = evaluate(labels)
    assert result["queries"] == 8 * 2 * 3
    assert result["skipped"] == 0
    assert result["rank1"] >= 0.85
    assert result["rank5"] >= result["rank1"]
    assert 0 < result["map"] <= 1
    assert {"median_query_s", "index_build_s"} <= set(result)


def test_evaluate_skips_individuals_seen_once_and_uses_whole_image_without_box(
    tmp_path: Path,
) -> None:
    from PIL import Image

    rows = ["path,individual_id,side"]
    for i, (individual, photos) in enumerate([(0, 2), (1, 1)]):
        for p in range(photos):
            shot = render_photo(individual, "left", p, image_size=(640, 448))
            x, y, w, h = shot.bbox
            Image.fromarray(shot.image[y : y + h, x : x + w]).save(tmp_path / f"{i}{p}.jpg")
            rows.append(f"{i}{p}.jpg,ind{individual},left")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    boxes = read_labels(tmp_path / "labels.csv")
    assert boxes[0].bbox is None
    results, _ = run_queries(boxes)
    assert len(results) == 2
    assert all(r.rank == 1 for r in results)


def test_static_share_counts_the_matches_that_did_not_move() -> None:
    from leopards.matching.calibration import static_share

    still = np.array([[100, 100, 101, 100], [300, 200, 300, 201]], np.float32)
    walked = np.array([[100, 100, 260, 140], [300, 200, 450, 230]], np.float32)
    assert static_share(still) == 1.0
    assert static_share(walked) == 0.0
    assert static_share(np.concatenate([still, walked])) == 0.5
    assert static_share(np.zeros((0, 4), np.float32)) == 0.0
