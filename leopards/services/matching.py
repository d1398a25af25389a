"""Writes of the spot-pattern matcher: features per sighting, ranked candidates, the catalogue.

Contract for code that changes identifications (confirm, reassign, unconfirm,
merge, split, undo, a redrawn box or a changed flank):

- ``catalogue_queue_sync(sighting_ids=[...])`` inside the transaction that makes
  the change: after commit, leopards.tasks.catalogue_sync brings the match index
  in line with each sighting's current state. Idempotent.
- ``sighting_queue_match(sighting_id=..., refresh_features=True)`` after a box is
  drawn or redrawn: features are extracted again and candidates ranked again.

Rankings follow the catalogue by themselves: when a sync relabels or removes a
reference, the sightings that named it are ranked again; when an individual gets its
first reference on a flank (a new individual, or a flank seen for the first time),
every sighting still waiting for review that searches that flank is ranked again
(``sightings_rerank``), since until then it could not have the individual among its
candidates.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leopards.matching import catalogue, disk_twin, extraction, installed
from leopards.matching.calibration import NOISE_RANKS
from leopards.matching.extraction import BoxFeatures, RelativeBox, box_features, box_features_job
from leopards.matching.features import MIN_BOX_SIDE, Features
from leopards.matching.fusion import as_index_features, fuse
from leopards.matching.learned import LearnedFeatures, backend_model, stored_model
from leopards.matching.rerank import rerank
from leopards.matching.scoring import Candidate, rank
from leopards.matching.verify import verify
from leopards.models import (
    Flank,
    Leopard,
    MatchCandidate,
    MatchIndexEntry,
    MatchIndexState,
    Sighting,
)

logger = logging.getLogger(__name__)

# The review page draws matched spots; a few dozen lines say as much as hundreds.
MAX_MATCH_LINES = 60
# A new individual ranks again at most this many waiting sightings, newest first; older
# ones keep their candidates until something else ranks them again.
RERANK_LIMIT = 2000
# Seconds between a new individual and ranking the waiting sightings again, so that a
# scientist creating several individuals in a row costs about one pass, not one each.
RERANK_DELAY_SECONDS = 10
# Below this many boxes, starting worker processes costs more than it saves.
PARALLEL_FROM = 24
EXTRACT_CHUNK = 64


# -- features --------------------------------------------------------------------------


def _box_filter(sighting: Sighting) -> Q:
    """Match the sighting's box as read, so a box redrawn meanwhile is not overwritten."""
    if not sighting.has_box:
        return Q(bbox_x__isnull=True)
    return Q(
        bbox_x=sighting.bbox_x,
        bbox_y=sighting.bbox_y,
        bbox_w=sighting.bbox_w,
        bbox_h=sighting.bbox_h,
    )


def _relative_box(sighting: Sighting) -> RelativeBox | None:
    if not sighting.has_box:
        return None
    return (sighting.bbox_x, sighting.bbox_y, sighting.bbox_w, sighting.bbox_h)


def _read_photo(sighting: Sighting) -> tuple[bytes | None, str]:
    """Return the photo's bytes, or None and the problem's code; other storage errors propagate."""
    if not sighting.photo.file.name:
        return None, Sighting.FeatureProblem.NO_FILE
    try:
        with sighting.photo.file.open("rb") as handle:
            return handle.read(), ""
    except FileNotFoundError:
        return None, Sighting.FeatureProblem.FILE_MISSING


def _problem(result: BoxFeatures) -> tuple[str, dict[str, str | int]]:
    """Return why a box gave no features: a code and parameters, rendered when read."""
    if result.problem == extraction.UNREADABLE:
        return Sighting.FeatureProblem.UNREADABLE, {"why": result.detail}
    if result.problem == extraction.TOO_SMALL:
        return Sighting.FeatureProblem.TOO_SMALL, {"px": result.detail, "min": MIN_BOX_SIDE}
    if result.problem == extraction.NO_PATTERN:
        return Sighting.FeatureProblem.NO_PATTERN, {}
    return "", {}


def _store_features(
    sighting: Sighting, result: BoxFeatures | None, problem: str
) -> Sighting | None:
    """Store a box's features (or why there are none) unless the box changed meanwhile."""
    if result is None:
        status = Sighting.FeatureStatus.FAILED
    elif result.count:
        status = Sighting.FeatureStatus.READY
    elif result.problem == extraction.UNREADABLE:
        status = Sighting.FeatureStatus.FAILED
    else:
        status = Sighting.FeatureStatus.NO_FEATURES
    code, params = (problem, {}) if problem or result is None else _problem(result)
    blob = result.blob if result is not None else None
    values = {
        "features": blob,
        "features_version": Features.stored_version(blob) if blob else None,
        **_learned_values(result.learned if result is not None and blob else None),
        "feature_status": status,
        "feature_error": "",
        "feature_error_code": code,
        "feature_error_params": params,
        "feature_count": result.count if result is not None else 0,
        "features_digest": catalogue.features_digest(blob) if blob else "",
    }
    updated = Sighting.objects.filter(_box_filter(sighting), pk=sighting.pk).update(**values)
    if not updated:
        # The box changed (or the row went) while the photo was read; the change
        # queued its own extraction.
        return Sighting.objects.filter(pk=sighting.pk).first()
    for name, value in values.items():
        setattr(sighting, name, value)
    return sighting


def _learned_values(blob: bytes | None) -> dict[str, bytes | str | None]:
    """Return a box's learned features with their model, the two columns written together."""
    return {"learned_features": blob, "learned_model": stored_model(blob) if blob else ""}


def sighting_extract_features(*, sighting_id: int, learned: bool = True) -> Sighting | None:
    """Extract the spot-pattern features of a sighting's box and store them with a status.

    learned=False leaves out the second stage's features, which a box then gets when a
    query is first compared with it.
    """
    sighting = Sighting.objects.select_related("photo").filter(pk=sighting_id).first()
    if sighting is None:
        return None
    data, problem = _read_photo(sighting)
    result = (
        box_features(
            data,
            _relative_box(sighting),
            learned=_learned_backend() if learned else "",
            outlined=sift_outlined(),
        )
        if data is not None
        else None
    )
    return _store_features(sighting, result, problem)


def _learned_backend() -> str:
    """Return the learned features' backend, or "" when neither stage uses them here."""
    if second_stage_top_k() > 0 or _bulk_learned_backend():
        return settings.MATCH_LEARNED_BACKEND
    return ""


def _bulk_learned_backend() -> str:
    """Return the backend that bulk extraction describes catalogue boxes with, or "".

    Only the first stage's DISK voice needs every catalogue box described before a
    query; the second stage alone describes a box at its first comparison.
    """
    if not disk_twin.wanted_model() or not _learned_installed():
        return ""
    return settings.MATCH_LEARNED_BACKEND


def second_stage_top_k() -> int:
    """Return how many shortlisted individuals the second stage compares here (0: none).

    0 when MATCH_RERANK_TOP_K is 0, and when the learned matcher is not installed (only
    requirements.txt was): the shortlist then ranks alone, and the log says why once.
    """
    top_k = settings.MATCH_RERANK_TOP_K
    return top_k if top_k > 0 and _learned_installed() else 0


def sift_outlined() -> bool:
    """Tell whether this registry keeps SIFT's keypoints inside ISNet's outline: when a
    learned stage runs (the re-rank or the shortlist's DISK voice) and ISNet is installed
    (leopards.matching.extraction.outlines_sift)."""
    learned_stage = second_stage_top_k() > 0 or bool(disk_twin.wanted_model())
    return extraction.outlines_sift(learned_stage)


_said: set[str] = set()


def _learned_installed() -> bool:
    """Tell whether the learned matcher can run here; log once per process why not."""
    missing = installed.second_stage_missing(settings.MATCH_LEARNED_BACKEND)
    if missing and missing not in _said:
        _said.add(missing)
        logger.warning(
            "The second stage of matching is unavailable (%s): candidates are ranked by "
            "the shortlist alone. Install requirements-learned.txt and "
            "requirements-learned-nodeps.txt, or set MATCH_RERANK_TOP_K=0.",
            missing,
        )
    return not missing


def sightings_extract_features(*, sighting_ids: Iterable[int], processes: int = 0) -> int:
    """Extract the SIFT features of many catalogue boxes in parallel processes; return how many.

    The second stage's features are left out: the second stage describes a catalogue box
    (about a CPU second with DISK) the first time a query is compared with it, and
    stores that, so that building a catalogue does not wait for every box. With the
    first stage's DISK voice on (MATCH_FIRST_STAGE_DISK_WEIGHT), every box is described
    here too, since its DISK votes need them before any query.
    """
    ids = sorted(set(sighting_ids))
    learned = _bulk_learned_backend()
    processes = processes or min(os.cpu_count() or 1, 8)
    if processes < 2 or len(ids) < PARALLEL_FROM:
        return sum(
            sighting_extract_features(sighting_id=pk, learned=bool(learned)) is not None
            for pk in ids
        )
    done = 0
    # Spawned, not forked, workers: a forked child would share the database connection.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        for start in range(0, len(ids), EXTRACT_CHUNK):
            sightings = list(
                Sighting.objects.select_related("photo").filter(
                    pk__in=ids[start : start + EXTRACT_CHUNK]
                )
            )
            reads = [_read_photo(s) for s in sightings]
            outlined = sift_outlined()
            jobs = [
                (data, _relative_box(s), learned, outlined)
                for s, (data, _e) in zip(sightings, reads, strict=True)
            ]
            readable = [job for job in jobs if job[0] is not None]
            results = iter(pool.map(box_features_job, readable, chunksize=4))
            for sighting, (data, problem) in zip(sightings, reads, strict=True):
                result = next(results) if data is not None else None
                done += _store_features(sighting, result, problem) is not None
    return done


# -- candidates ------------------------------------------------------------------------


def _excluded_references(sighting: Sighting) -> list[int]:
    """Return the sighting itself and the other sightings of its photo and event."""
    same = Q(photo_id=sighting.photo_id)
    if sighting.photo.event_id is not None:
        # Photos seconds apart at one camera show the same visit: matching them
        # against each other says nothing about identity.
        same |= Q(photo__event_id=sighting.photo.event_id)
    return [sighting.pk, *Sighting.objects.filter(same).values_list("pk", flat=True)]


def _relative_pairs(
    pairs: np.ndarray, query_size: tuple[int, int] | None, reference_size: tuple[int, int] | None
) -> list[list[float]]:
    """Return matched keypoint pairs relative (0-1) to each photo, for drawing."""
    if query_size is None or reference_size is None or not len(pairs):
        return []
    scale = np.array(
        [query_size[0], query_size[1], reference_size[0], reference_size[1]], np.float32
    )
    relative = np.clip(pairs[:MAX_MATCH_LINES] / scale, 0.0, 1.0)
    return np.round(relative, 4).tolist()


def _size(width: int | None, height: int | None) -> tuple[int, int] | None:
    return (width, height) if width and height else None


@transaction.atomic
def _store_candidates(
    sighting: Sighting, rows: list[MatchCandidate], *, new_individual_likely: bool
) -> list[MatchCandidate]:
    """Replace a sighting's candidates in one transaction."""
    # Locking the sighting serialises two runs for it, so neither sees the other's rows.
    if not Sighting.objects.select_for_update().filter(pk=sighting.pk).exists():
        return []
    MatchCandidate.objects.filter(sighting=sighting).delete()
    created = MatchCandidate.objects.bulk_create(rows)
    Sighting.objects.filter(pk=sighting.pk).update(
        matched_at=timezone.now(), new_individual_likely=new_individual_likely
    )
    return created


def sighting_rank_candidates(
    *, sighting_id: int, top_k: int | None = None
) -> list[MatchCandidate] | None:
    """Rank catalogue individuals for a sighting and store them as its candidates."""
    top_k = top_k or settings.MATCH_CANDIDATES
    sighting = Sighting.objects.select_related("photo").filter(pk=sighting_id).first()
    if sighting is None:
        return None
    if sighting.feature_status != Sighting.FeatureStatus.READY or not sighting.features:
        # Nothing to compare: the feature status and its reason say why.
        return _store_candidates(sighting, [], new_individual_likely=False)

    features = Features.from_bytes(bytes(sighting.features))
    loaded = catalogue.current()
    flank = catalogue.query_flank(sighting.flank)
    excluded = _excluded_references(sighting)
    ranked: list[Candidate] = rank(loaded.index, features, flank, exclude_reference_ids=excluded)
    rerank_k = second_stage_top_k()
    fuses = loaded.twin is not None and _bulk_learned_backend() != ""
    # The query's learned features, read (or described) once for both stages.
    query_learned = _query_learned(sighting) if rerank_k > 0 or fuses else None
    if fuses and query_learned is not None and query_learned.model == loaded.twin.model:
        disk_ranked = rank(
            loaded.twin.index,
            as_index_features(query_learned),
            flank,
            exclude_reference_ids=excluded,
        )
        ranked = fuse(ranked, disk_ranked, disk_twin.weight())
    # An individual merged away or deleted since the index last heard of it is dropped.
    verify_n = settings.MATCH_VERIFY_TOP_N if rerank_k > 0 else 0
    existing = set(
        Leopard.objects.filter(
            pk__in=[
                c.individual_id for c in ranked[: max(top_k, rerank_k, verify_n, NOISE_RANKS) * 2]
            ],
            merged_into__isnull=True,
        ).values_list("pk", flat=True)
    )
    ranked = [c for c in ranked if c.individual_id in existing]
    if rerank_k > 0 and query_learned is not None:
        references = _QueryReferences()
        # The pair check re-orders the shortlist's first individuals, then the learned
        # matcher compares the first rerank_k of that order.
        head = max(top_k, rerank_k, verify_n)
        ranked = (
            verify(
                ranked[:head],
                query_learned,
                references.stored,
                top_n=verify_n,
                whitening=catalogue.whitening(),
            )
            + ranked[head:]
        )
        head = max(top_k, rerank_k)
        ranked = (
            rerank(
                ranked[:head],
                query_learned,
                references.described,
                top_k=rerank_k,
                refs_per_individual=settings.MATCH_RERANK_REFERENCES,
            )
            + ranked[head:]
        )
    # Before the cut to top_k: the calibration reads the runner-ups' scores, however few
    # candidates are stored.
    probability, new_likely = catalogue.calibration().assess(ranked)
    ranked = ranked[:top_k]
    references = {
        row["pk"]: row
        for row in Sighting.objects.filter(
            pk__in=[_reference_of(c) for c in ranked if _reference_of(c) is not None]
        ).values("pk", "photo__width", "photo__height")
    }
    query_size = _size(sighting.photo.width, sighting.photo.height)
    rows = []
    for position, candidate in enumerate(ranked, start=1):
        reference = references.get(_reference_of(candidate))
        learned = candidate.stage == MatchCandidate.Stage.LEARNED
        rows.append(
            MatchCandidate(
                sighting=sighting,
                leopard_id=candidate.individual_id,
                rank=position,
                score=round(candidate.score, 4),
                # The calibration is fitted for the first place only: whether the best
                # candidate is the animal. Lower places get no figure rather than a
                # made-up one.
                probability=round(probability, 4) if position == 1 else None,
                reference_id=reference["pk"] if reference else None,
                # The evidence of the stage that placed the candidate: the learned
                # matcher's pairs when it compared this individual, else the shortlist's.
                stage=candidate.stage,
                learned_matches=candidate.learned_matches,
                inliers=candidate.learned_inliers if learned else candidate.inliers,
                matches=_relative_pairs(
                    candidate.learned_pairs if learned else candidate.matches,
                    query_size,
                    _size(reference["photo__width"], reference["photo__height"])
                    if reference
                    else None,
                ),
            )
        )
    return _store_candidates(sighting, rows, new_individual_likely=new_likely)


def _reference_of(candidate: Candidate) -> int | None:
    """Return the reference box whose evidence a candidate shows."""
    if candidate.stage == MatchCandidate.Stage.LEARNED:
        return candidate.learned_reference_id
    return candidate.best_reference_id


def _query_learned(sighting: Sighting) -> LearnedFeatures | None:
    """Return the query box's learned features of the current backend, extracted if need be.

    A box described while the stage was off, or by another backend or extraction size,
    is described again now and stored.
    """
    model = learned_model()
    if sighting.learned_features and stored_model(bytes(sighting.learned_features)) == model:
        return LearnedFeatures.from_bytes(bytes(sighting.learned_features))
    blob = _learned_blob(sighting)
    if blob is None:
        return None
    values = _learned_values(blob)
    Sighting.objects.filter(_box_filter(sighting), pk=sighting.pk).update(**values)
    for name, value in values.items():
        setattr(sighting, name, value)
    return LearnedFeatures.from_bytes(blob)


def learned_model() -> str:
    """Return the model name of the learned features the current backend stores."""
    return backend_model(settings.MATCH_LEARNED_BACKEND)


class _QueryReferences:
    """The learned features of the references one query compares, each read once.

    The pair check reads only features already stored (stored): describing a reference
    costs about 0.4 s, and it compares up to 40. The learned matcher describes the few it
    compares that have none yet (described), as it always has.
    """

    def __init__(self) -> None:
        self.known: dict[int, LearnedFeatures] = {}
        self.read: set[int] = set()

    def stored(self, reference_ids: list[int]) -> dict[int, LearnedFeatures]:
        unread = [pk for pk in reference_ids if pk not in self.read]
        if unread:
            self.known.update(_stored_learned(unread, describe=False))
            self.read.update(unread)
        return {pk: self.known[pk] for pk in reference_ids if pk in self.known}

    def described(self, reference_ids: list[int]) -> dict[int, LearnedFeatures]:
        missing = [pk for pk in reference_ids if pk not in self.known]
        if missing:
            self.known.update(_stored_learned(missing))
            self.read.update(missing)
        return {pk: self.known[pk] for pk in reference_ids if pk in self.known}


def _stored_learned(
    reference_ids: list[int], *, describe: bool = True
) -> dict[int, LearnedFeatures]:
    """Return the stored learned features of these reference boxes.

    With describe, a reference whose box was described before the second stage
    existed, or by another backend (MATCH_LEARNED_BACKEND changed), gets its learned
    features now, once, and they are stored like those of a new box: descriptors of two
    networks are never matched with each other. Without it, such a reference is left out.
    """
    model = learned_model()
    rows = Sighting.objects.filter(
        pk__in=reference_ids, learned_features__isnull=False, learned_model=model
    )
    found = {}
    for pk, data in rows.values_list("pk", "learned_features"):
        if stored_model(bytes(data)) == model:
            found[pk] = LearnedFeatures.from_bytes(bytes(data))
    missing = [pk for pk in reference_ids if pk not in found] if describe else []
    for sighting in Sighting.objects.select_related("photo").filter(pk__in=missing):
        blob = _learned_blob(sighting)
        if blob is not None:
            Sighting.objects.filter(_box_filter(sighting), pk=sighting.pk).update(
                **_learned_values(blob)
            )
            found[sighting.pk] = LearnedFeatures.from_bytes(blob)
    return found


def _learned_blob(sighting: Sighting) -> bytes | None:
    """Extract a box's learned features from its photo, or None when it cannot."""
    data, _problem = _read_photo(sighting)
    if data is None or not sighting.photo.width or not sighting.photo.height:
        return None
    box = _relative_box(sighting)
    width, height = sighting.photo.width, sighting.photo.height
    pixels = (box[0] * width, box[1] * height, box[2] * width, box[3] * height) if box else None
    try:
        return extraction.learned_blob(data, pixels, settings.MATCH_LEARNED_BACKEND)
    except (OSError, ValueError) as exc:
        logger.warning("No learned features for sighting %s: %s", sighting.pk, exc)
        return None


@dataclass(frozen=True)
class MatchOutcome:
    feature_status: str
    candidates: int
    new_individual_likely: bool


def sighting_match(
    *, sighting_id: int, refresh_features: bool = False, stale_before: datetime | None = None
) -> MatchOutcome | None:
    """Extract a sighting's features when needed, update the catalogue, rank its candidates.

    With stale_before, candidates ranked at or after that moment are kept as they are:
    a second request for the same catalogue change costs one query.
    """
    sighting = Sighting.objects.filter(pk=sighting_id).first()
    if sighting is None:
        return None
    if (
        stale_before is not None
        and not refresh_features
        and sighting.feature_status == Sighting.FeatureStatus.READY
        and sighting.matched_at is not None
        and sighting.matched_at >= stale_before
    ):
        return MatchOutcome(
            feature_status=sighting.feature_status,
            candidates=MatchCandidate.objects.filter(sighting_id=sighting_id).count(),
            new_individual_likely=sighting.new_individual_likely,
        )
    if (
        refresh_features
        or sighting.feature_status == Sighting.FeatureStatus.PENDING
        or _features_outdated(sighting)
    ):
        sighting = sighting_extract_features(sighting_id=sighting_id)
        if sighting is None:
            return None
        if (
            sighting.status == Sighting.Status.CONFIRMED
            or MatchIndexEntry.objects.filter(sighting_id=sighting_id).exists()
        ):
            # A confirmed sighting with new features is a new reference, or a changed one.
            catalogue_sync(sighting_ids=[sighting_id])
    candidates = sighting_rank_candidates(sighting_id=sighting_id)
    if candidates is None:
        return None
    flag = Sighting.objects.filter(pk=sighting_id).values_list(
        "feature_status", "new_individual_likely"
    )
    status, new_likely = flag.first() or (sighting.feature_status, False)
    return MatchOutcome(
        feature_status=status, candidates=len(candidates), new_individual_likely=new_likely
    )


def sighting_queue_match(*, sighting_id: int, refresh_features: bool = False) -> None:
    """Queue the matcher for a sighting once the current transaction commits."""
    from leopards import tasks

    transaction.on_commit(
        lambda: tasks.sighting_match.delay(
            sighting_id=sighting_id, refresh_features=refresh_features
        )
    )


def sightings_queue_rerank(*, flanks: Iterable[str]) -> None:
    """Queue ranking again the waiting sightings that search these flanks, after commit."""
    from leopards import tasks

    chosen = sorted(set(flanks))
    if chosen:
        transaction.on_commit(
            lambda: tasks.sightings_rerank.apply_async(
                kwargs={"flanks": chosen}, countdown=RERANK_DELAY_SECONDS
            )
        )


def sightings_rerank(*, flanks: Iterable[str], limit: int = RERANK_LIMIT) -> int:
    """Queue the matcher for each sighting waiting for review that searches these flanks."""
    from leopards import tasks

    chosen = set(flanks)
    if not chosen:
        return 0
    # A sighting of unknown flank searches every catalogue; a left or right one only its
    # own, so a new unsided reference concerns only the unknown ones.
    searching = chosen | {Flank.UNKNOWN}
    waiting = list(
        Sighting.objects.filter(
            status=Sighting.Status.PROPOSED,
            feature_status=Sighting.FeatureStatus.READY,
            flank__in=sorted(searching),
        )
        .order_by("-pk")
        .values_list("pk", flat=True)[:limit]
    )
    # Candidates stored from now on already see the change: a sighting ranked by an
    # earlier request of this burst is skipped by its task.
    cutoff = timezone.now()
    for sighting_id in waiting:
        tasks.sighting_match.delay(sighting_id=sighting_id, stale_before=cutoff.isoformat())
    return len(waiting)


# -- catalogue -------------------------------------------------------------------------


def _wanted(row: dict | None) -> tuple[bool, int | None, str, str]:
    """Return what the index should hold for a sighting: (present, leopard, flank, digest)."""
    if (
        row is None
        or row["status"] != Sighting.Status.CONFIRMED
        or row["leopard_id"] is None
        or row["feature_status"] != Sighting.FeatureStatus.READY
        or not row["features_digest"]
    ):
        return (False, None, "", "")
    return (True, row["leopard_id"], row["flank"], row["features_digest"])


@transaction.atomic
def catalogue_sync(*, sighting_ids: Iterable[int]) -> int:
    """Make the match index agree with these sightings' state; return how many changed."""
    ids = sorted({int(pk) for pk in sighting_ids})
    if not ids:
        return 0
    catalogue.state()
    # One row lock orders every change, so journal positions commit in order and a
    # process that has read position N has seen every change up to N.
    head = MatchIndexState.objects.select_for_update().get(pk=1)
    rows = {
        row["pk"]: row
        for row in Sighting.objects.filter(pk__in=ids).values(
            "pk", "status", "leopard_id", "flank", "feature_status", "features_digest"
        )
    }
    entries = MatchIndexEntry.objects.in_bulk(ids)
    changes = []
    for pk in ids:
        wanted = _wanted(rows.get(pk))
        entry = entries.get(pk)
        have = (
            (entry.present, entry.leopard_id, entry.flank, entry.features_digest)
            if entry
            else (False, None, "", "")
        )
        if wanted != have:
            changes.append((pk, wanted))
    if not changes:
        return 0
    introduced = _introduced_flanks(entries, changes)
    head.seq += 1
    head.save(update_fields=["seq", "updated_at"])
    MatchIndexEntry.objects.bulk_create(
        [
            MatchIndexEntry(
                sighting_id=pk,
                present=present,
                leopard_id=leopard_id,
                flank=flank,
                features_digest=digest,
                seq=head.seq,
            )
            for pk, (present, leopard_id, flank, digest) in changes
        ],
        update_conflicts=True,
        unique_fields=["sighting_id"],
        update_fields=["present", "leopard_id", "flank", "features_digest", "seq"],
    )
    _queue_stale_candidates(entries, changes)
    # Queued from here, not from the service that created the individual: the journal
    # entry must be committed before a worker ranks against it.
    sightings_queue_rerank(flanks=introduced)
    transaction.on_commit(catalogue.maybe_snapshot)
    return len(changes)


def _introduced_flanks(
    entries: dict[int, MatchIndexEntry], changes: list[tuple[int, tuple]]
) -> set[str]:
    """Return the flanks on which an individual gets its first reference with these changes."""
    added: set[tuple[int, str]] = set()
    for pk, (present, leopard_id, flank, digest) in changes:
        entry = entries.get(pk)
        if not present:
            continue
        moved_only = entry is not None and entry.present and entry.flank == flank
        if moved_only and entry.features_digest == digest:
            # A relabel (merge, split, reassignment) moves a pattern that rankings could
            # already see: the sightings that named its old individual are ranked again
            # by _queue_stale_candidates; for the others it was no match before either.
            continue
        added.add((leopard_id, flank))
    if not added:
        return set()
    known = set(
        MatchIndexEntry.objects.filter(
            present=True,
            leopard_id__in={leopard for leopard, _flank in added},
            flank__in={flank for _leopard, flank in added},
        )
        .exclude(sighting_id__in=[pk for pk, _wanted in changes])
        .values_list("leopard_id", "flank")
    )
    return {flank for leopard, flank in added if (leopard, flank) not in known}


def _queue_stale_candidates(
    entries: dict[int, MatchIndexEntry], changes: list[tuple[int, tuple]]
) -> None:
    """Rank again the sightings whose candidates name a merged-away individual or a gone box."""
    relabelled, removed = set(), set()
    for pk, (present, leopard_id, _flank, _digest) in changes:
        entry = entries.get(pk)
        if entry is None or not entry.present:
            continue
        if not present:
            removed.add(pk)
        elif leopard_id != entry.leopard_id:
            relabelled.add(entry.leopard_id)
    if not relabelled and not removed:
        # A new reference only adds an option: existing candidates stay right, if
        # incomplete, so rankings are not all recomputed on every confirmation.
        return
    stale = (
        MatchCandidate.objects.filter(Q(leopard_id__in=relabelled) | Q(reference_id__in=removed))
        .exclude(sighting__status=Sighting.Status.CONFIRMED)
        .values_list("sighting_id", flat=True)
        .distinct()
    )
    for sighting_id in stale:
        sighting_queue_match(sighting_id=sighting_id)


def catalogue_queue_sync(*, sighting_ids: Iterable[int]) -> None:
    """Queue a catalogue sync for these sightings once the current transaction commits."""
    from leopards import tasks

    ids = sorted({int(pk) for pk in sighting_ids})
    if ids:
        transaction.on_commit(lambda: tasks.catalogue_sync.delay(sighting_ids=ids))


def _features_outdated(sighting: Sighting) -> bool:
    """Tell whether a sighting's stored features were extracted otherwise than this engine
    extracts them (an earlier version, or an outline cut by another method)."""
    return bool(sighting.features) and (
        Features.stored_version(bytes(sighting.features))
        != extraction.features_version(sift_outlined())
    )


def outdated_feature_ids() -> list[int]:
    """Return the confirmed sightings whose stored features another engine extracted.

    One query on features_version, written with the blob: the blobs are not read.
    """
    return list(
        Sighting.objects.filter(status=Sighting.Status.CONFIRMED, features__isnull=False)
        .exclude(features_version=extraction.features_version(sift_outlined()))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def undescribed_by_disk_ids() -> list[int]:
    """Return the confirmed sightings the DISK twin wants but that lack its model's features.

    One query on learned_model, written with the blob: the blobs are not read (a blob
    cleared without its column still counts as missing).
    """
    model = disk_twin.wanted_model()
    if not model:
        return []
    return list(
        Sighting.objects.filter(
            status=Sighting.Status.CONFIRMED, feature_status=Sighting.FeatureStatus.READY
        )
        .filter(Q(learned_features__isnull=True) | ~Q(learned_model=model))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def match_index_rebuild(*, extract_missing: bool = False, snapshot: bool = True) -> dict:
    """Sync every sighting into the journal and rebuild this process's index from it.

    With extract_missing, confirmed sightings without features, and those whose
    features an earlier version of the engine extracted, are extracted first.
    """
    started = time.perf_counter()
    extracted = 0
    if extract_missing:
        pending = Sighting.objects.filter(
            status=Sighting.Status.CONFIRMED, feature_status=Sighting.FeatureStatus.PENDING
        ).values_list("pk", flat=True)
        extracted = sightings_extract_features(
            sighting_ids=[*pending, *outdated_feature_ids(), *undescribed_by_disk_ids()]
        )
    extract_s = time.perf_counter() - started
    candidates = set(
        Sighting.objects.filter(status=Sighting.Status.CONFIRMED).values_list("pk", flat=True)
    )
    candidates |= set(
        MatchIndexEntry.objects.filter(present=True).values_list("sighting_id", flat=True)
    )
    ordered = sorted(candidates)
    changed = sum(
        catalogue_sync(sighting_ids=ordered[i : i + 1000]) for i in range(0, len(ordered), 1000)
    )
    started = time.perf_counter()
    loaded = catalogue.rebuild(snapshot=snapshot)
    return {
        "extracted": extracted,
        "extract_s": round(extract_s, 2),
        "journal_changes": changed,
        "references": len(loaded.index),
        "descriptors": loaded.index.descriptor_count,
        "index_build_s": round(time.perf_counter() - started, 2),
    }
