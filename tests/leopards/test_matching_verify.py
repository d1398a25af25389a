"""The pair check: the shortlist's first individuals re-ordered by their boxes' geometry."""

import dataclasses

import numpy as np
import pytest

from leopards.matching import detail, learned, verify
from leopards.matching.rerank import DECISIVE_INLIERS, DEFAULT_MAX_CHECK_MARGIN, rerank
from tests.leopards.described_patches import box as _features
from tests.leopards.stage_two import (
    catalogue_of_two,
    rendered_box,
    shortlist_candidate,
    shortlist_first,
)

each_backend = pytest.mark.parametrize("backend", learned.BACKENDS)


def _coat(seed: int, count: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, 128)), rng.uniform((0, 0), (384, 288), size=(count, 2))


def test_a_flank_seen_again_shares_an_affine_map_and_a_stranger_does_not():
    descriptors, points = _coat(1)
    query = _features(descriptors, points)
    # The same spots, seen from a little further and to the side, described with noise.
    turn = np.array([[0.9, 0.08, 12.0], [-0.05, 0.95, 6.0]])
    moved = points @ turn[:, :2].T + turn[:, 2]
    noise = np.random.default_rng(2).normal(scale=0.2, size=descriptors.shape)
    again = _features(descriptors + noise, moved)
    stranger = _features(*_coat(3))

    assert verify.pair_inliers(query, again) > 250
    assert verify.pair_inliers(query, stranger) < 20
    # Too few keypoints for a geometry: nothing is counted.
    assert verify.pair_inliers(query, _features(descriptors[:5], points[:5])) == 0


def test_the_map_is_found_among_many_chance_pairs():
    # A fine voice pairs a thousand keypoints of which only a few dozen are the same spots
    # (6 %): the affine map's three-point samples still find them, where a homography's
    # four-point samples found a handful by chance in the same iterations.
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 640, size=(1000, 2)).astype(np.float32)
    target = rng.uniform(0, 640, size=(1000, 2)).astype(np.float32)
    turn = np.array([[0.9, 0.1, 10.0], [-0.05, 1.1, 5.0]], np.float32)
    target[:60] = source[:60] @ turn[:, :2].T + turn[:, 2] + rng.normal(0, 0.7, (60, 2))

    found, inliers = verify.affine(source, target)

    assert inliers[:60].sum() >= 55 and inliers[60:].sum() <= 5
    assert np.allclose(found, turn, atol=0.05 * np.abs(turn).max())
    assert verify.affine(source[:5], target[:5])[0] is None


def test_mutual_neighbours_are_each_others_nearest_and_the_first_of_equals_is_kept():
    descriptors, points = _coat(4, 200)
    other, _ = _coat(5, 150)
    query, reference = _features(descriptors, points), _features(other, points[:150])
    similarity = query.descriptors.astype(np.float32) @ reference.descriptors.astype(np.float32).T
    nearest, nearest_back = similarity.argmax(axis=1), similarity.argmax(axis=0)
    expected = [i for i in range(200) if nearest_back[nearest[i]] == i]

    mutual, forward = verify.mutual_neighbours(query, reference)

    assert np.array_equal(forward, nearest)
    assert mutual.tolist() == expected and len(expected) > 10
    # A query keypoint described twice is one patch: only its first copy is mutual.
    twice = _features(
        np.concatenate([descriptors[:1], descriptors]), np.vstack([points[:1], points])
    )
    mutual_twice, _ = verify.mutual_neighbours(twice, _features(descriptors, points))
    assert 0 in mutual_twice and 1 not in mutual_twice
    assert len(mutual_twice) == 200


@each_backend
def test_the_pair_check_puts_the_animal_first_when_the_shortlist_did_not(backend):
    # The shortlist put individuals 4 and 5 ahead of 3, but the query is 3.
    shortlist = [
        shortlist_candidate(4, 40, 9.0),
        shortlist_candidate(5, 50, 8.0),
        shortlist_candidate(3, 30, 2.0),
        shortlist_candidate(6, 60, 1.0),
    ]
    stored = {40: (4, 1), 50: (5, 1), 30: (3, 1), 60: (6, 1)}

    def load(ids):
        return {r: rendered_box(backend, *stored[r]) for r in ids}

    checked = verify.verify(shortlist, rendered_box(backend, 3, 2), load, top_n=3)

    assert [c.individual_id for c in checked][0::3] == [3, 6]
    animal, *strangers = checked[:3]
    assert {c.individual_id for c in strangers} == {4, 5}
    assert animal.verified_reference_id == 30
    assert animal.verified_inliers > 3 * max(c.verified_inliers for c in strangers)
    # Past top_n nothing is compared, and the shortlist's order and evidence stay.
    assert checked[3] == shortlist[3] and checked[3].verified_inliers is None


def test_each_reference_is_read_and_compared_once_and_the_best_one_is_kept():
    descriptors, points = _coat(1)
    query = _features(descriptors, points)
    stored = {
        10: _features(*_coat(7)),
        11: _features(descriptors, points + 3.0),
        20: _features(*_coat(8)),
    }
    two_references = dataclasses.replace(shortlist_candidate(1, 10, 5.0), references=(10, 11))
    shortlist = [shortlist_candidate(2, 20, 9.0), two_references]
    asked = []

    def load(ids):
        asked.append(list(ids))
        return {r: stored[r] for r in ids}

    cache: dict = {}
    first = verify.verify(shortlist, query, load, cache=cache)
    again = verify.verify(shortlist, query, load, cache=cache)

    assert asked == [[20, 10, 11]]
    assert first == again
    assert [c.individual_id for c in first] == [1, 2]
    assert first[0].verified_reference_id == 11
    # DISK's inliers; these boxes carry no RootSIFT voice, so it adds none.
    assert first[0].verified_inliers == cache[11][0] > cache[10][0]
    assert cache[11][1] == cache[10][1] == 0


def test_references_without_features_of_this_model_are_skipped_and_the_order_kept():
    descriptors, points = _coat(1)
    query = _features(descriptors, points)
    shortlist = [shortlist_candidate(2, 20, 9.0), shortlist_candidate(1, 10, 5.0)]
    # Reference 10 was described by another network; reference 20 has no features.
    other_model = _features(descriptors, points, model="another")

    checked = verify.verify(shortlist, query, lambda ids: {10: other_model}, top_n=5)

    assert [c.individual_id for c in checked] == [2, 1]
    assert [(c.verified_reference_id, c.verified_inliers) for c in checked] == [(None, 0)] * 2
    # Turned off, nothing is loaded or changed.
    assert verify.verify(shortlist, query, lambda ids: pytest.fail("loaded"), top_n=0) == shortlist


def test_the_learned_matcher_compares_the_reference_the_pair_check_found_best():
    candidate = dataclasses.replace(
        shortlist_candidate(1, 10, 5.0), references=(10, 11), verified_reference_id=11
    )
    query = _features(*_coat(1))
    asked = []

    def load(ids):
        asked.extend(ids)
        return {}

    rerank([candidate], query, load, top_k=1, refs_per_individual=1)

    assert asked == [11]


def _sharing(descriptors: np.ndarray, points: np.ndarray, shared: int, seed: int):
    """A reference box that shows `shared` of the query's spots among a stranger's."""
    others, where = _coat(seed, len(descriptors))
    return _features(
        np.concatenate([descriptors[:shared], others[shared:]]),
        np.concatenate([points[:shared] + 2.0, where[shared:]]),
    )


def test_a_few_consistent_pairs_do_not_displace_the_shortlists_leader():
    descriptors, points = _coat(1, 60)
    query = _features(descriptors, points)
    leader = shortlist_candidate(1, 10, 9.0)
    challenger = shortlist_candidate(2, 20, 8.0)
    few = {10: _sharing(descriptors, points, 0, 5), 20: _sharing(descriptors, points, 12, 6)}
    many = {10: few[10], 20: _sharing(descriptors, points, 30, 6)}

    kept = verify.verify([leader, challenger], query, lambda ids: {r: few[r] for r in ids})
    overtaken = verify.verify([leader, challenger], query, lambda ids: {r: many[r] for r in ids})

    # 12 consistent pairs against the leader's chance 4 or 5: not enough to take its place.
    assert kept[0].verified_inliers <= 5 and kept[1].verified_inliers == 12
    assert [c.individual_id for c in kept] == [1, 2]
    assert overtaken[0].verified_inliers == 30 >= verify.MIN_OVERTAKE
    assert [c.individual_id for c in overtaken] == [2, 1]


def test_the_learned_matcher_overturns_the_checks_first_place_only_where_the_check_hesitated():
    query = _features(*_coat(1))
    nothing = np.zeros((0, 4), np.float32)

    def reranked(leader_inliers, challenger_inliers, lightglue=90, **options):
        # LightGlue finds the challenger's pair clearly better than the leader's.
        pairs = {
            10: learned.PairMatch(40, 10, 8.0, nothing),
            20: learned.PairMatch(lightglue + 30, lightglue, 0.9 * lightglue, nothing),
        }
        leader, challenger = (
            dataclasses.replace(
                shortlist_candidate(i, ref, 9.0 - i), verified_reference_id=ref, verified_inliers=n
            )
            for i, ref, n in ((1, 10, leader_inliers), (2, 20, challenger_inliers))
        )
        order = rerank(
            [leader, challenger], query, lambda ids: {}, top_k=2, cache=dict(pairs), **options
        )
        return [c.individual_id for c in order]

    hesitant = 60 - DEFAULT_MAX_CHECK_MARGIN
    assert reranked(60, hesitant) == [2, 1]
    assert reranked(60, hesitant - 1) == [1, 2]
    assert reranked(60, 20, max_check_margin=40) == [2, 1]
    # Where the check did not count them, the learned matcher alone decides.
    assert reranked(None, None) == [2, 1]
    # A hundred learned pairs or more overturn even a clear check.
    assert reranked(60, 20, lightglue=DECISIVE_INLIERS) == [2, 1]
    assert reranked(60, 20, lightglue=DECISIVE_INLIERS - 1) == [1, 2]


def _with_detail(box, descriptors: np.ndarray, points: np.ndarray):
    """The box with a RootSIFT voice of its own (leopards.matching.detail)."""
    voice = _features(np.abs(descriptors), points * 1.6, model=detail.MODEL)
    return dataclasses.replace(box, detail=voice)


def test_the_rootsift_voice_adds_its_inliers_and_reorders_where_disk_cannot_tell():
    disk_coat, disk_points = _coat(1, 60)
    fine_coat, fine_points = _coat(2, 400)
    query = _with_detail(_features(disk_coat, disk_points), fine_coat, fine_points)
    # DISK finds 20 consistent pairs with both; the RootSIFT voice sees the animal's
    # fine detail in 2's box only, and a stranger's in 1's.
    leader = _with_detail(_sharing(disk_coat, disk_points, 20, 5), *_coat(9, 400))
    animal = _with_detail(
        _sharing(disk_coat, disk_points, 20, 6),
        np.concatenate([fine_coat[:150], _coat(10, 250)[0]]),
        np.concatenate([fine_points[:150] + 1.0, _coat(10, 250)[1]]),
    )
    stored = {10: leader, 20: animal}
    shortlist = [shortlist_candidate(1, 10, 9.0), shortlist_candidate(2, 20, 8.0)]

    def load(ids):
        return {r: stored[r] for r in ids}

    cache: dict = {}
    checked = verify.verify(shortlist, query, load, cache=cache)
    alone = verify.verify(shortlist, query, load, detail_top_n=0)

    assert [c.individual_id for c in checked] == [2, 1]
    disk_count, fine_count = cache[20]
    assert disk_count == 20 and fine_count >= 140
    assert checked[0].verified_inliers == disk_count + fine_count
    assert cache[10][1] < 10
    # Without it, DISK's tie keeps the shortlist's order, and nothing fine is compared.
    assert [c.individual_id for c in alone] == [1, 2]
    assert alone[0].verified_inliers == alone[1].verified_inliers == 20


def _three_voiced():
    """A query with its RootSIFT voice, and three individuals' references sharing 40, 30
    and 20 of its DISK keypoints (their RootSIFT voices strangers'), in shortlist order."""
    coat, points = _coat(1, 60)
    query = _with_detail(_features(coat, points), *_coat(2, 300))
    stored = {
        r: _with_detail(_sharing(coat, points, shared, r), *_coat(r, 300))
        for r, shared in ((10, 40), (20, 30), (30, 20))
    }
    return query, stored, [shortlist_candidate(i, 10 * i, 9.0 - i) for i in (1, 2, 3)]


def test_the_rootsift_voice_compares_only_the_first_of_disks_order():
    query, stored, shortlist = _three_voiced()
    cache: dict = {}

    verify.verify(
        shortlist, query, lambda ids: {r: stored[r] for r in ids}, cache=cache, detail_top_n=2
    )

    # All three pairs checked by DISK, the first two of its order by RootSIFT too.
    assert [cache[r][0] for r in (10, 20, 30)] == [40, 30, 20]
    assert cache[10][1] is not None and cache[20][1] is not None and cache[30][1] is None


@pytest.mark.django_db
def test_in_the_worker_the_check_reads_stored_features_only_and_reorders_the_shortlist(
    settings, monkeypatch, park
):
    from leopards.models import MatchCandidate, Sighting
    from leopards.services import matching

    settings.MATCH_RERANK_TOP_K, settings.MATCH_VERIFY_TOP_N = 1, 20
    right, wrong, references, query = catalogue_of_two(park, ("LEO-311U", "LEO-312U"))
    shortlist_first(monkeypatch, wrong)
    # The wrong individual's box has no learned features yet: describing it would cost
    # 0.4 s, and the check compares up to 40 references.
    Sighting.objects.filter(pk=references[1].pk).update(learned_features=None)
    described = []
    monkeypatch.setattr(
        matching, "_learned_blob", lambda sighting: described.append(sighting.pk) or None
    )

    matching.sighting_rank_candidates(sighting_id=query.pk)

    assert described == []
    # The shortlist put the wrong individual first; the check, then the learned matcher
    # comparing only the first of its order, put the right one first.
    first = MatchCandidate.objects.get(sighting=query, rank=1)
    assert first.leopard_id == right.pk
    assert first.stage == MatchCandidate.Stage.LEARNED
    assert MatchCandidate.objects.get(sighting=query, rank=2).leopard_id == wrong.pk


def test_a_reference_counted_without_the_voice_gets_it_when_it_comes_among_the_first():
    query, stored, three = _three_voiced()
    asked = []

    def load(ids):
        asked.append(sorted(ids))
        return {r: stored[r] for r in ids}

    cache: dict = {}
    verify.verify(three, query, load, cache=cache, detail_top_n=2)
    assert cache[30][1] is None
    # Another shortlist of the same query (the open set's, say) puts 3 first.
    verify.verify(three[2:], query, load, cache=cache, detail_top_n=2)

    assert asked == [[10, 20, 30], [30]]
    assert cache[30][1] is not None


def test_the_registry_checks_as_deep_as_the_engine_was_measured():
    from django.conf import settings

    # MATCH_VERIFY_TOP_N unset: the depth bench/README.md measured ("The pair check of 40").
    assert settings.MATCH_VERIFY_TOP_N == verify.TOP_N
