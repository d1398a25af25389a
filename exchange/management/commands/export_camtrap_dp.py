"""Write a Camtrap DP 1.0.2 package of one park or all parks."""

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.camtrap_dp.export import package_write
from traps.models import Park


class Command(BaseCommand):
    help = (
        "Write a Camtrap DP 1.0.2 package (datapackage.json, deployments.csv, media.csv, "
        "observations.csv, individuals.csv) into OUT_DIR. Coordinates are generalised to "
        "0.1 degree unless --exact-coordinates is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", type=Path)
        parser.add_argument("--park", help="park code (default: every park)")
        parser.add_argument("--start", type=date.fromisoformat, help="first day, YYYY-MM-DD")
        parser.add_argument("--end", type=date.fromisoformat, help="last day, YYYY-MM-DD")
        parser.add_argument(
            "--exact-coordinates",
            action="store_true",
            help="write exact station coordinates (sensitive: poaching risk)",
        )
        parser.add_argument(
            "--include-media", action="store_true", help="copy the photo files into media/"
        )

    def handle(self, *args, **options) -> None:
        parks = Park.objects.order_by("code")
        if options["park"]:
            parks = parks.filter(code=options["park"])
            if not parks.exists():
                raise CommandError(f"No park with the code {options['park']!r}.")
        if options["start"] and options["end"] and options["start"] > options["end"]:
            raise CommandError("--start must not be after --end.")
        out_dir: Path = options["out_dir"]
        if out_dir.exists() and any(out_dir.iterdir()):
            raise CommandError(f"{out_dir} is not empty; choose a new folder.")
        summary = package_write(
            out_dir=out_dir,
            parks=parks,
            start=options["start"],
            end=options["end"],
            exact_coordinates=options["exact_coordinates"],
            include_media=options["include_media"],
        )
        self.stdout.write(
            f"Wrote {summary.deployments} deployments, {summary.media} media, "
            f"{summary.observations} observations and {summary.individuals} individuals "
            f"to {out_dir} (coordinate precision {summary.coordinate_precision} degree)."
        )
        if summary.skipped_untimed_photos:
            self.stdout.write(
                f"{summary.skipped_untimed_photos} photos without a capture time were left out."
            )
