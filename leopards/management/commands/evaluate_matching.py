"""Leave-one-out identification accuracy of the matcher on any labelled photo folder."""

import csv
import json
from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leopards.matching.calibration import fit, sample_from
from leopards.matching.catalogue import limit_threads
from leopards.matching.evaluate import LabelledBox, read_labels, run_queries, summarise

# The figures every run prints, in this order; more follow them.
KEYS = ["queries", "rank1", "rank5", "map", "median_query_s", "index_build_s"]


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
                "MATCH_CALIBRATION_FILE at it."
            ),
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
        results, timings = run_queries(
            boxes,
            ignore_side=options["ignore_side"],
            open_set=calibration_out is not None,
            same_event=_same_event(labels, boxes),
        )
        figures = {**summarise(results, len(boxes)), **timings}
        if calibration_out is not None:
            samples = [
                sample_from(r.candidates, r.box.individual_id, open_set=r.open_set) for r in results
            ]
            open_set = sum(r.open_set for r in results)
            fitted = fit(
                samples,
                fitted_on=f"{labels}: {len(samples)} queries",
                provenance={
                    "labels": str(labels),
                    "leave_one_out_queries": len(samples) - open_set,
                    "open_set_queries": open_set,
                },
            )
            fitted.save(calibration_out)
            figures["calibration"] = str(calibration_out)
            figures["calibration_threshold"] = fitted.threshold
        ordered = {key: figures[key] for key in KEYS} | {
            key: value for key, value in figures.items() if key not in KEYS
        }
        if options["format"] == "json":
            self.stdout.write(json.dumps(ordered, indent=2))
            return
        for key, value in ordered.items():
            shown = f"{value:.4f}" if isinstance(value, float) else value
            self.stdout.write(f"{key}: {shown}")


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
