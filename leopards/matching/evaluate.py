"""Leave-one-out identification accuracy on a labelled photo set.

Protocol: every labelled box is a query against all other boxes of the same side
(or of every side, with ignore_side). A query whose individual has no other box in
its catalogue cannot be identified and is skipped (counted in ``skipped``).

Metrics, over the answered queries:
- rank1, rank5: share of queries whose individual is among the top 1 / 5 individuals.
- map: mean over queries of the average precision of the ranked individual list. With
  one correct individual AP = 1 / rank (0 when it is not ranked at all), so this is the
  mean reciprocal rank. ``map_individuals`` first averages within each individual and
  then across individuals, so that individuals with many photos do not dominate.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leopards.matching import foreground, verify
from leopards.matching.extraction import outlines_sift, sift_features
from leopards.matching.features import Features
from leopards.matching.fusion import as_index_features, fuse
from leopards.matching.index import UNKNOWN_FLANK, MatchIndex
from leopards.matching.scoring import Candidate, rank
from leopards.matching.whitening import Whitening

ANY_SIDE = "any"


@dataclass(frozen=True)
class LabelledBox:
    """One row of a labels CSV."""

    path: Path
    individual_id: str
    side: str
    bbox: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class QueryResult:
    """The outcome of one leave-one-out query."""

    box: LabelledBox
    rank: int | None  # 1-based rank of the correct individual; None when not ranked
    candidates: list[Candidate]
    seconds: float
    # True for a query whose individual was taken out of the catalogue (for calibration).
    open_set: bool = False
    # The shortlist's own ranking when the second stage re-ranked it (else candidates).
    shortlist: list[Candidate] | None = None


def read_labels(labels_csv: str | Path) -> list[LabelledBox]:
    """Read path,individual_id,side[,bbox_x,bbox_y,bbox_w,bbox_h] rows."""
    labels_csv = Path(labels_csv)
    boxes = []
    with labels_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            bbox = None
            if row.get("bbox_x") not in (None, ""):
                bbox = tuple(float(row[f"bbox_{c}"]) for c in "xywh")
            boxes.append(
                LabelledBox(
                    path=labels_csv.parent / row["path"],
                    individual_id=row["individual_id"],
                    side=(row.get("side") or UNKNOWN_FLANK).strip().lower(),
                    bbox=bbox,  # type: ignore[arg-type]
                )
            )
    return boxes


def run_queries(
    boxes: list[LabelledBox],
    *,
    ignore_side: bool = False,
    extract: Callable[[LabelledBox], Features] | None = None,
    rank_options: dict | None = None,
    same_event: Callable[[LabelledBox, LabelledBox], bool] | None = None,
    open_set: bool = False,
    second_stage: dict | None = None,
    pair_cache: dict | None = None,
    learned_backend: str = "disk",
    disk_weight: float = 0.0,
    verify_top_n: int = verify.TOP_N,
    whitening: Whitening | None = None,
) -> tuple[list[QueryResult], dict[str, float]]:
    """Extract, index and query every box leave-one-out; return results and timings.

    same_event(a, b) tells which other boxes belong to the query's own event (photos
    seconds apart at one camera); those are excluded too, as the registry never matches
    a sighting against its own event. With open_set, every box is also queried with
    all boxes of its individual left out, as a new individual would be. second_stage
    (keyword arguments of leopards.matching.rerank.rerank, such as top_k) re-ranks each
    shortlist with the learned matcher of learned_backend ("disk" or "xfeat"); each
    result then keeps the shortlist too.
    pair_cache, when given, receives each query's second-stage pair results under the
    query box's position in boxes.
    disk_weight above 0 fuses the shortlist with DISK-LNBNN's, as the registry does with
    MATCH_FIRST_STAGE_DISK_WEIGHT (leopards.matching.fusion; learned_backend "disk").
    With second_stage, the shortlist's first verify_top_n individuals are re-ordered by
    the pair check first (leopards.matching.verify; MATCH_VERIFY_TOP_N, 0 for none), its
    descriptors projected by whitening when given (MATCH_WHITENING_FILE).
    """
    learned_wanted = second_stage is not None or disk_weight > 0
    # As the worker extracts them (leopards.matching.extraction): each box's outline is
    # cut once, for SIFT when a learned stage runs with ISNet, and for the learned ones.
    outlined = outlines_sift(learned_wanted)
    started = time.perf_counter()
    # (outlined implies a learned stage.)
    masks = [
        foreground.foreground_mask(box.path, box.bbox) if learned_wanted else None for box in boxes
    ]
    if extract is None:
        features = [
            sift_features(box.path, box.bbox, outlined, mask)
            for box, mask in zip(boxes, masks, strict=True)
        ]
    else:
        features = [extract(box) for box in boxes]
    extract_s = time.perf_counter() - started
    learned_s = 0.0
    if learned_wanted:
        from leopards.matching.learned import extract_for
        from leopards.matching.rerank import rerank

        # The first box loads the networks; the timing is of the extraction alone.
        extract_for(learned_backend, boxes[0].path, boxes[0].bbox)
        started = time.perf_counter()
        # As the worker extracts them: the animal's own keypoints only.
        learned = [
            extract_for(learned_backend, box.path, box.bbox, foreground=mask)
            for box, mask in zip(boxes, masks, strict=True)
        ]
        learned_s = time.perf_counter() - started

    def side_of(box: LabelledBox) -> str:
        return ANY_SIDE if ignore_side else box.side

    records = [
        (i, box.individual_id, side_of(box), f)
        for i, (box, f) in enumerate(zip(boxes, features, strict=True))
        if side_of(box) != UNKNOWN_FLANK
    ]
    started = time.perf_counter()
    index = MatchIndex.build(records)
    disk_index = None
    if disk_weight > 0:
        disk_features = [as_index_features(f) for f in learned]
        disk_index = MatchIndex.build([(i, ind, s, disk_features[i]) for i, ind, s, _f in records])
    build_s = time.perf_counter() - started

    def ranked(i: int, excluded: list[int], cache: dict) -> tuple[list[Candidate], list | None]:
        shortlist = rank(
            index,
            features[i],
            side_of(boxes[i]),
            exclude_reference_ids=excluded,
            **(rank_options or {}),
        )
        if disk_index is not None:
            voices = rank(
                disk_index,
                disk_features[i],
                side_of(boxes[i]),
                exclude_reference_ids=excluded,
                **(rank_options or {}),
            )
            shortlist = fuse(shortlist, voices, disk_weight)
        if second_stage is None:
            return shortlist, None

        def stored(refs: list[int]) -> dict:
            return {r: learned[r] for r in refs}

        checked = verify.verify(
            shortlist, learned[i], stored, top_n=verify_top_n, whitening=whitening
        )
        again = rerank(
            checked,
            learned[i],
            stored,
            cache=cache,
            **second_stage,
        )
        return again, shortlist

    available = Counter((box.individual_id, side_of(box)) for box in boxes)
    results = []
    for i, box in enumerate(boxes):
        side = side_of(box)
        others = (
            sum(n for (ind, _), n in available.items() if ind == box.individual_id) - 1
            if side == UNKNOWN_FLANK
            else available[(box.individual_id, side)] - 1
        )
        if others <= 0:
            continue
        excluded = [i]
        if same_event is not None:
            excluded += [j for j, other in enumerate(boxes) if j != i and same_event(box, other)]
        started = time.perf_counter()
        cache: dict = {} if pair_cache is None else pair_cache.setdefault(i, {})
        candidates, shortlist = ranked(i, excluded, cache)
        seconds = time.perf_counter() - started
        position = next(
            (p + 1 for p, c in enumerate(candidates) if c.individual_id == box.individual_id),
            None,
        )
        results.append(
            QueryResult(
                box=box, rank=position, candidates=candidates, seconds=seconds, shortlist=shortlist
            )
        )
        if open_set:
            # The query's own event stays out too: a photo seconds later is the same animal
            # whatever its label says, and would make a perfect "stranger".
            own = [j for j, other in enumerate(boxes) if other.individual_id == box.individual_id]
            unseen, unseen_shortlist = ranked(i, own + excluded, cache)
            results.append(
                QueryResult(
                    box=box,
                    rank=None,
                    candidates=unseen,
                    seconds=0.0,
                    open_set=True,
                    shortlist=unseen_shortlist,
                )
            )
    timings = {
        "extract_s_per_box": extract_s / max(1, len(boxes)),
        "index_build_s": build_s,
    }
    if second_stage is not None or disk_weight > 0:
        timings["learned_extract_s_per_box"] = learned_s / max(1, len(boxes))
    return results, timings


def summarise(results: list[QueryResult], total_boxes: int) -> dict[str, float | int]:
    """Turn query results into rank-1, rank-5, mAP and timing figures."""
    results = [r for r in results if not r.open_set]
    answered = len(results)
    reciprocal = [1.0 / r.rank if r.rank else 0.0 for r in results]
    per_individual: dict[str, list[float]] = {}
    for result, rr in zip(results, reciprocal, strict=True):
        per_individual.setdefault(result.box.individual_id, []).append(rr)
    return {
        "queries": answered,
        "skipped": total_boxes - answered,
        "rank1": sum(1 for r in results if r.rank == 1) / answered if answered else 0.0,
        "rank5": sum(1 for r in results if r.rank and r.rank <= 5) / answered if answered else 0.0,
        "map": float(np.mean(reciprocal)) if answered else 0.0,
        "map_individuals": (
            float(np.mean([np.mean(v) for v in per_individual.values()])) if answered else 0.0
        ),
        "median_query_s": statistics.median(r.seconds for r in results) if answered else 0.0,
        "p95_query_s": float(np.percentile([r.seconds for r in results], 95)) if answered else 0.0,
    }


def evaluate(
    labels_csv: str | Path,
    *,
    ignore_side: bool = False,
    rank_options: dict | None = None,
) -> dict[str, float | int]:
    """Evaluate leave-one-out identification on a labels CSV; return the figures."""
    boxes = read_labels(labels_csv)
    results, timings = run_queries(boxes, ignore_side=ignore_side, rank_options=rank_options)
    return {**summarise(results, len(boxes)), **timings}
