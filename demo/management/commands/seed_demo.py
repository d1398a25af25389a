from django.core.management.base import BaseCommand

from demo.landscape import DEMO_PASSWORD, DEMO_USERS, DemoBuilder


class Command(BaseCommand):
    help = "Build the demo landscape (parks, stations, cameras, leopards, photos); safe to repeat."

    def handle(self, *args, **options) -> None:
        self.stdout.write("Building the demo landscape...")
        counts = DemoBuilder(log=self.stdout.write).build()
        for name, count in counts.items():
            self.stdout.write(f"  {name}: {count}")
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD}):"))
        for username, role, parks in DEMO_USERS:
            where = ", ".join(parks) if parks else "all parks"
            self.stdout.write(f"  {username:<10} {role.label:<10} {where}")
