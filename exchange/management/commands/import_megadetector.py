"""Import MegaDetector batch results for one deployment's photos."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.camtrap_dp.validation import PackageInvalid
from exchange.megadetector import DEFAULT_THRESHOLD, megadetector_import, results_parse
from traps.models import Deployment


class Command(BaseCommand):
    help = (
        "Read a MegaDetector results file: animal boxes at or above the threshold become "
        "proposed sightings, empty photos are flagged likely blank, people are flagged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--deployment", type=int, required=True, help="id of the deployment the photos are in"
        )
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)

    def handle(self, *args, **options) -> None:
        deployment = (
            Deployment.objects.select_related("station__park")
            .filter(pk=options["deployment"])
            .first()
        )
        if deployment is None:
            raise CommandError(f"No deployment with the id {options['deployment']}.")
        if not 0 <= options["threshold"] <= 1:
            raise CommandError("--threshold must be between 0 and 1.")
        try:
            data = results_parse(options["file"].read_bytes())
        except PackageInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(f"- {problem}")
            raise CommandError("The results file was refused; nothing was imported.") from exc
        summary = megadetector_import(
            data=data,
            deployment=deployment,
            threshold=options["threshold"],
            source_name=options["file"].name,
        )
        self.stdout.write(
            f"{summary.matched} photos matched: {summary.proposed_boxes} proposed boxes, "
            f"{summary.likely_blank} likely blank, {summary.with_people} with people."
        )
        for name in summary.unknown_files:
            self.stdout.write(f"! not in this deployment: {name}")
        for name in summary.ambiguous_files:
            self.stdout.write(f"! several photos have this name: {name}")
        for name in summary.failed_files:
            self.stdout.write(f"! the detector failed on: {name}")
