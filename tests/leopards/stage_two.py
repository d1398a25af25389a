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
