"""When confirming a match goes against the matcher, so that it takes a deliberate second step."""

from collections.abc import Sequence

from django.conf import settings

from leopards.models import MatchCandidate, Sighting


def probability_at_most(leopard_id: int, candidates: Sequence[MatchCandidate]) -> float | None:
    """Return the matcher's probability that the sighting shows this individual, or a bound.

    The matcher gives a calibrated probability to its top candidate. Any other individual,
    ranked lower or not ranked at all, is at most as likely as the top one is wrong.
    None when the matcher said nothing (no candidates, or no probability on the top one).
    """
    for candidate in candidates:
        if candidate.leopard_id == leopard_id and candidate.probability is not None:
            return candidate.probability
    top = min(candidates, key=lambda c: c.rank, default=None)
    if top is None or top.probability is None or top.leopard_id == leopard_id:
        return None
    return 1.0 - top.probability


def confirm_needs_override(
    sighting: Sighting, leopard_id: int, candidates: Sequence[MatchCandidate]
) -> bool:
    """Tell whether confirming this individual goes against the matcher's advice.

    It does when the matcher flagged the sighting "probably a new individual", or when its
    probability for this individual is below MATCH_CONFIRM_MIN_PROBABILITY.
    """
    if sighting.new_individual_likely:
        return True
    probability = probability_at_most(leopard_id, candidates)
    return probability is not None and probability < settings.MATCH_CONFIRM_MIN_PROBABILITY


def candidates_mark_override(sighting: Sighting, candidates: Sequence[MatchCandidate]) -> None:
    """Set ``needs_override`` on each of a sighting's candidates, for the page and the API."""
    for candidate in candidates:
        candidate.needs_override = confirm_needs_override(
            sighting, candidate.leopard_id, candidates
        )
