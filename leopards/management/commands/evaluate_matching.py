"""Leave-one-out identification accuracy of the matcher on any labelled photo folder."""

import csv
import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from leopards.matching import catalogue, disk_twin
from leopards.matching.calibration import (
    DEFAULT_FEATURES,
    FUSED_FEATURES,
    Calibration,
    fit,
    reliability_table,
    sample_from,
)
from leopards.matching.catalogue import limit_threads
from leopards.matching.evaluate import LabelledBox, read_labels, run_queries, summarise

# The figures every run prints, in this order; more follow them.
KEYS = ["queries", "rank1", "rank5", "map", "median_query_s", "index_build_s"]
# Held-out check of the calibration: folds split by individual.
FOLDS = 5
# The new-individual threshold flags this share of the strangers it was fitted on: a
# little above the 90 % wanted of strangers never seen, which held-out folds fall short
# of by a point or two (bench/README.md, "Score calibration").
STRANGERS_FLAGGED = 0.93


class Command(BaseCommand):
    help = (
        "Query every labelled box against all other boxes of the same side (leave-one-out) "
        "and print rank-1, rank-5, mAP and timings. LABELS.csv has a header and the columns "
        "path,individual_id,side[,bbox_x,bbox_y,bbox_w,bbox_h] (pixels); paths are relative "
        "to the CSV's folder. An optional event column names the visit a photo belongs to: "
        "photos of the query's own event are left out of its catalogue, as in the registry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("labels", type=Path, metavar="LABELS.csv")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument(
            "--ignore-side",
            action="store_true",
            help="Query against every box whatever its side (for sets without reliable sides).",
        )
        parser.add_argument(
            "--calibration-out",
            type=Path,
            help=(
                "Also query each box with its individual left out (as a new individual) and "
                "write score calibration fitted on all queries to this JSON file; point "
                "MATCH_CALIBRATION_FILE at it. Prints a reliability table and the Brier "
                "score of calibrations fitted on four folds of the individuals and scored on "
                "the fifth."
            ),
        )
        parser.add_argument(
            "--shortlist-only",
            action="store_true",
            help="Rank with the first stage alone (no learned re-ranking).",
        )

    def handle(self, *args, labels: Path, **options) -> None:
        if not labels.is_file():
            raise CommandError(f"{labels} is not a file.")
        try:
            boxes = read_labels(labels)
        except (KeyError, ValueError) as exc:
            raise CommandError(
                f"{labels} needs the columns path,individual_id,side: {exc}"
            ) from exc
        missing = [str(box.path) for box in boxes if not box.path.is_file()]
        if missing:
            raise CommandError(f"{len(missing)} photos are missing, such as {missing[0]}")
        if not boxes:
            raise CommandError(f"{labels} lists no photos.")
        limit_threads()
        calibration_out = options["calibration_out"]
        second_stage = None
        if not options["shortlist_only"] and settings.MATCH_RERANK_TOP_K > 0:
            second_stage = {
                "top_k": settings.MATCH_RERANK_TOP_K,
                "refs_per_individual": settings.MATCH_RERANK_REFERENCES,
            }
        results, timings = run_queries(
            boxes,
            ignore_side=options["ignore_side"],
            open_set=calibration_out is not None,
            same_event=_same_event(labels, boxes),
            second_stage=second_stage,
            learned_backend=settings.MATCH_LEARNED_BACKEND,
            disk_weight=disk_twin.weight() if disk_twin.wanted_model() else 0.0,
            verify_top_n=settings.MATCH_VERIFY_TOP_N,
            whitening=catalogue.whitening(),
        )
        figures = {**summarise(results, len(boxes)), **timings}
        if calibration_out is not None:
            features = FUSED_FEATURES if second_stage else DEFAULT_FEATURES
            samples = [
                sample_from(r.candidates, r.box.individual_id, open_set=r.open_set) for r in results
            ]
            held_out, flagged, kept = _held_out(results, samples, features)
            correct = [s.correct for s in samples]
            self.stdout.write(
                "Reliability of calibrations fitted on four folds of the individuals, "
                "scored on the fifth:"
            )
            self.stdout.write(reliability_table(held_out, correct))
            figures["heldout_brier"] = float(np.mean((held_out - np.array(correct)) ** 2))
            figures["heldout_strangers_flagged"] = flagged
            figures["heldout_true_matches_kept"] = kept
            # The calibration in force, on the same queries, to compare with.
            current = catalogue.calibration()
            assessed = [current.assess(r.candidates) for r in results]
            shipped = np.array([p for p, _new in assessed])
            called_new = np.array([new for _p, new in assessed])
            strangers, right = np.array([r.open_set for r in results]), np.array(correct)
            figures["current_brier"] = float(np.mean((shipped - right) ** 2))
            figures["current_strangers_flagged"] = float(called_new[strangers].mean())
            figures["current_true_matches_kept"] = (
                float((~called_new[right]).mean()) if right.any() else float("nan")
            )
            open_set = sum(r.open_set for r in results)
            provenance = {
                "labels": str(labels),
                "leave_one_out_queries": len(samples) - open_set,
                "open_set_queries": open_set,
                "heldout_brier": round(figures["heldout_brier"], 4),
            }
            fused = None
            if second_stage:
                fused = fit(
                    samples,
                    features=features,
                    stranger_share=STRANGERS_FLAGGED,
                    fitted_on=f"{labels}: {len(samples)} queries, both stages",
                    provenance=provenance,
                )
                samples = [
                    sample_from(r.shortlist or [], r.box.individual_id, open_set=r.open_set)
                    for r in results
                ]
            fitted = fit(
                samples,
                stranger_share=STRANGERS_FLAGGED,
                fitted_on=f"{labels}: {len(samples)} queries",
                provenance=provenance,
                second_stage=fused,
            )
            fitted.save(calibration_out)
            figures["calibration"] = str(calibration_out)
            figures["calibration_threshold"] = (fused or fitted).threshold
        ordered = {key: figures[key] for key in KEYS} | {
            key: value for key, value in figures.items() if key not in KEYS
        }
        if options["format"] == "json":
            self.stdout.write(json.dumps(ordered, indent=2))
            return
        for key, value in ordered.items():
            shown = f"{value:.4f}" if isinstance(value, float) else value
            self.stdout.write(f"{key}: {shown}")


def _held_out(results, samples, features) -> tuple[np.ndarray, float, float]:
    """Return held-out probabilities (5 folds by individual), strangers flagged, matches kept."""
    individuals = sorted({r.box.individual_id for r in results})
    random.Random(0).shuffle(individuals)
    fold_of = {ind: n % FOLDS for n, ind in enumerate(individuals)}
    probabilities = np.zeros(len(samples))
    flagged = np.zeros(len(samples), bool)
    for fold in range(FOLDS):
        test = [fold_of[r.box.individual_id] == fold for r in results]
        train = [s for s, t in zip(samples, test, strict=True) if not t]
        if not train or all(s.correct for s in train) or not any(s.correct for s in train):
            fitted = Calibration(features=list(features), coef=[0.0] * (len(features) + 1))
        else:
            fitted = fit(train, features=features, stranger_share=STRANGERS_FLAGGED)
        for n, inside in enumerate(test):
            if inside:
                probabilities[n] = fitted.probability_of(samples[n])
                flagged[n] = probabilities[n] < fitted.threshold
    strangers = np.array([s.open_set for s in samples])
    correct = np.array([s.correct for s in samples])
    share_flagged = float(flagged[strangers].mean()) if strangers.any() else float("nan")
    kept = float((~flagged[correct]).mean()) if correct.any() else float("nan")
    return probabilities, share_flagged, kept


def _same_event(
    labels: Path, boxes: list[LabelledBox]
) -> Callable[[LabelledBox, LabelledBox], bool] | None:
    """Return a test of whether two rows share a non-empty event, or None without the column."""
    with labels.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "event" not in rows[0]:
        return None
    # read_labels keeps the file's row order, so the n-th box is the n-th row.
    events = {
        id(box): (row.get("event") or "").strip() for box, row in zip(boxes, rows, strict=True)
    }

    def same(a: LabelledBox, b: LabelledBox) -> bool:
        event = events.get(id(a), "")
        return bool(event) and event == events.get(id(b))

    return same
