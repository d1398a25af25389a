"""Import a Camtrap DP 1.0 package (a folder or a zip) into a park."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.camtrap_dp.importer import package_import
from exchange.camtrap_dp.validation import PackageInvalid
from traps.models import Park


class Command(BaseCommand):
    help = (
        "Validate a Camtrap DP package (folder or .zip) and import it in one transaction. "
        "An invalid package is refused with its problems and nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--park", help="park code (default: the park named in deploymentGroups)"
        )
        parser.add_argument(
            "--organisation",
            default="",
            help="the organisation that sent the package: its individual ids stay its own",
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["path"]
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        park = None
        if options["park"]:
            park = Park.objects.filter(code=options["park"]).first()
            if park is None:
                raise CommandError(f"No park with the code {options['park']!r}.")
        try:
            summary = package_import(path=path, park=park, organisation=options["organisation"])
        except PackageInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(f"- {problem}")
            raise CommandError(
                f"The package was refused ({len(exc.problems)} problems); nothing was imported."
            ) from exc
        created = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.created.items()))
        existing = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.existing.items()))
        self.stdout.write(f"Imported into {summary.park.code}: created {created or 'nothing'}.")
        if existing:
            self.stdout.write(f"Already in the registry: {existing}.")
        for warning in summary.warning_texts:
            self.stdout.write(f"! {warning}")
