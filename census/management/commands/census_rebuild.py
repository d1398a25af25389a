"""Recompute the stored census figures that the dashboards read."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from census.services import census_rebuild
from traps.models import Park


class Command(BaseCommand):
    help = "Recompute the stored census figures (all parks and years unless narrowed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--park", help="park code (default: every park)")
        parser.add_argument("--year", type=int, help="calendar year (default: every year)")

    def handle(self, *args: Any, **options: Any) -> None:
        park_id = None
        if options["park"]:
            park = Park.objects.filter(code=options["park"]).first()
            if park is None:
                raise CommandError(f"no park with code {options['park']!r}")
            park_id = park.pk
        started = time.perf_counter()
        written = census_rebuild(park_id=park_id, year=options["year"])
        self.stdout.write(
            f"{written} census results written in {time.perf_counter() - started:.2f} s"
        )
