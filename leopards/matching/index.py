"""Per-flank nearest-neighbour index over the descriptors of every catalogue box.

One faiss index per flank catalogue holds every reference box's descriptors
(HotSpotter, Crall et al. 2013). Faiss stores only descriptor ids; which reference
and which individual an id belongs to lives in numpy arrays beside it, so that a
merge or split of individuals is a relabel of a small array, never an index rebuild.
Descriptor ids are handed out consecutively per reference, so an id is mapped to its
reference by a binary search over the references' first ids.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import zipfile
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import faiss
import numpy as np

from leopards.matching.features import DESCRIPTOR_SCALE, Features

DIM = 128
UNKNOWN_FLANK = "unknown"
Label = Hashable  # a reference or individual id: the Django primary key, or any JSON scalar

# Below this many descriptors per catalogue an exact flat index answers a query fast
# enough (bench/README.md); above it an IVF index with 4-bit PQ fast-scan codes keeps
# 50,000 boxes in well under 2 GB.
FLAT_LIMIT = 30_000
# 32 sub-quantisers of 4 bits: 16 bytes a descriptor, scanned with SIMD. At 50,000 boxes
# the scan of the visited lists is most of a query and reads memory more than it
# computes; 16-byte codes halve it, with the same rank-1 and mAP as 32-byte codes
# (bench/README.md).
PQ_SPEC = "PQ32x4fs"
DEFAULT_NPROBE = 16
# An IVF index trained on N descriptors stays efficient up to a few times N; past that
# the lists get long and the caller should rebuild it from the stored features.
REBUILD_GROWTH = 4.0
# Training points per IVF list: faiss asks for 39 at least.
TRAINING_PER_LIST = 40
# The most IVF lists a catalogue gets (_nlist_for), and so the most training vectors it
# can need: a build keeps a uniform sample of this many descriptors per flank, 20 MB of
# uint8, whatever the catalogue's size.
MAX_NLIST = 4096
TRAINING_SAMPLE = TRAINING_PER_LIST * MAX_NLIST
# A build adds references in chunks of about this many descriptors, so that the float32
# copies faiss needs stay near 50 MB.
BUILD_CHUNK_DESCRIPTORS = 100_000
# A build into a file (MatchIndex.build_file) writes a catalogue's lists out as a shard
# once its IVF catalogues together hold this many descriptors: 16-byte codes and 8-byte
# ids, about 0.2 GB with the lists' spare capacity. Fewer, larger shards cost a query
# less (each shard scans its part of the visited lists with its own lookup tables).
SHARD_DESCRIPTORS = 8_000_000

Record = tuple[Label, Label, str, Features]


@dataclass(frozen=True)
class Neighbours:
    """The k nearest catalogue descriptors of each query descriptor, nearest first."""

    distances: np.ndarray  # (n, k) float32, squared L2 in RootSIFT space; inf where missing
    reference_rows: np.ndarray  # (n, k) int64 rows into the index's reference table; -1 missing
    local: np.ndarray  # (n, k) int64 descriptor position within its reference


class _Catalogue:
    """One flank's faiss index, in one or more shards, plus the size it was trained for.

    A build that writes straight to a file (MatchIndex.build_file) leaves the IVF lists of
    a large flank in several shards: faiss indexes cloned from the same trained empty
    index, so that all share the coarse centroids and the product quantiser, and a
    descriptor has the same list and code in whichever shard it went. Their ids are the
    index's global ids. A search finds the lists to visit once and scans them in every
    shard; adds go to the last shard.
    """

    def __init__(self, shards: faiss.Index | list[faiss.Index], trained_size: int) -> None:
        self.shards = list(shards) if isinstance(shards, list) else [shards]
        self.trained_size = trained_size
        # Whether the last shard's lists hold only zeros past their ends (see
        # _clear_block_tails); a file may not, and clearing a shard takes 0.15 s.
        self.tails_clear = True
        self._centroids: np.ndarray | None = None
        self._centroid_norms: np.ndarray | None = None
        if not self.is_flat:
            quantizer = faiss.downcast_index(faiss.extract_index_ivf(self.index).quantizer)
            if isinstance(quantizer, faiss.IndexFlatL2) and quantizer.ntotal:
                count = quantizer.ntotal
                centroids = faiss.rev_swig_ptr(quantizer.get_xb(), count * DIM)
                self._centroids = np.array(centroids, np.float32).reshape(count, DIM)
                self._centroid_norms = (self._centroids**2).sum(axis=1)

    @property
    def index(self) -> faiss.Index:
        """Return the shard that takes adds (the only one, unless a build spilled)."""
        return self.shards[-1]

    @property
    def ntotal(self) -> int:
        """Return the number of descriptors held across shards."""
        return int(sum(shard.ntotal for shard in self.shards))

    @property
    def is_flat(self) -> bool:
        return not isinstance(faiss.downcast_index(self.index), faiss.IndexIVF)

    def remove_range(self, start: int, stop: int) -> None:
        """Remove the descriptors whose ids are in [start, stop), in whichever shard."""
        selector = faiss.IDSelectorRange(start, stop)
        for shard in self.shards:
            if self.is_flat:
                shard.remove_ids(selector)
                continue
            ivf = faiss.extract_index_ivf(shard)
            sizes = [ivf.invlists.list_size(number) for number in range(ivf.nlist)]
            shard.remove_ids(selector)
            shrunk = (n for n, size in enumerate(sizes) if ivf.invlists.list_size(n) != size)
            _clear_block_tails(ivf, shrunk)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add descriptors with their ids to the last shard."""
        if not self.tails_clear and not self.is_flat:
            _clear_block_tails(faiss.extract_index_ivf(self.index))
        self.tails_clear = True
        self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids)

    def set_nprobe(self, nprobe: int) -> None:
        if not self.is_flat:
            for shard in self.shards:
                faiss.extract_index_ivf(shard).nprobe = nprobe

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the k nearest (squared distances, ids) of each vector."""
        if self._centroids is None:
            return self.index.search(vectors, k)  # flat catalogues are never sharded
        # The lists to visit are found here with numpy: the matrix product with the
        # centroids is most of the coarse step, and faiss's bundled BLAS did it 3-4 times
        # slower than numpy's (bench/README.md). The lists and the results are the same.
        nprobe = min(faiss.extract_index_ivf(self.index).nprobe, len(self._centroids))
        distances = vectors @ self._centroids.T
        distances *= -2
        distances += self._centroid_norms
        distances += (vectors**2).sum(axis=1, keepdims=True)
        lists = np.argpartition(distances, nprobe - 1, axis=1)[:, :nprobe]
        list_distances = np.take_along_axis(distances, lists, axis=1)
        order = np.argsort(list_distances, axis=1)
        lists = np.take_along_axis(lists, order, axis=1).astype(np.int64)
        list_distances = np.take_along_axis(list_distances, order, axis=1)
        parts = [
            faiss.extract_index_ivf(shard).search_preassigned(vectors, k, lists, list_distances)
            for shard in self.shards
        ]
        if len(parts) == 1:
            return parts[0]
        return _nearest([d for d, _ in parts], [i for _, i in parts], k)


def _clear_block_tails(ivf: faiss.IndexIVF, numbers: Iterable[int] | None = None) -> None:
    """Zero the codes past the end of each fast-scan list in its last block.

    faiss removes an entry by moving the list's last entry into its place and shrinking
    the list, but leaves the moved entry's 4-bit codes in the block's tail, and a later
    add writes its codes there by or-ing them into what is there: faiss 1.15.1 then found
    only 80% of the vectors added after a removal as their own nearest neighbours. With
    the tails zeroed, all of them. numbers: the lists to clear (None: every list).
    """
    lists = faiss.downcast_InvertedLists(ivf.invlists)
    if not isinstance(lists, faiss.BlockInvertedLists):
        return
    packer = ivf.get_CodePacker()
    zero = np.zeros(packer.code_size, np.uint8)
    for number in range(ivf.nlist) if numbers is None else numbers:
        size = lists.list_size(number)
        if size % packer.nvec == 0:
            continue  # a whole number of blocks: no tail
        blocks = size // packer.nvec + 1
        codes = faiss.rev_swig_ptr(lists.get_codes(number), blocks * packer.block_size)
        codes = codes.reshape(blocks, packer.block_size)
        for offset in range(size, blocks * packer.nvec):
            packer.pack_1(zero, offset, codes)


def _nearest(
    distances: Sequence[np.ndarray], ids: Sequence[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge the k nearest of several shards into the k nearest of all, nearest first."""
    merged_ids = np.concatenate(ids, axis=1)
    merged = np.where(merged_ids < 0, np.inf, np.concatenate(distances, axis=1))
    order = np.argsort(merged, axis=1, kind="stable")[:, :k]
    merged = np.take_along_axis(merged, order, axis=1).astype(np.float32)
    merged_ids = np.take_along_axis(merged_ids, order, axis=1)
    return merged, np.where(np.isinf(merged), -1, merged_ids)


def _new_flat() -> faiss.Index:
    """Return an exact index that accepts its own ids."""
    return faiss.IndexIDMap2(faiss.IndexFlatL2(DIM))


def _nlist_for(count: int) -> int:
    """Return the number of IVF lists for a catalogue of this many descriptors."""
    # About 4 sqrt(N) lists, a power of two, as the faiss guidelines suggest, but no more
    # than 4096: past that, training and exact assignment of 25 million descriptors cost
    # minutes, while fast-scan keeps the longer lists cheap to read (bench/README.md).
    return int(2 ** round(math.log2(max(256, min(MAX_NLIST, 4 * math.sqrt(count))))))


def _new_ivf(sample: np.ndarray, count: int, nprobe: int) -> faiss.Index:
    """Train an IVF-PQ fast-scan index on a sample, sized for count descriptors."""
    nlist = _nlist_for(count)
    index = faiss.index_factory(DIM, f"IVF{nlist},{PQ_SPEC}")
    needed = min(len(sample), TRAINING_PER_LIST * nlist)
    if needed < len(sample):
        rng = np.random.default_rng(0)
        sample = sample[rng.choice(len(sample), needed, replace=False)]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    faiss.extract_index_ivf(index).nprobe = nprobe
    return index


class MatchIndex:
    """Incremental nearest-neighbour index of catalogue boxes, one faiss index per flank."""

    def __init__(self, *, flat_limit: int = FLAT_LIMIT, nprobe: int = DEFAULT_NPROBE) -> None:
        self.flat_limit = flat_limit
        self.nprobe = nprobe
        self._catalogues: dict[str, _Catalogue] = {}
        self._next_id = 0
        # Reference table, one row per add(); removed rows stay with alive=False.
        self._ref_ids: list[Label] = []
        self._ref_flank: list[str] = []
        self._ref_start = np.zeros(0, np.int64)
        self._ref_count = np.zeros(0, np.int32)
        self._ref_individual = np.zeros(0, np.int32)
        self._ref_alive = np.zeros(0, bool)
        self._ref_points: list[np.ndarray] = []
        self._row_of: dict[Label, int] = {}
        self._labels: list[Label] = []
        self._code_of: dict[Label, int] = {}

    # -- catalogue bookkeeping ---------------------------------------------------------

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, reference_id: Label) -> bool:
        return reference_id in self._row_of

    @property
    def flanks(self) -> list[str]:
        """Return the flanks that have a catalogue."""
        return sorted(self._catalogues)

    @property
    def descriptor_count(self) -> int:
        """Return the number of descriptors held across catalogues."""
        return sum(c.ntotal for c in self._catalogues.values())

    @property
    def needs_rebuild(self) -> bool:
        """Tell whether an IVF catalogue has outgrown its training and should be rebuilt."""
        return any(
            not c.is_flat and c.ntotal > REBUILD_GROWTH * c.trained_size
            for c in self._catalogues.values()
        )

    def _code(self, individual_id: Label) -> int:
        code = self._code_of.get(individual_id)
        if code is None:
            code = self._code_of[individual_id] = len(self._labels)
            self._labels.append(individual_id)
        return code

    def individual_of(self, reference_id: Label) -> Label:
        """Return the individual a reference is labelled with."""
        return self._labels[self._ref_individual[self._row_of[reference_id]]]

    def flank_of(self, reference_id: Label) -> str:
        """Return the flank catalogue a reference is in."""
        return self._ref_flank[self._row_of[reference_id]]

    def reference_ids(self, individual_id: Label | None = None) -> list[Label]:
        """Return the live reference ids, optionally of one individual."""
        if individual_id is None:
            return list(self._row_of)
        code = self._code_of.get(individual_id)
        return [r for r, row in self._row_of.items() if self._ref_individual[row] == code]

    def label_of_row(self, row: int) -> Label:
        """Return the individual of a reference-table row."""
        return self._labels[self._ref_individual[row]]

    def reference_of_row(self, row: int) -> Label:
        """Return the reference id of a reference-table row."""
        return self._ref_ids[row]

    def points_of_row(self, row: int) -> np.ndarray:
        """Return the (n, 2) keypoint positions of a reference-table row."""
        return self._ref_points[row]

    @property
    def row_individual_codes(self) -> np.ndarray:
        """Return each reference row's individual code (index into individual_labels)."""
        return self._ref_individual

    @property
    def individual_labels(self) -> list[Label]:
        """Return the individual label of each code."""
        return self._labels

    # -- writes --------------------------------------------------------------------------

    def add(
        self, reference_id: Label, individual_id: Label, flank: str, features: Features
    ) -> None:
        """Add (or replace) one reference box's features under an individual and a flank."""
        self.add_many([(reference_id, individual_id, flank, features)])

    def add_many(self, records: Iterable[tuple[Label, Label, str, Features]]) -> None:
        """Add many reference boxes at once, which batches the faiss work."""
        batches: dict[str, list[tuple[Features, int]]] = {}
        starts, counts, codes = [], [], []
        for reference_id, individual_id, flank, features in records:
            if flank == UNKNOWN_FLANK:
                raise ValueError("a catalogue reference needs a known flank")
            if reference_id in self._row_of:
                self.remove(reference_id)
            count = len(features)
            self._row_of[reference_id] = len(self._ref_ids)
            self._ref_ids.append(reference_id)
            self._ref_flank.append(flank)
            self._ref_points.append(np.ascontiguousarray(features.keypoints[:, :2], np.float32))
            starts.append(self._next_id)
            counts.append(count)
            codes.append(self._code(individual_id))
            if count:
                batches.setdefault(flank, []).append((features, self._next_id))
            # Every reference takes at least one id so that starts stay strictly increasing.
            self._next_id += max(count, 1)
        if not starts:
            return
        self._ref_start = np.concatenate([self._ref_start, np.array(starts, np.int64)])
        self._ref_count = np.concatenate([self._ref_count, np.array(counts, np.int32)])
        self._ref_individual = np.concatenate([self._ref_individual, np.array(codes, np.int32)])
        self._ref_alive = np.concatenate([self._ref_alive, np.ones(len(starts), bool)])
        for flank, parts in batches.items():
            # One float32 array per flank, filled in place: no per-box float copies to
            # concatenate, which held the chunk twice.
            total = sum(len(features) for features, _ in parts)
            vectors = np.empty((total, DIM), np.float32)
            ids = np.empty(total, np.int64)
            at = 0
            for features, first_id in parts:
                count = len(features)
                vectors[at : at + count] = features.descriptors
                ids[at : at + count] = np.arange(first_id, first_id + count, dtype=np.int64)
                at += count
            # The same float32 division as Features.float_descriptors.
            vectors /= DESCRIPTOR_SCALE
            self._add_vectors(flank, vectors, ids)

    def _add_vectors(self, flank: str, vectors: np.ndarray, ids: np.ndarray) -> None:
        catalogue = self._catalogues.get(flank)
        if catalogue is None:
            if len(vectors) > self.flat_limit:
                index = _new_ivf(vectors, len(vectors), self.nprobe)
                catalogue = _Catalogue(index, len(vectors))
            else:
                catalogue = _Catalogue(_new_flat(), 0)
            self._catalogues[flank] = catalogue
        elif catalogue.is_flat and catalogue.index.ntotal + len(vectors) > self.flat_limit:
            # Outgrown the exact index: the flat index still holds exact vectors, so it can
            # train its IVF successor without going back to the stored features.
            old = faiss.downcast_index(catalogue.index)
            old_vectors = faiss.rev_swig_ptr(old.index.get_xb(), old.ntotal * DIM)
            old_vectors = np.array(old_vectors, np.float32).reshape(-1, DIM)
            old_ids = faiss.vector_to_array(old.id_map).astype(np.int64)
            vectors = np.concatenate([old_vectors, vectors])
            ids = np.concatenate([old_ids, ids])
            catalogue = _Catalogue(_new_ivf(vectors, len(vectors), self.nprobe), len(vectors))
            self._catalogues[flank] = catalogue
        catalogue.add(vectors, ids)

    def prepare(self, flank: str, sample: np.ndarray, expected_count: int) -> None:
        """Create a flank's IVF catalogue trained on sample vectors before a bulk add."""
        if flank in self._catalogues and self._catalogues[flank].ntotal:
            raise ValueError(f"the {flank} catalogue already holds descriptors")
        index = _new_ivf(sample, expected_count, self.nprobe)
        self._catalogues[flank] = _Catalogue(index, expected_count)

    def remove(self, reference_id: Label) -> bool:
        """Remove a reference box; return whether it was there."""
        row = self._row_of.pop(reference_id, None)
        if row is None:
            return False
        self._ref_alive[row] = False
        start, count = int(self._ref_start[row]), int(self._ref_count[row])
        catalogue = self._catalogues.get(self._ref_flank[row])
        if count and catalogue is not None:
            catalogue.remove_range(start, start + count)
        self._ref_points[row] = np.zeros((0, 2), np.float32)
        return True

    def relabel(
        self,
        old_individual: Label,
        new_individual: Label,
        reference_ids: Iterable[Label] | None = None,
    ) -> int:
        """Move references of one individual to another (a merge, or a split when given ids)."""
        old = self._code_of.get(old_individual)
        if old is None:
            return 0
        new = self._code(new_individual)
        if reference_ids is None:
            rows = np.nonzero((self._ref_individual == old) & self._ref_alive)[0]
        else:
            rows = np.array(
                [self._row_of[r] for r in reference_ids if r in self._row_of], dtype=np.int64
            )
            rows = rows[self._ref_individual[rows] == old]
        self._ref_individual[rows] = new
        return len(rows)

    # -- reads ---------------------------------------------------------------------------

    def search(
        self,
        vectors: np.ndarray,
        flank: str,
        k: int,
        exclude_reference_ids: Iterable[Label] = (),
    ) -> Neighbours:
        """Find each query vector's k nearest catalogue descriptors (unknown: all flanks)."""
        vectors = np.ascontiguousarray(vectors, np.float32)
        n = len(vectors)
        excluded = [self._row_of[r] for r in exclude_reference_ids if r in self._row_of]
        # Over-fetch so that neighbours from excluded boxes (the query itself in a
        # leave-one-out test) can be dropped and k still remain.
        extra = min(len(excluded), 8)
        names = list(self._catalogues) if flank == UNKNOWN_FLANK else [flank]
        parts_d, parts_i = [], []
        for name in names:
            catalogue = self._catalogues.get(name)
            if catalogue is None or catalogue.ntotal == 0 or n == 0:
                continue
            distances, ids = catalogue.search(vectors, k + extra)
            parts_d.append(distances)
            parts_i.append(ids)
        if not parts_d:
            return Neighbours(
                distances=np.full((n, k), np.inf, np.float32),
                reference_rows=np.full((n, k), -1, np.int64),
                local=np.full((n, k), -1, np.int64),
            )
        distances = np.concatenate(parts_d, axis=1)
        ids = np.concatenate(parts_i, axis=1)
        missing = ids < 0
        rows = np.searchsorted(self._ref_start, np.where(missing, 0, ids), side="right") - 1
        rows[missing] = -1
        distances = np.where(missing, np.inf, distances).astype(np.float32)
        if excluded:
            distances[np.isin(rows, excluded)] = np.inf
        if len(parts_d) > 1 or excluded:
            order = np.argsort(distances, axis=1, kind="stable")
            distances = np.take_along_axis(distances, order, axis=1)
            rows = np.take_along_axis(rows, order, axis=1)
            ids = np.take_along_axis(ids, order, axis=1)
        distances, rows, ids = distances[:, :k], rows[:, :k], ids[:, :k]
        rows = np.where(np.isinf(distances), -1, rows)
        local = np.where(rows >= 0, ids - self._ref_start[np.maximum(rows, 0)], -1)
        return Neighbours(distances=distances, reference_rows=rows, local=local)

    # -- persistence ---------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the whole index to one file, atomically.

        The file is an uncompressed .npz (np.load reads it), but it is written member by
        member: the faiss indexes go straight from faiss to the file and the keypoints
        box by box, so saving needs no second copy of the index in memory (a copy of
        the serialised index, and of its growing buffer before that, took the peak of a
        50,000-reference build from the index's 0.9 GB to 2.5 GB). A catalogue held in
        one faiss index is the member faiss_<flank>; one in shards (build_file) is the
        members faiss_<flank>.0, .1, ..., which a reader that knows only the first kind
        fails to find rather than reading part of the catalogue.
        """
        path = Path(path)
        live = np.array(sorted(self._row_of.values()), dtype=np.int64)
        tmp = path.with_name(path.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            sharded = {}
            for name, catalogue in self._catalogues.items():
                if len(catalogue.shards) == 1:
                    _write_faiss(archive, f"faiss_{name}", catalogue.index)
                    continue
                for number, shard in enumerate(catalogue.shards):
                    _write_faiss(archive, f"faiss_{name}.{number}", shard)
                sharded[name] = len(catalogue.shards)

            def write_points(handle: _CountingWriter) -> None:
                for row in live:
                    handle.write(np.ascontiguousarray(self._ref_points[row], np.float32).data)

            self._write_tables(archive, live, sharded, write_points)
        os.replace(tmp, path)

    def _write_tables(
        self,
        archive: zipfile.ZipFile,
        live: np.ndarray,
        sharded: dict[str, int],
        write_points: Callable[[_CountingWriter], None],
    ) -> None:
        """Write the reference table of the live rows, their keypoints and the metadata."""
        meta = {
            "version": 1,
            "flat_limit": self.flat_limit,
            "nprobe": self.nprobe,
            "next_id": self._next_id,
            "labels": self._labels,
            "reference_ids": [self._ref_ids[r] for r in live],
            "flanks": [self._ref_flank[r] for r in live],
            "catalogues": {name: c.trained_size for name, c in self._catalogues.items()},
            "shards": sharded,
        }
        # A live row holds one keypoint per descriptor.
        point_counts = self._ref_count[live].astype(np.int64)
        arrays = {
            "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8),
            "start": self._ref_start[live],
            "count": self._ref_count[live],
            "individual": self._ref_individual[live],
            "point_counts": point_counts,
        }
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, array)
        shape = (int(point_counts.sum()), 2)
        with _npy_member(archive, "points", np.float32, shape) as handle:
            write_points(handle)

    @classmethod
    def load(cls, path: str | Path) -> MatchIndex:
        """Read an index written by save() or build_file()."""
        with np.load(Path(path), allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
            index = cls(flat_limit=meta["flat_limit"], nprobe=meta["nprobe"])
            index._next_id = meta["next_id"]
            index._labels = [_json_label(x) for x in meta["labels"]]
            index._code_of = {label: code for code, label in enumerate(index._labels)}
            index._ref_ids = [_json_label(x) for x in meta["reference_ids"]]
            index._ref_flank = list(meta["flanks"])
            index._ref_start = archive["start"].astype(np.int64)
            index._ref_count = archive["count"].astype(np.int32)
            index._ref_individual = archive["individual"].astype(np.int32)
            index._ref_alive = np.ones(len(index._ref_ids), bool)
            offsets = np.cumsum(archive["point_counts"])[:-1]
            index._ref_points = list(np.split(archive["points"], offsets))
            index._row_of = {r: row for row, r in enumerate(index._ref_ids)}
            sharded = meta.get("shards", {})
            for name, trained in meta["catalogues"].items():
                if name in sharded:
                    members = [f"faiss_{name}.{number}" for number in range(sharded[name])]
                else:
                    members = [f"faiss_{name}"]
                shards = []
                for member in members:
                    # Read from the file as faiss asks, not through a copy of the whole blob.
                    with archive.zip.open(f"{member}.npy") as handle:
                        _skip_npy_header(handle)
                        shards.append(faiss.read_index(faiss.PyCallbackIOReader(handle.read)))
                catalogue = index._catalogues[name] = _Catalogue(shards, trained)
                catalogue.set_nprobe(index.nprobe)
                # Files saved after removals, before removals cleared what they left.
                catalogue.tails_clear = False
        return index

    @classmethod
    def build(
        cls,
        records: Sequence[Record] | Callable[[], Iterable[Record]],
        *,
        flat_limit: int = FLAT_LIMIT,
        nprobe: int = DEFAULT_NPROBE,
        chunk_descriptors: int | None = None,
    ) -> MatchIndex:
        """Build an index from stored features in bounded memory (the rebuild path).

        records is a sequence, or a function that returns a fresh iterable of them (from
        the database, say): they are read twice. The first pass counts each flank's
        descriptors and keeps a uniform sample of at most TRAINING_SAMPLE of them to
        train the IVF lists; the second adds the references chunk by chunk. Memory then
        holds the index, the samples and one chunk, never every reference's features.
        When a flank has no more than TRAINING_SAMPLE descriptors the sample is all of
        them, and the index is the one that adding everything at once would give.
        build_file() builds the same index into a file without holding it.
        """
        index = cls(flat_limit=flat_limit, nprobe=nprobe)
        index._fill(_reader(records), chunk_descriptors or BUILD_CHUNK_DESCRIPTORS, None)
        return index

    @classmethod
    def build_file(
        cls,
        path: str | Path,
        records: Sequence[Record] | Callable[[], Iterable[Record]],
        *,
        flat_limit: int = FLAT_LIMIT,
        nprobe: int = DEFAULT_NPROBE,
        chunk_descriptors: int | None = None,
        shard_descriptors: int | None = None,
    ) -> Path:
        """Build an index as build() does, straight into a file that load() reads.

        What load() gives is what build() then save() would (the same lists and codes,
        so the same neighbours), but the builder never holds the whole index: once the
        IVF catalogues together hold more than shard_descriptors (SHARD_DESCRIPTORS)
        descriptors, the largest is written to the file as a shard and started afresh
        from a clone of its trained empty index, and every chunk's keypoints go to a
        temporary file beside path, copied into the index file at the end. Memory then
        holds the samples, one chunk, at most shard_descriptors descriptors of lists and
        a reference table of a few dozen bytes a reference, however large the catalogue
        (bench/README.md). Returns path.
        """
        path = Path(path)
        index = cls(flat_limit=flat_limit, nprobe=nprobe)
        tmp = path.with_name(path.name + ".tmp")
        points_tmp = path.with_name(path.name + ".points.tmp")
        try:
            with (
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive,
                points_tmp.open("w+b") as points,
            ):
                spill = _Spill(archive, points, shard_descriptors or SHARD_DESCRIPTORS)
                index._fill(_reader(records), chunk_descriptors or BUILD_CHUNK_DESCRIPTORS, spill)
                spill.finish(index)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
            points_tmp.unlink(missing_ok=True)
        return path

    def _fill(
        self, read: Callable[[], Iterable[Record]], chunk_descriptors: int, spill: _Spill | None
    ) -> None:
        """Train on a sample of the records' descriptors, then add them chunk by chunk."""
        totals: dict[str, int] = {}
        samples: dict[str, _Reservoir] = {}
        rng = np.random.default_rng(0)
        for _, _, flank, features in read():
            totals[flank] = totals.get(flank, 0) + len(features)
            if len(features):
                if flank not in samples:
                    samples[flank] = _Reservoir(TRAINING_SAMPLE, rng)
                samples[flank].add(features.descriptors)
        for flank, total in totals.items():
            if total > self.flat_limit:
                self.prepare(flank, samples[flank].float_sample(), total)
                if spill is not None:
                    spill.templates[flank] = faiss.clone_index(self._catalogues[flank].index)
        samples.clear()
        _release_freed_memory()
        batch: list[Record] = []
        batch_ids: set[Label] = set()
        held = 0
        for record in read():
            if spill is not None and (record[0] in self._row_of or record[0] in batch_ids):
                # The first copy's descriptors may be in a shard already written.
                raise ValueError(f"reference {record[0]!r} is in the records twice")
            batch.append(record)
            batch_ids.add(record[0])
            held += len(record[3])
            if held >= chunk_descriptors:
                self._add_chunk(batch, spill)
                batch, held = [], 0
                batch_ids.clear()
        self._add_chunk(batch, spill)

    def _add_chunk(self, batch: list[Record], spill: _Spill | None) -> None:
        self.add_many(batch)
        if spill is not None:
            spill.spill(self)
        _release_freed_memory()

    def set_nprobe(self, nprobe: int) -> None:
        """Set how many IVF lists a query descriptor visits (recall against speed)."""
        self.nprobe = nprobe
        for catalogue in self._catalogues.values():
            catalogue.set_nprobe(nprobe)

    def memory_bytes(self) -> int:
        """Estimate the bytes the faiss indexes and the side tables hold."""
        total = sum(_serialised_size(s) for c in self._catalogues.values() for s in c.shards)
        total += sum(p.nbytes for p in self._ref_points)
        return total + self._ref_start.nbytes * 3


class _Spill:
    """Where a build_file() puts what the build has added, so that the builder lets it go."""

    def __init__(self, archive: zipfile.ZipFile, points: BinaryIO, limit: int) -> None:
        self.archive = archive
        self.points = points  # the keypoints of rows before rows_written, one after another
        self.limit = limit
        self.rows_written = 0
        self.shards: dict[str, int] = {}  # flank -> shards written
        self.templates: dict[str, faiss.Index] = {}  # flank -> its trained empty IVF index

    def spill(self, index: MatchIndex) -> None:
        """Write out the keypoints just added, and the largest catalogues past the limit."""
        for row in range(self.rows_written, len(index._ref_points)):
            self.points.write(np.ascontiguousarray(index._ref_points[row], np.float32).data)
            index._ref_points[row] = _NO_POINTS
        self.rows_written = len(index._ref_points)
        while True:
            held = {n: c.ntotal for n, c in index._catalogues.items() if n in self.templates}
            if sum(held.values()) <= self.limit:
                return
            self._write_shard(index, max(held, key=held.__getitem__))

    def _write_shard(self, index: MatchIndex, name: str) -> None:
        catalogue = index._catalogues[name]
        number = self.shards.get(name, 0)
        _write_faiss(self.archive, f"faiss_{name}.{number}", catalogue.index)
        self.shards[name] = number + 1
        catalogue.shards = [faiss.clone_index(self.templates[name])]
        _release_freed_memory()

    def finish(self, index: MatchIndex) -> None:
        """Write the catalogues still held, the reference table and the keypoints."""
        for name, catalogue in index._catalogues.items():
            if name not in self.shards:
                # Never spilled: the one member an unsharded save writes.
                _write_faiss(self.archive, f"faiss_{name}", catalogue.index)
            elif catalogue.ntotal:
                self._write_shard(index, name)

        def copy_points(handle: _CountingWriter) -> None:
            self.points.seek(0)
            while block := self.points.read(1 << 24):
                handle.write(block)

        live = np.arange(len(index._ref_ids), dtype=np.int64)
        index._write_tables(self.archive, live, self.shards, copy_points)


_NO_POINTS = np.zeros((0, 2), np.float32)


def _reader(
    records: Sequence[Record] | Callable[[], Iterable[Record]],
) -> Callable[[], Iterable[Record]]:
    """Return a function that reads the records afresh each time it is called."""
    if isinstance(records, Iterator):
        raise TypeError("records are read twice: pass a sequence or a function")
    return records if callable(records) else lambda: records


def _write_faiss(archive: zipfile.ZipFile, name: str, index: faiss.Index) -> None:
    """Write a faiss index as an .npy member of uint8, straight from faiss to the file."""
    size = _serialised_size(index)
    with _npy_member(archive, name, np.uint8, (size,)) as handle:
        faiss.write_index(index, faiss.PyCallbackIOWriter(handle.write))


class _Reservoir:
    """A uniform random sample of at most `size` rows of a stream of uint8 descriptors.

    Vitter's algorithm R, a block of rows at a time: the first `size` rows are kept,
    then row number i (from 0) replaces a random kept row with probability size/(i+1).
    """

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng
        self.seen = 0
        # Pages of an empty array are only taken as rows are written.
        self.rows = np.empty((size, DIM), np.uint8)

    def add(self, descriptors: np.ndarray) -> None:
        fill = max(0, min(len(descriptors), self.size - self.seen))
        self.rows[self.seen : self.seen + fill] = descriptors[:fill]
        rest = descriptors[fill:]
        if len(rest):
            positions = self.seen + fill + np.arange(len(rest), dtype=np.int64)
            slots = self.rng.integers(0, positions + 1)
            keep = slots < self.size
            # A slot drawn twice ends with the later row, as one row at a time would.
            self.rows[slots[keep]] = rest[keep]
        self.seen += len(descriptors)

    def float_sample(self) -> np.ndarray:
        """Return the sample as the float descriptors the index holds."""
        return self.rows[: min(self.seen, self.size)].astype(np.float32) / DESCRIPTOR_SCALE


def _load_malloc_trim() -> Callable[[int], int] | None:
    """Return glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_malloc_trim()


def _release_freed_memory() -> None:
    """Hand the pages of freed heap blocks back to the system, where glibc can.

    faiss grows an inverted list by moving it to a block twice the size. As a build adds
    chunk after chunk, all lists grow together, so the blocks they leave behind are too
    small for the next growth and stay resident although free: a fifth of the lists'
    memory in a measurement (bench/README.md). malloc_trim(0) gives those pages back.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


def _serialised_size(index: faiss.Index) -> int:
    """Return the bytes faiss writes for an index, counted without keeping them."""
    total = 0

    def count(data: bytes) -> None:
        nonlocal total
        total += len(data)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total


@contextlib.contextmanager
def _npy_member(
    archive: zipfile.ZipFile, name: str, dtype: type, shape: tuple[int, ...]
) -> Iterator[_CountingWriter]:
    """Open an .npy member of a zip archive whose data the caller writes; check its size."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False}
    expected = math.prod(shape) * np.dtype(dtype).itemsize
    with archive.open(f"{name}.npy", "w", force_zip64=True) as handle:
        np.lib.format.write_array_header_2_0(handle, {**header, "shape": shape})
        writer = _CountingWriter(handle)
        yield writer
        if writer.written != expected:
            raise RuntimeError(f"{name}: wrote {writer.written} bytes, not {expected}")


class _CountingWriter:
    """A file's write() that counts the bytes (a zip member cannot tell its position)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.written = 0

    def write(self, data: bytes | memoryview) -> None:
        self.handle.write(data)
        self.written += memoryview(data).nbytes


def _skip_npy_header(handle: BinaryIO) -> None:
    """Move an open .npy stream past its header, to the first byte of its data."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        np.lib.format.read_array_header_1_0(handle)
    else:
        np.lib.format.read_array_header_2_0(handle)


def _json_label(value: object) -> Label:
    """Return a label read back from JSON (lists become tuples so they stay hashable)."""
    return tuple(value) if isinstance(value, list) else value  # type: ignore[return-value]
