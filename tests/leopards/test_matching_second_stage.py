"""The learned second stage: re-ranking the shortlist, its probability, its stored evidence.

The tests of loading, matching and re-ranking run once per learned backend (DISK +
LightGlue, the default, and XFeat + LighterGlue); test_matching_disk.py holds what only
DISK has. Model inference is kept to a handful of small synthetic boxes.
"""

import io

import pytest
from django.core.management import call_command

from leopards.matching import disk, learned
from leopards.matching.calibration import DEFAULT_FEATURES, FUSED_FEATURES, Calibration
from leopards.matching.learned import LearnedFeatures, match_learned
from leopards.matching.rerank import rerank
from leopards.models import MatchCandidate, Sighting
from leopards.services import matching
from leopards.synthetic import write_dataset
from tests.leopards.stage_two import (
    catalogue_of_two,
    refuse_network,
    rendered_box,
    shortlist_candidate,
    shortlist_first,
)

# The module that loads each backend's networks (models() and its _models cache).
MODULES = {"disk": disk, "xfeat": learned}
each_backend = pytest.mark.parametrize("backend", learned.BACKENDS)


def test_every_backend_is_tested():
    assert set(MODULES) == set(learned.BACKENDS)


@each_backend
def test_models_load_from_the_package_without_touching_the_network(monkeypatch, backend):
    refuse_network(monkeypatch)
    module = MODULES[backend]
    monkeypatch.setattr(module, "_models", None)
    extractor, matcher = module.models()
    assert extractor is not None and matcher is not None
    features = rendered_box(backend, 3, 1)
    assert len(features) > 50
    assert features.model == learned.backend_model(backend)


@each_backend
def test_the_same_animal_gets_many_more_consistent_matches_than_another(backend):
    same = match_learned(_box(3, 2, backend), _box(3, 1, backend))
    other = match_learned(_box(3, 2, backend), _box(4, 1, backend))
    assert same.inliers >= 15
    assert same.inliers > 3 * other.inliers
    assert same.pairs.shape == (same.inliers, 4)


@each_backend
def test_the_second_stage_puts_the_right_animal_first_when_the_shortlist_did_not(backend):
    # The shortlist put individual 4 ahead of individual 3, but the query is 3.
    shortlist = [
        shortlist_candidate(4, 40, 9.0),
        shortlist_candidate(3, 30, 2.0),
        shortlist_candidate(5, 50, 1.0),
    ]
    stored = {40: _box(4, 1, backend), 30: _box(3, 1, backend), 50: _box(5, 1, backend)}
    loads = []

    def load(ids):
        loads.append(list(ids))
        return {pk: stored[pk] for pk in ids}

    ranked = rerank(shortlist, _box(3, 2, backend), load, top_k=2)
    assert [c.individual_id for c in ranked] == [3, 4, 5]
    assert [c.stage for c in ranked] == [2, 2, 1]
    assert ranked[0].learned_reference_id == 30
    assert ranked[0].learned_inliers > ranked[1].learned_inliers
    # Only the first top_k individuals are compared, and their boxes are read in one go.
    assert loads == [[40, 30]]


@each_backend
def test_the_second_stage_keeps_the_shortlists_first_when_it_is_right(backend):
    shortlist = [
        shortlist_candidate(3, 30, 9.0),
        shortlist_candidate(4, 40, 2.0),
        shortlist_candidate(5, 50, 1.0),
    ]
    stored = {40: _box(4, 1, backend), 30: _box(3, 1, backend), 50: _box(5, 1, backend)}

    ranked = rerank(
        shortlist, _box(3, 2, backend), lambda ids: {pk: stored[pk] for pk in ids}, top_k=3
    )

    assert ranked[0].individual_id == 3
    assert ranked[0].stage == 2


def test_a_clear_learned_match_is_probable_and_a_stranger_is_probably_new():
    calibration = Calibration(
        coef=[-1.0, 0.0, 0.0],
        features=["log1p_top1", "log1p_margin"],
        second_stage=Calibration(
            coef=[-5.0, 1.5, 1.0],
            threshold=0.5,
            features=["log1p_learned_confidence", "learned_confidence_margin"],
        ),
    )
    matched = rerank(
        [shortlist_candidate(4, 40, 3.0), shortlist_candidate(3, 30, 2.5)],
        _box(3, 2),
        lambda ids: {40: _box(4, 1), 30: _box(3, 1)},
    )
    stranger = rerank(
        [shortlist_candidate(4, 40, 3.0), shortlist_candidate(5, 50, 2.5)],
        _box(3, 2),
        lambda ids: {40: _box(4, 1), 50: _box(5, 1)},
    )
    p_matched, new_matched = calibration.assess(matched)
    p_stranger, new_stranger = calibration.assess(stranger)
    assert p_matched > 0.9 and not new_matched
    assert p_stranger < 0.5 and new_stranger
    # Without the second stage's evidence the shortlist-only model answers.
    p_shortlist, _new = calibration.assess([shortlist_candidate(4, 40, 3.0)])
    assert p_shortlist == pytest.approx(calibration.probability(3.0))


@pytest.mark.django_db
def test_the_worker_stores_which_stage_ranked_and_its_matched_spots(
    settings, monkeypatch, scientist, park, client
):
    settings.MATCH_RERANK_TOP_K = 2
    assert settings.MATCH_LEARNED_BACKEND == "disk"  # the default
    calls = []
    original = learned.extract_for

    def counting(backend, image, box=None, **kwargs):
        calls.append(backend)
        return original(backend, image, box, **kwargs)

    monkeypatch.setattr(learned, "extract_for", counting)
    right, wrong, references, query = catalogue_of_two(park, ("LEO-301U", "LEO-302U"))
    assert len(calls) == 3  # one extraction per box, none when a box joins the catalogue
    shortlist_first(monkeypatch, wrong)
    # A reference described before the second stage existed gets its learned
    # features at its first comparison, once.
    Sighting.objects.filter(pk=references[1].pk).update(learned_features=None)
    matching.sighting_rank_candidates(sighting_id=query.pk)
    assert len(calls) == 4
    described = Sighting.objects.get(pk=references[1].pk)
    assert described.learned_features is not None
    # Written with the blob, naming the network and the outline.
    assert described.learned_model == learned.backend_model("disk")
    matching.sighting_rank_candidates(sighting_id=query.pk)
    assert len(calls) == 4  # ranking again reads the stored features

    first = MatchCandidate.objects.get(sighting=query, rank=1)
    assert first.leopard_id == right.pk
    assert first.stage == MatchCandidate.Stage.LEARNED
    assert first.reference_id == references[0].pk
    assert first.inliers == len(first.matches) or len(first.matches) == matching.MAX_MATCH_LINES
    assert first.learned_matches >= first.inliers > 10
    assert all(0 <= v <= 1 for pair in first.matches for v in pair)

    client.force_login(scientist)
    response = client.get("/api/candidates/", {"sighting": query.pk})
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert rows[0]["stage"] == MatchCandidate.Stage.LEARNED
    assert rows[0]["learned_matches"] == first.learned_matches
    assert rows[0]["matches"] == first.matches
    assert set(calls) == {"disk"}

    # Another backend describes every box again, the query and the references it is
    # compared with, and never matches its descriptors with the stored ones.
    settings.MATCH_LEARNED_BACKEND = "xfeat"
    matching.sighting_rank_candidates(sighting_id=query.pk)
    assert calls[4:] == ["xfeat"] * 3
    for sighting in [query, *references]:
        row = Sighting.objects.get(pk=sighting.pk)
        assert learned.stored_model(bytes(row.learned_features)) == learned.backend_model("xfeat")
        assert row.learned_model == learned.backend_model("xfeat")
    assert MatchCandidate.objects.get(sighting=query, rank=1).leopard_id == right.pk


def test_evaluate_matching_fits_both_stages_and_scores_them_on_held_out_animals(tmp_path, settings):
    settings.MATCH_RERANK_TOP_K = 2
    labels = write_dataset(
        tmp_path / "set", individuals=3, photos_per_flank=2, image_size=(400, 280)
    )
    out = tmp_path / "calibration.json"
    text = io.StringIO()

    call_command("evaluate_matching", str(labels), "--calibration-out", str(out), stdout=text)

    printed = text.getvalue()
    assert "Brier score" in printed and "heldout_strangers_flagged" in printed
    fitted = Calibration.load(out)
    assert fitted.features == list(DEFAULT_FEATURES)
    assert fitted.second_stage is not None
    assert fitted.second_stage.features == list(FUSED_FEATURES)


def _box(individual: int, shot: int, backend: str = "xfeat") -> LearnedFeatures:
    return rendered_box(backend, individual, shot)
