"""Helpers of the second stage's tests: rendered boxes, shortlist candidates, no network."""

import socket

import numpy as np

from leopards.matching.learned import LearnedFeatures, extract_for
from leopards.matching.scoring import Candidate
from leopards.synthetic import render_photo

SIZE = (400, 280)
_cache: dict = {}


def rendered_box(backend: str, individual: int, shot: int) -> LearnedFeatures:
    """A backend's learned features of a rendered synthetic left flank, computed once per run."""
    key = (backend, individual, shot)
    if key not in _cache:
        photo = render_photo(individual, "left", shot, image_size=SIZE)
        _cache[key] = extract_for(backend, photo.image, photo.bbox)
    return _cache[key]


def shortlist_candidate(individual: int, reference: int, score: float) -> Candidate:
    """A first-stage candidate with one reference box and no spot evidence of its own."""
    empty = np.zeros((0, 4), np.float32)
    return Candidate(
        individual_id=individual,
        score=score,
        raw_score=score,
        best_reference_id=reference,
        inliers=0,
        matches=empty,
        references=(reference,),
    )


def refuse_network(monkeypatch) -> None:
    """Make every socket connection in the test fail."""

    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def catalogue_of_two(park, codes: tuple[str, str]):
    """Two catalogued individuals (rendered 3 and 4, a left flank each, features extracted)
    and a new box of individual 3 waiting for review: (right, wrong, references, query)."""
    from leopards.models import Sighting
    from leopards.services import matching
    from tests.factories import LeopardFactory
    from tests.leopards.matching_photos import leopard_sighting

    right, wrong = (LeopardFactory(code=code) for code in codes)
    here = {"deployment__station__park": park}
    references = [
        leopard_sighting(3, "left", 1, leopard=right, **here),
        leopard_sighting(4, "left", 1, leopard=wrong, **here),
    ]
    for reference in references:
        matching.sighting_extract_features(sighting_id=reference.pk)
    matching.catalogue_sync(sighting_ids=[r.pk for r in references])
    query = leopard_sighting(3, "left", 2, leopard=None, status=Sighting.Status.PROPOSED, **here)
    matching.sighting_extract_features(sighting_id=query.pk)
    return right, wrong, references, query


def shortlist_first(monkeypatch, individual) -> None:
    """Make the first stage put this individual first, whatever its votes."""
    from leopards.services import matching

    real_rank = matching.rank

    def ranked(*args, **kwargs):
        return sorted(real_rank(*args, **kwargs), key=lambda c: c.individual_id != individual.pk)

    monkeypatch.setattr(matching, "rank", ranked)
