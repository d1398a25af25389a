"""Re-rank the shortlist's first individuals with the learned matcher (the second stage).

The first stage's order is kept below the re-ranked ones: an individual that the
shortlist did not put among its first ``top_k`` is not compared again, so its place
still says only what the SIFT votes say (``Candidate.stage`` is 1 for it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, MutableMapping

from leopards.matching.index import Label
from leopards.matching.learned import NO_MATCH, LearnedFeatures, PairMatch, match_learned
from leopards.matching.scoring import Candidate

DEFAULT_TOP_K = 8
DEFAULT_REFS_PER_INDIVIDUAL = 1
# The shortlist's first individual keeps its place unless another one has at least
# this many learned inliers: between strangers the learned matcher still finds a
# dozen or two consistent pairs in fur and background (bench/README.md).
DEFAULT_MIN_OVERTAKE = 30
# Nor unless the pair check hesitated between the two (the check's count for its first
# individual exceeds the challenger's by at most this many inliers) or the challenger's
# learned pairs are decisive (at least DECISIVE_INLIERS). Where the check was clear,
# the learned matcher overturned it more often wrongly than rightly on nyala flanks,
# except where it found a hundred pairs or more (bench/README.md, "The pair check's
# affine map; the learned matcher held to the check's margin").
DEFAULT_MAX_CHECK_MARGIN = 5
DECISIVE_INLIERS = 100

Loader = Callable[[list[Label]], dict[Label, LearnedFeatures]]


def learned_score(candidate: Candidate) -> float:
    """Return the order key of a re-ranked candidate: the evidence of both geometric checks.

    The learned pairs count by the matcher's confidence in each (0-1), the shortlist's
    affine inliers one each, and the shortlist's votes break ties. Of the orderings
    measured (bench/README.md) this one lost least on the nyala photos and kept the
    six snow-leopard matches first.
    """
    return candidate.learned_confidence + candidate.inliers + 0.01 * candidate.score


def rerank(
    candidates: list[Candidate],
    query: LearnedFeatures,
    load: Loader,
    *,
    top_k: int = DEFAULT_TOP_K,
    refs_per_individual: int = DEFAULT_REFS_PER_INDIVIDUAL,
    cache: MutableMapping[Label, PairMatch] | None = None,
    min_overtake: int | None = None,
    max_check_margin: int | None = None,
) -> list[Candidate]:
    """Match the query with the references of the first top_k candidates and re-order them.

    load(reference ids) returns the stored learned features of those references (a
    reference without them is skipped). cache, keyed by reference id, keeps the pair
    results of this query for a caller that ranks the same query again. The first
    candidate keeps its place unless the new first has min_overtake learned inliers and,
    where the pair check (leopards.matching.verify) counted both, trails it there by at
    most max_check_margin inliers or has DECISIVE_INLIERS learned ones.
    """
    if top_k <= 0 or len(query) == 0 or not candidates:
        return list(candidates)
    head, tail = candidates[:top_k], candidates[top_k:]
    wanted = {c.individual_id: _references(c, refs_per_individual) for c in head}
    needed = [ref for refs in wanted.values() for ref in refs if cache is None or ref not in cache]
    stored = load(needed) if needed else {}
    compared = []
    for candidate in head:
        best_ref, best = None, NO_MATCH
        for ref in wanted[candidate.individual_id]:
            if cache is not None and ref in cache:
                found = cache[ref]
            elif ref in stored:
                found = match_learned(query, stored[ref])
                if cache is not None:
                    cache[ref] = found
            else:
                continue
            if (found.inliers, found.confidence) > (
                best.inliers,
                best.confidence,
            ) or best_ref is None:
                best_ref, best = ref, found
        if best_ref is None:
            compared.append(candidate)
            continue
        compared.append(
            dataclasses.replace(
                candidate,
                stage=2,
                learned_reference_id=best_ref,
                learned_matches=best.matches,
                learned_inliers=best.inliers,
                learned_confidence=best.confidence,
                learned_pairs=best.pairs,
            )
        )
    # Individuals the second stage could not compare (no stored features) keep their
    # shortlist order after the compared ones.
    ranked = sorted(
        (c for c in compared if c.stage == 2),
        key=lambda c: (learned_score(c), c.score),
        reverse=True,
    )
    floor = DEFAULT_MIN_OVERTAKE if min_overtake is None else min_overtake
    margin = DEFAULT_MAX_CHECK_MARGIN if max_check_margin is None else max_check_margin
    leader = head[0].individual_id
    if (
        ranked
        and ranked[0].individual_id != leader
        and _keeps_first_place(head[0], ranked[0], floor, margin)
    ):
        first = next((c for c in ranked if c.individual_id == leader), None)
        if first is not None:
            ranked = [first, *(c for c in ranked if c is not first)]
    return ranked + [c for c in compared if c.stage != 2] + list(tail)


def _keeps_first_place(leader: Candidate, challenger: Candidate, floor: int, margin: int) -> bool:
    """Return whether the first candidate keeps its place against the learned order's new
    first: the challenger has fewer than floor learned inliers, or the pair check counted
    both and put the leader ahead by more than margin inliers while the challenger's
    learned pairs are not decisive."""
    if challenger.learned_inliers < floor:
        return True
    if leader.verified_inliers is None or challenger.verified_inliers is None:
        return False
    if challenger.learned_inliers >= DECISIVE_INLIERS:
        return False
    return leader.verified_inliers - challenger.verified_inliers > margin


def _references(candidate: Candidate, limit: int) -> list[Label]:
    """Return the candidate's reference boxes to compare, the best one first: the pair
    check's (leopards.matching.verify) where it ran, else the shortlist's."""
    first = candidate.verified_reference_id
    if first is None:
        first = candidate.best_reference_id
    best = [first] if first is not None else []
    refs: Iterable[Label] = [*best, *(r for r in candidate.references if r not in best)]
    return list(refs)[:limit]
