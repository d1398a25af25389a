"""Bring the local database and static files up to date and build the demo, in one process.

bin/run calls this instead of migrate, seed_demo and collectstatic one after the other:
each manage.py process loads every app and library again, which costs a few seconds
every time the registry starts.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate the database, build the demo landscape and collect static files."

    def handle(self, *args, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", stdout=self.stdout, stderr=self.stderr)
        call_command("collectstatic", interactive=False, verbosity=0)
