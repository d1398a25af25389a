"""Read MegaDetector batch results: proposed boxes, likely blanks and people to hide.

The format is MegaDetector's batch output (https://lila.science/megadetector-output-format):
``detection_categories`` maps ids to names ("1": "animal", "2": "person",
"3": "vehicle"); each entry of ``images`` has a ``file`` and ``detections``
with ``category``, ``conf`` and a relative ``bbox`` [x_min, y_min, width,
height], or a ``failure``. Photos are matched by file name within one
deployment.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PureWindowsPath
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from config.json_input import JsonRefused, json_load_checked
from exchange.camtrap_dp.validation import PackageInvalid, Problem
from exchange.models import DetectorResult, ImportRun, import_warning
from leopards.models import Sighting
from leopards.services.matching import sighting_queue_match
from traps.models import Deployment, Photo

DEFAULT_THRESHOLD = 0.2
BOX_TOLERANCE = 1e-4


@dataclass
class DetectorSummary:
    deployment: Deployment
    threshold: float
    matched: int = 0
    proposed_boxes: int = 0
    existing_boxes: int = 0
    below_threshold: int = 0
    likely_blank: int = 0
    with_people: int = 0
    with_vehicles: int = 0
    unknown_files: list[str] = field(default_factory=list)
    ambiguous_files: list[str] = field(default_factory=list)
    failed_files: list[str] = field(default_factory=list)
    run: ImportRun | None = None


def results_parse(raw: bytes | str) -> dict[str, Any]:
    """Parse and check a results file; raise PackageInvalid with what is wrong."""
    try:
        # Refuses nesting, NaN and Infinity, numbers past what a column holds, NUL in text.
        data = json_load_checked(raw)
    except JsonRefused as exc:
        raise PackageInvalid([Problem("", exc.message)]) from exc
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise PackageInvalid([Problem("", _("The file is not a MegaDetector results object."))])
    if data.get("info") is not None and not isinstance(data["info"], dict):
        problems.append(Problem("info", _("“info” must be an object.")))
    categories = data.get("detection_categories")
    if not isinstance(categories, dict) or not categories:
        problems.append(Problem("detection_categories", _("Missing or empty.")))
    images = data.get("images")
    if not isinstance(images, list):
        problems.append(Problem("images", _("Missing: there is no list of images.")))
        images = []
    for index, image in enumerate(images):
        where = f"images[{index}]"
        if not isinstance(image, dict) or not isinstance(image.get("file"), str):
            problems.append(Problem(where, _("Each image needs a “file”.")))
            continue
        detections = image.get("detections")
        if detections is None:
            if not image.get("failure"):
                problems.append(Problem(where, _("Neither “detections” nor a “failure”.")))
            continue
        if not isinstance(detections, list):
            problems.append(Problem(where, _("“detections” must be a list.")))
            continue
        for number, detection in enumerate(detections):
            box = detection.get("bbox") if isinstance(detection, dict) else None
            if (
                not isinstance(detection, dict)
                or str(detection.get("category")) not in (categories or {})
                or not _is_number(detection.get("conf"))
                or not isinstance(box, list)
                or len(box) != 4
                or not all(_is_number(v) for v in box)
            ):
                problems.append(
                    Problem(
                        f"{where}.detections[{number}]",
                        _("A detection needs a known category, a conf and a bbox of four numbers."),
                    )
                )
            elif not 0 <= detection["conf"] <= 1:
                problems.append(
                    Problem(
                        f"{where}.detections[{number}]",
                        _("A detection's “conf” must be a number between 0 and 1."),
                    )
                )
    if problems:
        raise PackageInvalid(problems[:200])
    return data


def _is_number(value: Any) -> bool:
    # JSON true and false are ints to Python; json_load_checked keeps numbers finite.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _base_name(path: str) -> str:
    # Results written on Windows use backslashes.
    return PureWindowsPath(path).name


def _clip_box(box: list[float]) -> tuple[float, float, float, float] | None:
    x, y, w, h = (float(v) for v in box)
    x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
    w, h = min(w, 1.0 - x), min(h, 1.0 - y)
    if w <= 0 or h <= 0:
        return None
    return x, y, w, h


@transaction.atomic
def megadetector_import(
    *,
    data: dict[str, Any],
    deployment: Deployment,
    threshold: float = DEFAULT_THRESHOLD,
    user: AbstractBaseUser | None = None,
    source_name: str = "",
) -> DetectorSummary:
    """Attach MegaDetector results to a deployment's photos; safe to run twice.

    Animal boxes at or above the threshold become proposed sightings; a photo
    with nothing at or above it is flagged likely blank; a person flags it so
    that it can be hidden. Unknown and ambiguous file names are reported.
    """
    summary = DetectorSummary(deployment=deployment, threshold=threshold)
    names = {str(k): str(v).strip().lower() for k, v in data["detection_categories"].items()}
    detector = str((data.get("info") or {}).get("detector") or "MegaDetector")[:120]
    by_name: dict[str, list[Photo]] = defaultdict(list)
    for photo in Photo.objects.filter(deployment=deployment).only("pk", "original_name"):
        by_name[photo.original_name.lower()].append(photo)

    for image in data["images"]:
        file_name = image["file"]
        if image.get("failure") or image.get("detections") is None:
            summary.failed_files.append(f"{file_name}: {image.get('failure') or ''}".strip())
            continue
        candidates = by_name.get(_base_name(file_name).lower(), [])
        if not candidates:
            summary.unknown_files.append(file_name)
            continue
        if len(candidates) > 1:
            summary.ambiguous_files.append(file_name)
            continue
        photo = candidates[0]
        summary.matched += 1
        kept = [d for d in image["detections"] if d["conf"] >= threshold]
        summary.below_threshold += len(image["detections"]) - len(kept)
        kinds = [names.get(str(d["category"]), "") for d in kept]
        animals = [d for d, kind in zip(kept, kinds, strict=True) if kind == "animal"]
        result, _created = DetectorResult.objects.update_or_create(
            photo=photo,
            defaults={
                "detector": detector,
                "threshold": threshold,
                "likely_blank": not any(k in {"animal", "person", "vehicle"} for k in kinds),
                "shows_person": "person" in kinds,
                "shows_vehicle": "vehicle" in kinds,
                "max_animal_confidence": max((d["conf"] for d in animals), default=None),
                "imported_by": user,
            },
        )
        summary.likely_blank += result.likely_blank
        summary.with_people += result.shows_person
        summary.with_vehicles += result.shows_vehicle
        existing = list(
            Sighting.objects.filter(photo=photo, bbox_x__isnull=False).values_list(
                "bbox_x", "bbox_y", "bbox_w", "bbox_h"
            )
        )
        for detection in animals:
            box = _clip_box(detection["bbox"])
            if box is None:
                continue
            if any(
                all(abs(a - b) < BOX_TOLERANCE for a, b in zip(box, old, strict=True))
                for old in existing
            ):
                summary.existing_boxes += 1
                continue
            sighting = Sighting.objects.create(
                photo=photo,
                bbox_x=box[0],
                bbox_y=box[1],
                bbox_w=box[2],
                bbox_h=box[3],
                status=Sighting.Status.PROPOSED,
                source=Sighting.Source.DETECTOR,
                detection_confidence=float(detection["conf"]),
            )
            existing.append(box)
            summary.proposed_boxes += 1
            sighting_queue_match(sighting_id=sighting.pk)

    warnings = (
        [import_warning(ImportRun.Warning.NOT_IN_DEPLOYMENT, f=f) for f in summary.unknown_files]
        + [import_warning(ImportRun.Warning.AMBIGUOUS_NAME, f=f) for f in summary.ambiguous_files]
        + [import_warning(ImportRun.Warning.DETECTOR_FAILED, f=f) for f in summary.failed_files]
    )
    summary.run = ImportRun.objects.create(
        kind=ImportRun.Kind.MEGADETECTOR,
        park=deployment.station.park,
        source_name=source_name[:255],
        created={
            ImportRun.Created.PROPOSED_BOXES: summary.proposed_boxes,
            ImportRun.Created.LIKELY_BLANK: summary.likely_blank,
            ImportRun.Created.WITH_PEOPLE: summary.with_people,
        },
        warnings=warnings[:1000],
        imported_by=user,
    )
    return summary
