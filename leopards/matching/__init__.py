"""Spot-pattern matching engine: features, index, scoring, calibration, evaluation.

Pure Python and numpy, no Django: the registry stores Features.to_bytes() in a
column, keeps one MatchIndex up to date through add/remove/relabel, and calls rank()
for each new sighting.
"""

from leopards.matching.calibration import Calibration, load_default
from leopards.matching.features import Features, extract_features
from leopards.matching.index import UNKNOWN_FLANK, MatchIndex
from leopards.matching.scoring import Candidate, match_pair, rank

__all__ = [
    "UNKNOWN_FLANK",
    "Calibration",
    "Candidate",
    "Features",
    "MatchIndex",
    "extract_features",
    "load_default",
    "match_pair",
    "rank",
]
