"""Check the photo store against the database (after a restore, or on a schedule)."""

import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from traps.photo_store import photo_store_check


class Command(BaseCommand):
    help = (
        "Report photos whose file is missing, stored files no photo refers to (orphans), "
        "and files whose SHA-256 differs from the database. Exits 1 when anything is wrong."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-hashes", action="store_true", help="do not read every file to check its hash"
        )
        parser.add_argument(
            "--orphan-min-age-minutes",
            type=int,
            default=60,
            help="files younger than this are not orphans yet (an upload may be under way)",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options) -> None:
        report = photo_store_check(
            verify_hashes=not options["skip_hashes"],
            orphan_min_age=timedelta(minutes=options["orphan_min_age_minutes"]),
        )
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(
                f"{report.photos} photos, {report.files} stored files, "
                f"{report.hashes_checked} hashes checked"
            )
            for title, names in (
                ("missing photo files", report.missing_files),
                ("missing thumbnails", report.missing_thumbnails),
                ("hash mismatches", report.hash_mismatches),
                ("orphaned files", report.orphans),
            ):
                self.stdout.write(f"{title}: {len(names)}")
                for name in names[:1000]:
                    self.stdout.write(f"  {name}")
        if not report.ok:
            raise CommandError("the photo store does not match the database", returncode=1)
