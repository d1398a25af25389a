"""Whether the demo landscape is still being built, for the note every page shows meanwhile.

bin/run serves the registry as soon as the database, the parks and the logins are ready,
and builds the rest of the demo (photos, sightings, matching, census) in a background
process. That process leaves a file with its process id in VAR_DIR while it runs; a file
whose process has gone (stopped with Ctrl-C, killed) counts as nothing.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


def marker_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-building"


def mark_building(pid: int) -> None:
    """Say that the demo is being built for as long as process `pid` lives."""
    path = marker_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(pid))


@contextmanager
def demo_building() -> Iterator[None]:
    """Mark the demo as being built by this process for as long as the block runs."""
    mark_building(os.getpid())
    try:
        yield
    finally:
        marker_path().unlink(missing_ok=True)


def demo_being_built() -> bool:
    """Tell whether a live process is building the demo (one stat call when none is)."""
    try:
        pid = int(marker_path().read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's process
        return True
    return True
