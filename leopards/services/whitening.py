"""Fit the pair check's descriptor projection on this registry's confirmed photos.

Every two confirmed photos of one flank of one individual, from different events, are
checked as the pair check checks a query (leopards.matching.verify); the inliers of
the pairs with at least whitening.MIN_INLIERS are matched patches of one coat, and
leopards.matching.whitening fits the projection on them.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from leopards.matching import verify, whitening
from leopards.matching.learned import LearnedFeatures, backend_model, network_of
from leopards.models import Flank, Sighting

# Photos of one flank compared at most (a random choice of them, the same on every run):
# 12 give 66 pairs, enough of one animal beside the others.
PHOTOS_PER_FLANK = 12


@dataclass(frozen=True)
class WhiteningFit:
    projection: whitening.Whitening
    individuals: int
    photo_pairs: int  # checked
    kept_pairs: int  # with at least min_inliers


def fit_match_whitening(
    out: Path,
    *,
    dimensions: int = whitening.DIMENSIONS,
    min_inliers: int = whitening.MIN_INLIERS,
    min_pairs: int = whitening.MIN_PAIRS,
    photos_per_flank: int = PHOTOS_PER_FLANK,
) -> WhiteningFit:
    """Fit the projection on the confirmed photos and write it to out.

    Raises whitening.WhiteningError when the photos give too few matched patches.
    """
    model = backend_model(settings.MATCH_LEARNED_BACKEND)
    rows = (
        Sighting.objects.filter(
            status=Sighting.Status.CONFIRMED,
            leopard__isnull=False,
            flank__in=[Flank.LEFT, Flank.RIGHT],
            learned_model=model,
            learned_features__isnull=False,
        )
        .order_by("pk")
        .values_list("pk", "leopard_id", "flank", "photo_id", "photo__event_id")
    )
    flanks: dict[tuple[int, str], list[tuple[int, object]]] = defaultdict(list)
    for pk, leopard_id, flank, photo_id, event_id in rows:
        # Photos of one event show one visit: they match on the same light and pose.
        visit = ("event", event_id) if event_id is not None else ("photo", photo_id)
        flanks[leopard_id, flank].append((pk, visit))
    chooser = random.Random(0)
    first, second, individuals, photo_pairs, kept_pairs = [], [], set(), 0, 0
    for (leopard_id, _flank), photos in flanks.items():
        if len(photos) > photos_per_flank:
            photos = chooser.sample(photos, photos_per_flank)
        pairs = [(a, b) for a, b in itertools.combinations(photos, 2) if a[1] != b[1]]
        if not pairs:
            continue
        stored = {
            pk: LearnedFeatures.from_bytes(bytes(data))
            for pk, data in Sighting.objects.filter(
                pk__in={pk for pair in pairs for pk, _visit in pair}
            ).values_list("pk", "learned_features")
        }
        a, b, kept = verify.matched_descriptors(
            ((stored[x], stored[y]) for (x, _v), (y, _w) in pairs), min_inliers
        )
        photo_pairs += len(pairs)
        if kept:
            first.append(a)
            second.append(b)
            kept_pairs += kept
            individuals.add(leopard_id)
    matched_a = np.concatenate(first) if first else np.empty((0, 0), np.float32)
    matched_b = np.concatenate(second) if second else np.empty((0, 0), np.float32)
    projection = whitening.fit(
        matched_a,
        matched_b,
        model=network_of(model),
        dimensions=dimensions,
        min_pairs=min_pairs,
        fitted_on=(
            f"{kept_pairs} pairs of confirmed photos of {len(individuals)} individuals "
            f"(of {photo_pairs} checked)"
        ),
    )
    projection.save(out)
    return WhiteningFit(projection, len(individuals), photo_pairs, kept_pairs)
