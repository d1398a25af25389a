"""The registry's match index: one in-memory MatchIndex per process, kept in step with the database.

How every worker process agrees with the catalogue
--------------------------------------------------
The database is the truth: a confirmed sighting with an individual and stored
features is a reference. ``MatchIndexEntry`` records, per sighting, whether it is
in the index and under which individual and flank, stamped with a journal
position ``seq``; ``MatchIndexState`` (one row) holds the latest position and a
``generation`` that changes when the database is a new one.

- A catalogue change (leopards.services.matching.catalogue_sync) only writes
  entries and bumps ``seq`` under a row lock; it touches no index.
- Each process keeps its own MatchIndex in memory together with the position it
  reflects. Before a query it reads ``MatchIndexState`` (one small query) and
  replays the entries with a higher ``seq``: add, remove or relabel, never a
  rebuild. So a confirmation, merge or split done through any worker reaches
  every other worker at its next query.
- Snapshots: a process that has caught up writes the index to
  ``settings.MATCH_INDEX_DIR/<generation>/`` every MATCH_INDEX_SNAPSHOT_EVERY
  changes (and after a rebuild). A new process loads the newest snapshot and
  replays only what came after it; without a usable snapshot it builds the
  index from the stored features (``match_index_rebuild`` does the same on
  demand). The folder can be shared by all workers or be local to a machine:
  a snapshot is only a head start, the journal decides.
- With MATCH_FIRST_STAGE_DISK_WEIGHT above 0 the same entries also keep a DISK
  twin of the index (leopards.matching.disk_twin), built, replayed and
  snapshotted beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import faiss
from django.conf import settings

from leopards.matching import disk_twin
from leopards.matching.calibration import Calibration, load_default
from leopards.matching.disk_twin import DiskTwin
from leopards.matching.features import Features
from leopards.matching.index import UNKNOWN_FLANK, MatchIndex
from leopards.matching.whitening import DEFAULT_PATH as DEFAULT_WHITENING
from leopards.matching.whitening import OFF as WHITENING_OFF
from leopards.matching.whitening import Whitening
from leopards.models import Flank, MatchIndexEntry, MatchIndexState, Sighting

logger = logging.getLogger(__name__)

# The engine keeps a reference's flank as the catalogue's name and has no catalogue
# for "unknown"; a confirmed sighting whose flank nobody could tell still helps a
# query of unknown flank, so it goes to a catalogue of its own.
UNSIDED = "unsided"
FEATURE_CHUNK = 200
POINTER = "current.json"
TWIN_SUFFIX = "-disk.npz"
# A build writes its temporary files in MATCH_INDEX_DIR at least every few minutes; ones
# untouched this long were left by a process killed while it built.
STALE_BUILD_SECONDS = 24 * 3600


def catalogue_of(flank: str) -> str:
    """Return the index catalogue a reference of this flank belongs to."""
    return UNSIDED if flank == Flank.UNKNOWN else flank


def query_flank(flank: str) -> str:
    """Return the catalogue a query of this flank searches (unknown: all of them)."""
    return UNKNOWN_FLANK if flank == Flank.UNKNOWN else flank


def features_digest(data: bytes) -> str:
    """Return a short hash of stored features, which tells a redrawn box apart."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass
class LoadedIndex:
    """A process's index and the journal position it reflects."""

    index: MatchIndex
    generation: str
    seq: int
    # sighting id -> features digest of what the index holds for it.
    digests: dict[int, str] = field(default_factory=dict)
    # The DISK twin, when the first stage fuses DISK votes with SIFT's.
    twin: DiskTwin | None = None

    @property
    def needs_rebuild(self) -> bool:
        return self.index.needs_rebuild or (self.twin is not None and self.twin.index.needs_rebuild)


def _twin_model(loaded: LoadedIndex) -> str:
    return loaded.twin.model if loaded.twin is not None else ""


_lock = threading.RLock()
_loaded: LoadedIndex | None = None
_calibration: tuple[str, Calibration] | None = None
_whitening: tuple[str, Whitening | None] | None = None


def state() -> MatchIndexState:
    """Return the journal's state row, creating it on first use."""
    row, _created = MatchIndexState.objects.get_or_create(pk=1)
    return row


def current_index() -> MatchIndex:
    """Return this process's index, caught up with the journal."""
    return current().index


def limit_threads() -> None:
    """Cap faiss's OpenMP threads at MATCH_FAISS_THREADS for this process."""
    faiss.omp_set_num_threads(max(1, settings.MATCH_FAISS_THREADS))


def current() -> LoadedIndex:
    """Return this process's loaded index after replaying newer journal entries."""
    global _loaded
    with _lock:
        limit_threads()
        head = state()
        generation = str(head.generation)
        loaded = _loaded
        if (
            loaded is None
            or loaded.generation != generation
            or loaded.seq > head.seq
            or _twin_model(loaded) != disk_twin.wanted_model()
        ):
            # A new process, a new database, a database restored to an earlier point,
            # or the DISK twin turned on, off or to another model: what this process
            # holds cannot be trusted.
            _loaded = loaded = None
            loaded = load_snapshot(generation, head.seq) or build_from_entries(generation)
        if loaded.seq < head.seq:
            replay(loaded)
        if loaded.needs_rebuild:
            # The IVF lists were trained for a much smaller catalogue: take a newer
            # snapshot if another process already retrained, or retrain here. The old
            # index is let go first, so that the process never holds two.
            _loaded = loaded = None
            fresh = load_snapshot(generation, head.seq)
            if fresh is not None and fresh.needs_rebuild:
                fresh = None  # outgrown as well, and let go before the build
            if fresh is None:
                fresh = build_from_entries(generation)
            replay(fresh)
            loaded = fresh
        _loaded = loaded
        return loaded


def forget() -> None:
    """Drop this process's in-memory index (tests, or after a rebuild elsewhere)."""
    global _loaded
    with _lock:
        _loaded = None


def calibration() -> Calibration:
    """Return the score calibration: MATCH_CALIBRATION_FILE, or the shipped defaults."""
    global _calibration
    path = settings.MATCH_CALIBRATION_FILE
    if _calibration is None or _calibration[0] != path:
        _calibration = (path, Calibration.load(path) if path else load_default())
    return _calibration[1]


def whitening() -> Whitening | None:
    """Return the pair check's descriptor projection: MATCH_WHITENING_FILE, the one shipped
    with the code when that is empty, or None when it is "none".

    A file fitted again is read again. One that cannot be read is reported by the system
    checks (leopards.W004); the check then matches DISK's own descriptors.
    """
    global _whitening
    setting = settings.MATCH_WHITENING_FILE
    if setting.strip().lower() == WHITENING_OFF:
        return None
    path = setting or str(DEFAULT_WHITENING)
    try:
        key = f"{path}@{os.stat(path).st_mtime_ns}"
    except OSError:
        key = path
    if _whitening is None or _whitening[0] != key:
        projection = None
        try:
            projection = Whitening.load(path)
        except ValueError:
            logger.exception("MATCH_WHITENING_FILE %s is not a projection; not used", path)
        _whitening = (key, projection)
    return _whitening[1]


# -- building and replaying ---------------------------------------------------------------


def _stored_features(sighting_ids: list[int]) -> Iterator[tuple[int, bytes]]:
    """Yield (sighting id, stored feature bytes) in chunks, to bound memory."""
    for start in range(0, len(sighting_ids), FEATURE_CHUNK):
        chunk = sighting_ids[start : start + FEATURE_CHUNK]
        # In the order asked for: the training sample, and so the index, depend on it,
        # and PostgreSQL returns rows in whatever order it finds them (updated rows move).
        rows = (
            Sighting.objects.filter(pk__in=chunk, features__isnull=False)
            .order_by("pk")
            .values_list("pk", "features")
        )
        for pk, data in rows:
            yield pk, bytes(data)


def build_from_entries(generation: str) -> LoadedIndex:
    """Build an index from every present journal entry and the stored features.

    The features are read from the database FEATURE_CHUNK references at a time, twice
    (MatchIndex.build_file samples, then adds), so that memory holds one chunk, not
    every reference's features; the index is built into a file in MATCH_INDEX_DIR and
    loaded from it, so that the process never holds more than the index it then keeps
    (building in memory held the lists' spare capacity as well: 1.19 GB against the
    loaded 0.95 GB at 50,000 references, bench/README.md).
    """
    # Read the position first: entries written after it are replayed afterwards, so
    # one that changes while this runs is applied twice at worst, never missed.
    head_seq = MatchIndexState.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    entries = {
        pk: (leopard_id, catalogue_of(flank), digest)
        for pk, leopard_id, flank, digest in MatchIndexEntry.objects.filter(
            present=True, seq__lte=head_seq
        ).values_list("sighting_id", "leopard_id", "flank", "features_digest")
    }
    index, digests = _build(entries, _sift_features)
    logger.info("Built the match index from %d stored references", len(index))
    loaded = LoadedIndex(index=index, generation=generation, seq=head_seq, digests=digests)
    model = disk_twin.wanted_model()
    if model:
        twin_index, twin_digests = _build(entries, _disk_reader(model))
        loaded.twin = DiskTwin(index=twin_index, model=model, digests=twin_digests)
        logger.info("Built its DISK twin from %d stored references", len(twin_index))
    return loaded


Reader = Callable[[list[int]], Iterator[tuple[int, Features]]]


def _sift_features(sighting_ids: list[int]) -> Iterator[tuple[int, Features]]:
    for pk, data in _stored_features(sighting_ids):
        yield pk, Features.from_bytes(data)


def _disk_reader(model: str) -> Reader:
    return lambda sighting_ids: disk_twin.stored_features(model, sighting_ids)


def _build(
    entries: dict[int, tuple[int, str, str]], read: Reader
) -> tuple[MatchIndex, dict[int, str]]:
    """Build one index of these entries from the features read(ids) yields."""
    ordered = sorted(entries)
    digests: dict[int, str] = {}

    def records() -> Iterator[tuple[int, int, str, Features]]:
        for pk, features in read(ordered):
            leopard_id, flank, digest = entries[pk]
            digests[pk] = digest
            yield pk, leopard_id, flank, features

    folder = Path(settings.MATCH_INDEX_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    # Beside the generations' folders, which a process pruning old ones may delete.
    path = folder / f"build-{os.getpid()}-{threading.get_ident()}.npz"
    try:
        MatchIndex.build_file(path, records)
        return MatchIndex.load(path), digests
    finally:
        path.unlink(missing_ok=True)


def replay(loaded: LoadedIndex, *, up_to: int | None = None) -> int:
    """Apply the journal entries newer than the loaded index; return how many changed it."""
    entries = MatchIndexEntry.objects.filter(seq__gt=loaded.seq).order_by("seq")
    if up_to is not None:
        entries = entries.filter(seq__lte=up_to)
    entries = list(entries)
    if not entries:
        return 0
    changed = _apply(loaded.index, loaded.digests, entries, _sift_features)
    if loaded.twin is not None:
        _apply(loaded.twin.index, loaded.twin.digests, entries, _disk_reader(loaded.twin.model))
    loaded.seq = max(loaded.seq, entries[-1].seq)
    return changed


def _apply(
    index: MatchIndex, digests: dict[int, str], entries: list[MatchIndexEntry], read: Reader
) -> int:
    """Apply journal entries, in order, to one index; return how many changed it."""
    to_add = {}
    changed = 0
    for entry in entries:
        pk = entry.sighting_id
        if not entry.present or entry.leopard_id is None:
            if index.remove(pk):
                changed += 1
            digests.pop(pk, None)
            to_add.pop(pk, None)
            continue
        catalogue = catalogue_of(entry.flank)
        if (
            pk in index
            and index.flank_of(pk) == catalogue
            and digests.get(pk) == entry.features_digest
        ):
            # Same box in the same catalogue: a merge, split or reassignment only
            # moves its label, which costs nothing in faiss.
            if index.individual_of(pk) != entry.leopard_id:
                index.relabel(index.individual_of(pk), entry.leopard_id, [pk])
                changed += 1
            to_add.pop(pk, None)
            continue
        to_add[pk] = entry
    if to_add:
        records = []
        found = set()
        for pk, features in read(sorted(to_add)):
            entry = to_add[pk]
            records.append((pk, entry.leopard_id, catalogue_of(entry.flank), features))
            digests[pk] = entry.features_digest
            found.add(pk)
        index.add_many(records)
        changed += len(records)
        for pk in set(to_add) - found:
            # Features gone since the entry was written: a later sync removes it.
            index.remove(pk)
            digests.pop(pk, None)
    return changed


# -- snapshots ----------------------------------------------------------------------------


def _folder(generation: str) -> Path:
    return Path(settings.MATCH_INDEX_DIR) / generation


def save_snapshot(loaded: LoadedIndex | None = None) -> Path:
    """Write the (caught-up) index to MATCH_INDEX_DIR and record its position."""
    with _lock:
        loaded = loaded or current()
        folder = _folder(loaded.generation)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"index-{loaded.seq:012d}-{os.getpid()}"
        loaded.index.save(folder / f"{name}.npz")
        side = {
            "generation": loaded.generation,
            "seq": loaded.seq,
            "digests": {str(k): v for k, v in loaded.digests.items()},
        }
        if loaded.twin is not None:
            loaded.twin.index.save(folder / f"{name}{TWIN_SUFFIX}")
            side["twin_model"] = loaded.twin.model
            side["twin_digests"] = {str(k): v for k, v in loaded.twin.digests.items()}
        _write_atomic(folder / f"{name}.json", json.dumps(side))
        # The pointer moves last, so a reader never sees half a snapshot.
        _write_atomic(folder / POINTER, json.dumps({"name": name, "seq": loaded.seq}))
        MatchIndexState.objects.filter(pk=1, snapshot_seq__lt=loaded.seq).update(
            snapshot_seq=loaded.seq
        )
        _prune(folder, keep=name)
        return folder / f"{name}.npz"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _prune(folder: Path, keep: str) -> None:
    """Delete older snapshots but the newest two, which a reader may be loading."""
    names = sorted({p.name.rsplit(".", 1)[0] for p in folder.glob("index-*.json")})
    for old in names[:-2]:
        if old == keep:
            continue
        for suffix in (".npz", TWIN_SUFFIX, ".json"):
            (folder / f"{old}{suffix}").unlink(missing_ok=True)
    for leftover in Path(settings.MATCH_INDEX_DIR).glob("build-*"):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - leftover.stat().st_mtime > STALE_BUILD_SECONDS:
                leftover.unlink()
    for stale in Path(settings.MATCH_INDEX_DIR).iterdir():
        if stale.is_dir() and stale.name != folder.name:
            # Snapshots of an earlier database can never be used again.
            for path in stale.iterdir():
                path.unlink(missing_ok=True)
            stale.rmdir()


def load_snapshot(generation: str, head_seq: int) -> LoadedIndex | None:
    """Load the newest snapshot of this generation, or None when there is none usable."""
    folder = _folder(generation)
    try:
        pointer = json.loads((folder / POINTER).read_text())
        side = json.loads((folder / f"{pointer['name']}.json").read_text())
        if side["generation"] != generation or side["seq"] > head_seq:
            return None
        model = disk_twin.wanted_model()
        if model and side.get("twin_model") != model:
            # Written without the DISK twin, or with another model's.
            return None
        index = MatchIndex.load(folder / f"{pointer['name']}.npz")
        twin = None
        if model:
            twin = DiskTwin(
                index=MatchIndex.load(folder / f"{pointer['name']}{TWIN_SUFFIX}"),
                model=model,
                digests={int(k): v for k, v in side["twin_digests"].items()},
            )
    except (OSError, ValueError, KeyError) as exc:
        if not isinstance(exc, FileNotFoundError):
            logger.warning("Ignoring an unreadable match index snapshot in %s: %s", folder, exc)
        return None
    digests = {int(k): v for k, v in side["digests"].items()}
    return LoadedIndex(
        index=index, generation=generation, seq=side["seq"], digests=digests, twin=twin
    )


def maybe_snapshot() -> None:
    """Write a snapshot when enough changes have piled up since the last one."""
    head = state()
    if head.seq - head.snapshot_seq >= settings.MATCH_INDEX_SNAPSHOT_EVERY:
        # current() retrains an outgrown index first, so the snapshot is a good start.
        save_snapshot(current())


def rebuild(*, snapshot: bool = True) -> LoadedIndex:
    """Build this process's index afresh from the journal and stored features."""
    global _loaded
    with _lock:
        limit_threads()
        generation = str(state().generation)
        # Let the current index go before building its successor: a worker holds one
        # index at a time (at 50,000 references each is about 0.75 GB).
        _loaded = None
        loaded = build_from_entries(generation)
        replay(loaded)
        _loaded = loaded
    if snapshot:
        save_snapshot(loaded)
    return loaded


def reference_ids_of(sighting_ids: Iterable[int]) -> list[int]:
    """Return which of these sightings are references in this process's index."""
    index = current_index()
    return [pk for pk in sighting_ids if pk in index]
