"""Bring the local database and static files up to date and build the demo, in one process.

bin/run calls this before it starts the server. Each manage.py process loads every app
and library again, which costs a few seconds every time the registry starts, so one
process migrates, writes the demo and collects the static files.

With --background-pid-file (what bin/run passes), only the demo's parks and logins are
written here, in seconds; when the rest of the demo (photos, sightings, matching,
census) is still missing, a background process builds it beside the server and its
process id goes to the file, so that bin/run stops it with the server. A second start
finds the demo complete and starts nothing.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from demo.landscape import DemoBuilder
from demo.management.commands.seed_demo import write_logins
from demo.status import mark_building


class Command(BaseCommand):
    help = "Migrate the database, build the demo landscape and collect static files."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--background-pid-file",
            help="Write only the demo's parks and logins, build the rest in a background "
            "process when it is missing, and write that process's id to this file.",
        )

    def handle(self, *args, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        pid_file = options["background_pid_file"]
        if not pid_file:
            call_command("seed_demo", stdout=self.stdout, stderr=self.stderr)
            call_command("collectstatic", interactive=False, verbosity=0)
            return
        builder = DemoBuilder(log=self.stdout.write)
        builder.accounts()
        call_command("collectstatic", interactive=False, verbosity=0)
        pid = "" if builder.complete() else str(self._build_in_background())
        Path(pid_file).write_text(pid)
        write_logins(self)

    def _build_in_background(self) -> int:
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "seed_demo"]
        # Niced, so that the server answers quickly while the photos are drawn.
        nice = ["nice", "-n", "10"] if shutil.which("nice") else []
        # A process group of its own, with the workers that draw the photos: bin/run
        # stops the whole group when it ends (Ctrl-C included), so that no worker is
        # left drawing for a build that has gone.
        process = subprocess.Popen([*nice, *command, "--background"], start_new_session=True)
        # Every page says so from the server's first answer on, not only once the new
        # process has loaded Django and marked the build itself.
        mark_building(process.pid)
        return process.pid
