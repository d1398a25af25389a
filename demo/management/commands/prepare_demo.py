"""Bring the local database and static files up to date and give the demo its logins.

bin/run calls this before it starts the server, then builds the rest of the demo (photos,
sightings, matching, census) in the background with ``seed_demo --background``, so that
the first answer does not wait for the slow part. One process migrates, writes the parks
and logins and collects the static files: each manage.py process loads every app and
library again, which costs a few seconds every time the registry starts.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from demo.landscape import DemoBuilder
from demo.management.commands.seed_demo import write_logins


class Command(BaseCommand):
    help = (
        "Migrate the database, write the demo parks and logins and collect static files; "
        "seed_demo builds the rest of the demo."
    )

    def handle(self, *args, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        DemoBuilder(log=self.stdout.write).accounts()
        call_command("collectstatic", interactive=False, verbosity=0)
        write_logins(self)
