from django.core.management.base import BaseCommand

from demo.landscape import DEMO_PASSWORD, DEMO_USERS, DemoBuilder
from demo.status import demo_building


def write_logins(command: BaseCommand) -> None:
    command.stdout.write(command.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD}):"))
    for username, role, parks in DEMO_USERS:
        where = ", ".join(parks) if parks else "all parks"
        command.stdout.write(f"  {username:<10} {role.label:<10} {where}")


class Command(BaseCommand):
    help = "Build the demo landscape (parks, stations, cameras, leopards, photos); safe to repeat."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--background",
            action="store_true",
            help="Run beside the server (bin/run): every page says the demo is being built "
            "until it is done, and the logins are not repeated.",
        )

    def handle(self, *args, **options) -> None:
        if options["background"]:
            with demo_building():
                self.stdout.write("Building the rest of the demo landscape in the background...")
                counts = DemoBuilder(log=self.stdout.write).build()
            self.stdout.write(
                self.style.SUCCESS(
                    "The demo landscape is ready: "
                    + ", ".join(f"{count} {name}" for name, count in counts.items())
                )
            )
            return
        self.stdout.write("Building the demo landscape...")
        counts = DemoBuilder(log=self.stdout.write).build()
        for name, count in counts.items():
            self.stdout.write(f"  {name}: {count}")
        write_logins(self)
