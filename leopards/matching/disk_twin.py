"""The DISK twin of the catalogue's match index, for the fused first stage.

When MATCH_FIRST_STAGE_DISK_WEIGHT is above 0 each process keeps, beside its SIFT
MatchIndex, a second MatchIndex of the references' stored learned DISK features
(leopards.matching.fusion.as_index_features). leopards.matching.catalogue builds,
replays and snapshots it with the same journal entries as the SIFT index, so the two
always hold the same references under the same labels, less those without DISK
features of the current model: those get no DISK votes until they have them and the
index is rebuilt (``match_index_rebuild --extract-missing`` describes them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings

from leopards.matching.features import Features
from leopards.matching.fusion import as_index_features
from leopards.matching.index import MatchIndex
from leopards.matching.learned import LearnedFeatures, backend_model, stored_model
from leopards.models import Sighting

CHUNK = 200


@dataclass
class DiskTwin:
    """A process's DISK index, the model its features come from, and what it holds."""

    index: MatchIndex
    model: str
    # sighting id -> SIFT features digest of the box when its DISK features were added.
    digests: dict[int, str] = field(default_factory=dict)


def weight() -> float:
    """Return the DISK voice's weight in the first stage (0: SIFT alone)."""
    return float(settings.MATCH_FIRST_STAGE_DISK_WEIGHT)


def wanted_model() -> str:
    """Return the model whose features the twin should hold, or "" when there is no twin.

    Only DISK: its 128 components fit the SIFT index's width, XFeat's 64 do not.
    """
    if weight() <= 0 or settings.MATCH_LEARNED_BACKEND != "disk":
        return ""
    return backend_model("disk")


def stored_features(model: str, sighting_ids: list[int]) -> Iterator[tuple[int, Features]]:
    """Yield (sighting id, index features) of the boxes whose stored DISK features are model's."""
    for start in range(0, len(sighting_ids), CHUNK):
        rows = (
            Sighting.objects.filter(
                pk__in=sighting_ids[start : start + CHUNK],
                learned_features__isnull=False,
                learned_model=model,
            )
            .order_by("pk")
            .values_list("pk", "learned_features")
        )
        for pk, data in rows:
            blob = bytes(data)
            if stored_model(blob) == model:
                yield pk, as_index_features(LearnedFeatures.from_bytes(blob))
