"""Import a folder of photos (an SD card dump) into one deployment."""

import json
import os
from collections import Counter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from traps import services
from traps.images import PhotoRejected
from traps.models import Deployment


class Command(BaseCommand):
    help = (
        "Walk a folder of camera-trap photos and store them in a deployment, like the upload page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--deployment", type=int, required=True, help="Deployment id")
        parser.add_argument("--user", help="Username recorded as the uploader")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, directory: Path, deployment: int, user: str | None, **options) -> None:
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a folder.")
        target = Deployment.objects.filter(pk=deployment).first()
        if target is None:
            raise CommandError(f"There is no deployment {deployment}.")
        uploader = None
        if user:
            uploader = get_user_model().objects.filter(username=user).first()
            if uploader is None:
                raise CommandError(f"There is no user {user}.")

        files: list[dict] = []
        for path in _walk(directory):
            files.append(self._one(path, directory, target, uploader))
        counts = Counter(f["outcome"] for f in files)
        summary = {
            "deployment": target.pk,
            "files": len(files),
            "stored": counts["stored"],
            "duplicates": counts["duplicate"],
            "rejected": counts["rejected"],
            "rejected_files": [
                {"file": f["file"], "code": f["code"], "reason": f["reason"]}
                for f in files
                if f["outcome"] == "rejected"
            ],
        }
        if options["format"] == "json":
            self.stdout.write(json.dumps(summary, indent=2, ensure_ascii=False))
            return
        self.stdout.write(
            f"{summary['files']} files: {summary['stored']} stored, "
            f"{summary['duplicates']} duplicates, {summary['rejected']} rejected"
        )
        for item in summary["rejected_files"]:
            self.stdout.write(f"  rejected {item['file']}: {item['reason']}")

    def _one(self, path: Path, root: Path, deployment: Deployment, uploader) -> dict:
        relative = str(path.relative_to(root))
        try:
            # One transaction per file: its processing is queued when it commits,
            # and one bad file never undoes the others.
            with transaction.atomic(), path.open("rb") as fh:
                result = services.photo_receive(
                    deployment=deployment, fileobj=fh, original_name=path.name, uploaded_by=uploader
                )
        except PhotoRejected as rejected:
            return {
                "file": relative,
                "outcome": "rejected",
                "code": rejected.code,
                "reason": rejected.message,
            }
        except OSError as exc:
            return {
                "file": relative,
                "outcome": "rejected",
                "code": "unreadable",
                "reason": str(exc),
            }
        outcome = "stored" if result.created else "duplicate"
        return {"file": relative, "outcome": outcome, "photo": result.photo.pk}


def _walk(directory: Path):
    """Yield the regular files below a folder in a stable order, not following links."""
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path
