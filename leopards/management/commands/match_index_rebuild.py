"""Rebuild the match index from the stored features of every confirmed sighting."""

import json

from django.core.management.base import BaseCommand, CommandParser

from leopards.services.matching import match_index_rebuild


class Command(BaseCommand):
    help = (
        "Bring the catalogue journal in line with every sighting, rebuild the match index "
        "from the stored features and write a snapshot that workers load at start."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--extract-missing",
            action="store_true",
            help=(
                "First extract features of confirmed sightings that have none yet, or "
                "whose features an earlier version of the engine extracted."
            ),
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options) -> None:
        figures = match_index_rebuild(extract_missing=options["extract_missing"])
        if options["format"] == "json":
            self.stdout.write(json.dumps(figures, indent=2))
            return
        for key, value in figures.items():
            self.stdout.write(f"{key}: {value}")
