"""Write secr's capture and trap files for a park and survey."""

from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from census.exports import secr_export
from traps.models import Park


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from error


class Command(BaseCommand):
    help = (
        "Write captures.txt and traps.txt for secr::read.capthist(..., detector = "
        '"proximity", covnames = "sex"). Coordinates are generalised to 0.1 degree cells '
        "unless --exact is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", type=Path)
        parser.add_argument("--park", required=True)
        parser.add_argument("--start", required=True, type=_date)
        parser.add_argument("--end", required=True, type=_date)
        parser.add_argument("--occasion-days", required=True, type=int)
        parser.add_argument(
            "--exact",
            action="store_true",
            help="write exact station coordinates (sensitive: poaching risk)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        park = Park.objects.filter(code=options["park"]).first()
        if park is None:
            raise CommandError(f"no park with code {options['park']!r}")
        try:
            export = secr_export(
                park=park,
                start=options["start"],
                end=options["end"],
                occasion_days=options["occasion_days"],
                exact=options["exact"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        out: Path = options["out_dir"]
        out.mkdir(parents=True, exist_ok=True)
        (out / "captures.txt").write_text(export.captures, encoding="utf-8")
        (out / "traps.txt").write_text(export.traps, encoding="utf-8")
        self.stdout.write(
            f"session {export.session}: {export.animals} individuals, {export.detections} "
            f"detections at {export.detectors} detectors over {export.occasions} occasions "
            f"written to {out}/captures.txt and {out}/traps.txt"
        )
