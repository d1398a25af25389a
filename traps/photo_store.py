"""Check the photo store against the database: missing files, orphans, wrong bytes."""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.storage import Storage, default_storage
from django.utils import timezone

from traps.models import Photo

# The folders that hold photos and thumbnails (traps.models.photo_upload_to).
STORE_FOLDERS = ("photos", "thumbnails")


@dataclass
class StoreReport:
    photos: int = 0
    files: int = 0
    missing_files: list[str] = field(default_factory=list)
    missing_thumbnails: list[str] = field(default_factory=list)
    hash_mismatches: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    hashes_checked: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.missing_files or self.missing_thumbnails or self.hash_mismatches or self.orphans
        )

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "photos": self.photos,
            "files": self.files,
            "hashes_checked": self.hashes_checked,
            "missing_files": self.missing_files,
            "missing_thumbnails": self.missing_thumbnails,
            "hash_mismatches": self.hash_mismatches,
            "orphans": self.orphans,
        }


def _walk(storage: Storage, folder: str) -> Iterator[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _walk(storage, f"{folder}/{sub}")


def _sha256(storage: Storage, name: str) -> str:
    digest = hashlib.sha256()
    with storage.open(name, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def photo_store_check(
    *,
    verify_hashes: bool = True,
    orphan_min_age: timedelta = timedelta(hours=1),
    storage: Storage | None = None,
) -> StoreReport:
    """Compare every photo row with the stored files, and every stored file with the rows.

    A photo's file is written just before its row is committed, so files younger
    than orphan_min_age are not called orphans (an upload may be under way).
    """
    storage = storage or default_storage
    report = StoreReport()
    on_disk = {name for folder in STORE_FOLDERS for name in _walk(storage, folder)}
    report.files = len(on_disk)
    referenced: set[str] = set()
    rows = Photo.objects.order_by("pk").values_list("pk", "file", "thumbnail", "sha256", "status")
    for pk, file_name, thumb_name, sha256, status in rows.iterator(chunk_size=5000):
        report.photos += 1
        if file_name:
            referenced.add(file_name)
            if file_name not in on_disk:
                report.missing_files.append(f"photo {pk}: {file_name}")
            elif verify_hashes:
                report.hashes_checked += 1
                if _sha256(storage, file_name) != sha256:
                    report.hash_mismatches.append(f"photo {pk}: {file_name}")
        if thumb_name:
            referenced.add(thumb_name)
            if thumb_name not in on_disk:
                report.missing_thumbnails.append(f"photo {pk}: {thumb_name}")
        elif status == Photo.Status.PROCESSED and file_name:
            report.missing_thumbnails.append(f"photo {pk}: no thumbnail recorded")
    cutoff = timezone.now() - orphan_min_age
    for name in sorted(on_disk - referenced):
        if storage.get_modified_time(name) < cutoff:
            report.orphans.append(name)
    return report
