"""First stages side by side on all nyala flanks: SIFT-LNBNN, DISK-LNBNN, and the two fused.

The shortlist limits what any second stage can reach: on all nyala photos the animal
is among SIFT-LNBNN's first 3 individuals for 29 % of the queries. This bench asks
whether the DISK descriptors that the second stage already stores (384 px, every
keypoint inside the GrabCut mask) rank the whole catalogue better when they are
searched and voted on exactly like SIFT's (HotSpotter with a learned descriptor):
the same faiss index (leopards.matching.index), the same LNBNN votes, per-reference
scores and affine check (leopards.matching.scoring.rank), the query's own photo left
out. DISK descriptors are unit vectors with components in [-0.45, 0.45]; they enter
the uint8 index shifted and scaled (leopards.matching.fusion.as_index_features, the
engine's conversion): a shift and one scale leave the distances' order as it was,
and the rounding (1/280) is small beside them.

The two shortlists are fused per query, each individual's votes divided by the
query's best one in that shortlist, then added with a weight on DISK's; and by
reciprocal rank fusion. Global descriptors pooled from the same masked DISK
features (mean, VLAD) rank beside them. The fused shortlist is then re-ranked by the
engine's second stage (leopards.matching.rerank, DISK + LightGlue on the first
--top-k), beside today's SIFT shortlist re-ranked the same way, on the same queries
(every --rerank-every-th one: a LightGlue pair costs 0.25-0.3 CPU s).

    nice python bench/first_stage_nyala.py [--data DIR] [--cache /work/cache/nyala] \
        [--top-k 3] [--rerank-every 4] [--evaluate-only]

Processes beside each other: --only NAME computes one first stage's shortlists,
--pair-shard K/N every Nth LightGlue pair; a run without them merges what they left.
--extract-shard K/N extracts every Nth photo's features (sift, mask, DISK) into
files of their own and stops; the next run folds them into the cache.

--disk-voices 384x1024 512x512 ... adds DISK voices of other sizes (the extraction's
long side x the masked keypoints kept) beside the engine's 384 x 2,048, each alone and
fused with SIFT at every --weights. One extraction per long side serves all its
voices: it keeps the 2 x k strongest keypoints of the largest k asked, and a voice of
fewer takes the strongest 2 x k of them before the mask, as an extraction at k would
(DISK picks its keypoints by a score threshold, so the strongest n of a larger
extraction are the n it would have kept). --first-stage-only ranks and stops: no
LightGlue pairs, no unmasked DISK, no global descriptors; its table is the one that
shows the voices.

Features come from the cache that bench/second_stage_subset.py fills (sift, mask,
disk-384-512, or disk-SIDE-K of the largest K a side's voices ask); missing ones are
extracted. The photos are read from ../shared and
never copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import pickle
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching_nyala import (
    DEFAULT_DATA,
    cached,
    labelled_rows,
    leave_one_out_queries,
    read_shards,
    save,
)
from second_stage_subset import per_photo

from leopards.matching import disk as disk_lightglue
from leopards.matching import foreground
from leopards.matching.extraction import sift_features
from leopards.matching.features import Features
from leopards.matching.foreground import foreground_mask
from leopards.matching.fusion import as_index_features
from leopards.matching.index import MatchIndex
from leopards.matching.learned import PairMatch
from leopards.matching.rerank import rerank
from leopards.matching.scoring import Candidate, rank

RECALL_AT = (1, 2, 3, 5, 8, 10, 20)
RRF_OFFSET = 60  # Cormack et al. 2009


def normalised(shortlist: list[Candidate]) -> dict:
    """Return {individual: votes / the query's best votes} of one shortlist."""
    top = max((c.score for c in shortlist), default=0.0)
    return {c.individual_id: c.score / top for c in shortlist} if top > 0 else {}


def fuse(sift: list[Candidate], disk: list[Candidate], weight: float) -> list[Candidate]:
    """Order the union of both shortlists by normalised SIFT votes + weight x DISK's.

    Each candidate keeps SIFT's affine inliers (what the second stage's order adds to
    its learned evidence) and DISK's best reference first, the one LightGlue compares.
    """
    a, b = normalised(sift), normalised(disk)
    by_sift = {c.individual_id: c for c in sift}
    by_disk = {c.individual_id: c for c in disk}
    fused = []
    for ind in {*a, *b}:
        s, d = by_sift.get(ind), by_disk.get(ind)
        refs = tuple(dict.fromkeys([*(d.references if d else ()), *(s.references if s else ())]))
        base = s or d
        fused.append(
            dataclasses.replace(
                base,
                score=a.get(ind, 0.0) + weight * b.get(ind, 0.0),
                best_reference_id=(d or s).best_reference_id,
                references=refs,
                inliers=s.inliers if s else 0,
            )
        )
    fused.sort(key=lambda c: c.score, reverse=True)
    return fused


def reciprocal_rank_fusion(*shortlists: list[Candidate]) -> list:
    """Return the individuals ordered by the sum of 1 / (RRF_OFFSET + rank)."""
    score: dict = {}
    for shortlist in shortlists:
        for position, c in enumerate(shortlist, 1):
            score[c.individual_id] = score.get(c.individual_id, 0.0) + 1 / (RRF_OFFSET + position)
    return sorted(score, key=score.get, reverse=True)


def vlad(descriptors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Return the VLAD vector of one photo's descriptors (Jegou et al. 2010; intra- and
    power-normalised as Arandjelovic and Zisserman 2013), unit length."""
    out = np.zeros_like(centroids)
    if len(descriptors):
        x = descriptors.astype(np.float32)
        nearest = np.argmin(((x[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
        np.add.at(out, nearest, x - centroids[nearest])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0).ravel()
    out = np.sign(out) * np.sqrt(np.abs(out))
    return out / max(float(np.linalg.norm(out)), 1e-12)


def global_shortlist(vectors: np.ndarray, i: int, ids: list, sides: list) -> list:
    """Return the individuals of the query's flank by their best photo's cosine, query left out."""
    similarity = vectors @ vectors[i]
    best: dict = {}
    for j in np.argsort(-similarity):
        if j != i and sides[j] == sides[i] and ids[j] not in best:
            best[ids[j]] = float(similarity[j])
    return list(best)


def sign_test(won: int, lost: int) -> float:
    """Two-sided exact sign test of won against lost (ties left out)."""
    n = won + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(won, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


def folds_by_individual(ids: list, folds: int = 5) -> dict:
    """Return {individual: fold}: the animals dealt in turn, sorted by their id."""
    return {individual: k % folds for k, individual in enumerate(sorted(set(ids), key=str))}


def held_out_weights(score_of, weights: list[float], queries: list[int], fold_of: list[int]):
    """Choose a weight for each fold on the other folds' queries (the best mean score_of).

    score_of(weight, i) scores query i's fused shortlist at that weight. Returns
    ({query: the weight chosen without its fold}, {fold: weight}).
    """
    chosen = {}
    for fold in sorted({fold_of[i] for i in queries}):
        fitting = [i for i in queries if fold_of[i] != fold]
        chosen[fold] = max(weights, key=lambda w: np.mean([score_of(w, i) for i in fitting]))
    return {i: chosen[fold_of[i]] for i in queries}, chosen


def voice_size(text: str) -> tuple[int, int]:
    """Return the (long side, keypoints) that a SIDExKEYPOINTS argument names."""
    side, keypoints = (int(v) for v in text.lower().split("x"))
    return side, keypoints


def voice_name(size: tuple[int, int], sizes: list[tuple[int, int]]) -> str:
    """Return the name of a voice of this size (the engine's, sizes[0], is "DISK masked")."""
    return "DISK masked" if size == sizes[0] else f"DISK masked {size[0]}x{size[1]}"


def voice_sizes(voices: list[str]) -> list[tuple[int, int]]:
    """Return the (long side, keypoints) of the engine's DISK voice and of the voices asked."""
    engine = (disk_lightglue.DEFAULT_LONG_SIDE, disk_lightglue.STORED_KEYPOINTS)
    return list(dict.fromkeys([engine, *map(voice_size, voices)]))


def extractions(sizes: list[tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Return {cache name: (long side, keypoints)}: one extraction per side, at its most."""
    most: dict[int, int] = {}
    for side, keypoints in sizes:
        most[side] = max(most.get(side, 0), keypoints)
    return {f"disk-{side}-{keypoints}": (side, keypoints) for side, keypoints in most.items()}


def strongest(raw: dict, keypoints: int) -> dict:
    """Return an extraction cut to what one at `keypoints` keeps: its 2 x k strongest."""
    return {
        **raw,
        "keypoints": raw["keypoints"][: 2 * keypoints],
        "descriptors": raw["descriptors"][: 2 * keypoints],
    }


def merge_shards(cache: Path, name: str) -> None:
    """Fold the features that --extract-shard processes left into name.pkl."""
    shard_files = sorted(cache.glob(f"{name}.shard*.pkl"))
    if not shard_files:
        return
    known = cached(cache / f"{name}.pkl", dict)
    for shard_file in shard_files:
        with shard_file.open("rb") as handle:
            known = {**pickle.load(handle), **known}
    known.pop("_cpu_s", None)
    save(cache / f"{name}.pkl", known)
    for shard_file in shard_files:
        shard_file.unlink()


def pairs_of_this_process(todo: list, pair_path: Path, args) -> tuple[list, Path]:
    """Return the pairs this process matches (every Nth with --pair-shard K/N, none with
    --evaluate-only) and the file it saves them to (its shard's own with --pair-shard)."""
    if args.evaluate_only:
        return [], pair_path
    if not args.pair_shard:
        return todo, pair_path
    mine, shards = (int(v) for v in args.pair_shard.split("/"))
    return todo[mine::shards], pair_path.with_name(f"{pair_path.stem}.shard{mine}.pkl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/nyala"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N individuals")
    parser.add_argument("--top-k", type=int, default=3, help="individuals the re-rank compares")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument(
        "--rerank-weights",
        nargs="+",
        default=[],
        type=lambda v: tuple(v.split("=")),
        metavar="SIDExKEYPOINTS=WEIGHT",
        help="voices whose fused shortlist the second stage re-ranks, each with its weight "
        "(default: the engine's voice at 1)",
    )
    parser.add_argument(
        "--rerank-every",
        type=int,
        default=1,
        help="re-rank every Nth query only (the table then has the shortlists on the same ones)",
    )
    parser.add_argument("--pair-shard", default="", help="K/N: match every Nth missing pair")
    parser.add_argument(
        "--extract-shard",
        default="",
        help="K/N: extract every Nth photo's features (sift, mask, DISK) into files of its "
        "own, then stop; a run without it merges them",
    )
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument(
        "--disk-voices",
        nargs="+",
        default=[],
        metavar="SIDExKEYPOINTS",
        help="more masked DISK voices beside the engine's 384x2048, e.g. 384x512 512x1024",
    )
    parser.add_argument(
        "--first-stage-only",
        action="store_true",
        help="rank SIFT and the masked DISK voices only: no re-rank, unmasked DISK or global",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        help="compute these first stages' shortlists (SIFT, DISK masked, DISK unmasked, "
        "DISK masked SIDExK), and nothing else",
    )
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/first-stage"), help="this bench's own results"
    )
    args = parser.parse_args()
    rows = labelled_rows(args.data, args.limit)
    if rows is None:
        return 0
    import cv2
    import faiss
    import torch

    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    paths = [args.data / r["path"] for r in rows]
    ids = [r["individual_id"] for r in rows]
    sides = [r["side"] for r in rows]
    n = len(rows)
    sizes = voice_sizes(args.disk_voices)
    disk_extractions = extractions(sizes)
    extractors = {
        name: lambda p, side=side, keypoints=keypoints: disk_lightglue.extract_raw(
            p, long_side=side, keypoints=keypoints
        )
        for name, (side, keypoints) in disk_extractions.items()
    }
    # As the engine extracts a box (leopards.matching.extraction): the outline first,
    # then SIFT inside it when ISNet cut it.
    outlined = foreground.method() == foreground.ISNET
    known_masks: dict = {}

    def sift_of(photo: Path) -> bytes:
        mask = known_masks[str(photo)] if outlined else None
        return sift_features(photo, None, outlined, mask).to_bytes()

    extractors |= {"mask": foreground_mask, "sift": sift_of}
    if args.extract_shard:
        mine, shards = (int(v) for v in args.extract_shard.split("/"))
        for name in extractors:
            # Photos that the merged cache already holds are not extracted again.
            merged = args.cache / f"{name}.pkl"
            done = cached(merged, dict) if merged.exists() else {}
            if name == "mask":
                known_masks.update(done)
            todo = [p for p in paths[mine::shards] if str(p) not in done]
            del done
            if todo:
                found = per_photo(args.cache, f"{name}.shard{mine}", todo, extractors[name])
                if name == "mask":
                    known_masks.update(found)
        return 0
    for name in extractors:
        merge_shards(args.cache, name)
    masks = per_photo(args.cache, "mask", paths, foreground_mask)
    known_masks.update(masks)
    sift_known = per_photo(args.cache, "sift", paths, sift_of)
    sift = [Features.from_bytes(sift_known[str(p)]) for p in paths]
    query_features = {"SIFT": sift}
    voices: dict[str, list] = {}  # name: every photo's masked DISK features
    if args.only != ["SIFT"]:
        raw_of = {}
        for name, (side, most) in disk_extractions.items():
            known_raw = per_photo(args.cache, name, paths, extractors[name])
            raw_of[side] = (most, known_raw)
        for side, keypoints in sizes:
            most, known_raw = raw_of[side]
            name = voice_name((side, keypoints), sizes)
            voices[name] = [
                disk_lightglue.select(
                    strongest(known_raw[str(p)], keypoints), masks[str(p)], keypoints
                )
                for p in paths
            ]
            query_features[name] = [as_index_features(f) for f in voices[name]]
        disk_masked = voices["DISK masked"]
        side, keypoints = sizes[0][0], disk_lightglue.MATCH_KEYPOINTS
        disk_plain = [
            disk_lightglue.select(strongest(raw_of[side][1][str(p)], keypoints), None, keypoints)
            for p in paths
        ]
        if not args.first_stage_only:
            query_features["DISK unmasked"] = [as_index_features(f) for f in disk_plain]
    queries = leave_one_out_queries(ids, sides)

    def ranked_by(name: str) -> tuple[dict[int, list[Candidate]], list[float], tuple]:
        """Return every query's shortlist, each query's CPU s, and the index's cost."""
        print(f"  ranking with {name}", flush=True)
        features = query_features[name]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.process_time()
        index = MatchIndex.build([(i, ids[i], sides[i], features[i]) for i in range(n)])
        cost = (
            index.memory_bytes() / 2**20,
            time.process_time() - started,
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024,
        )
        # The faiss search's own share of each query's CPU time.
        searching = [0.0]
        search = index.search

        def timed_search(*a, **kw):
            started = time.process_time()
            try:
                return search(*a, **kw)
            finally:
                searching[0] += time.process_time() - started

        index.search = timed_search
        answers, spent, searched = {}, [], []
        for i in queries:
            started, searching[0] = time.process_time(), 0.0
            answers[i] = rank(index, features[i], sides[i], exclude_reference_ids=[i])
            spent.append(time.process_time() - started)
            searched.append(searching[0])
        return answers, spent, (*cost, searched)

    # Each engine's shortlists are kept for the next run (--only computes some of them in
    # a process of their own).
    known = {}
    rerank_weights = {voice_name(voice_size(v), sizes): float(w) for v, w in args.rerank_weights}
    rerank_weights = rerank_weights or {"DISK masked": 1.0}
    # The pairs need only the shortlists that they re-rank.
    re_ranked = ["SIFT", "DISK masked", *rerank_weights]
    for name in args.only or (dict.fromkeys(re_ranked) if args.pair_shard else query_features):
        slug = name.lower().replace(" ", "-")
        known[name] = cached(args.work / f"shortlists-{n}-{slug}.pkl", lambda: ranked_by(name))  # noqa: B023
    if args.only:
        return 0
    shortlists = {name: answers for name, (answers, _s, _c) in known.items()}
    seconds = {name: spent for name, (_a, spent, _c) in known.items()}
    memory = {name: cost for name, (_a, _s, cost) in known.items()}

    def position(order: list, i: int) -> int | None:
        return next((p + 1 for p, ind in enumerate(order) if ind == ids[i]), None)

    def ids_of(shortlist: list[Candidate]) -> list:
        return [c.individual_id for c in shortlist]

    def table(
        engines: dict[str, dict[int, list]],
        queries: list[int],
        against: str = "SIFT-LNBNN (today)",
    ) -> None:
        """Print each engine's recall and first places won / lost against one of them."""
        baseline = [position(engines[against][i], i) for i in queries]
        header = " | ".join(f"R@{k}" for k in RECALL_AT)
        print(
            f"| first stage | {header} | rank-1 | rank-5 | mAP | "
            f"first places won / lost against {against} (sign test p) |"
        )
        print("| --- |" + " ---: |" * (len(RECALL_AT) + 4))
        for name, orders in engines.items():
            row(name, [position(orders[i], i) for i in queries], baseline)

    def row(name: str, ranks: list, baseline: list) -> None:
        recall = " | ".join(
            f"{np.mean([r is not None and r <= k for r in ranks]):.3f}" for k in RECALL_AT
        )
        won = sum(r == 1 and b != 1 for r, b in zip(ranks, baseline, strict=True))
        lost = sum(r != 1 and b == 1 for r, b in zip(ranks, baseline, strict=True))
        print(
            f"| {name} | {recall} | {np.mean([r == 1 for r in ranks]):.3f} | "
            f"{np.mean([r is not None and r <= 5 for r in ranks]):.3f} | "
            f"{np.mean([1 / r if r else 0.0 for r in ranks]):.3f} | +{won} / -{lost} "
            f"({sign_test(won, lost):.2g}) |"
        )

    def costs(seconds: dict, memory: dict) -> None:
        for name, values in seconds.items():
            size, build_s, rss, *searched = memory[name]
            search = (
                f" (faiss search p50 {np.percentile(searched[0], 50):.3f} p95 "
                f"{np.percentile(searched[0], 95):.3f})"
                if searched
                else ""
            )
            print(
                f"{name}: query CPU s p50 {np.percentile(values, 50):.3f} p95 "
                f"{np.percentile(values, 95):.3f}{search}; index {size:.0f} MB, built in "
                f"{build_s:.1f} CPU s (peak RSS grew {rss:.0f} MB)"
            )

    fold_of_animal = folds_by_individual(ids)
    fold_of = [fold_of_animal[individual] for individual in ids]
    chosen_weights = {}

    def cross_validated(voice: str, chosen_for: list[int]) -> dict[int, list]:
        """Fuse each query with the weight its fold's four others rank best (mAP)."""

        scores = {
            (weight, i): position(
                ids_of(fuse(shortlists["SIFT"][i], shortlists[voice][i], weight)), i
            )
            for weight in args.weights
            for i in queries
        }

        def score_of(weight: float, i: int) -> float:
            found = scores[(weight, i)]
            return 1 / found if found else 0.0

        weight_of, chosen_weights[voice] = held_out_weights(
            score_of, args.weights, queries, fold_of
        )
        return {
            i: ids_of(fuse(shortlists["SIFT"][i], shortlists[voice][i], weight_of[i]))
            for i in chosen_for
        }

    print(
        f"{n} photos, {len(set(ids))} individuals, {len(queries)} leave-one-out queries; "
        f"mean keypoints SIFT {np.mean([len(f) for f in sift]):.0f}, "
        + ", ".join(f"{v} {np.mean([len(f) for f in fs]):.0f}" for v, fs in voices.items())
        + f", DISK unmasked {np.mean([len(f) for f in disk_plain]):.0f}"
    )
    for name, (side, _most) in disk_extractions.items():
        spent = raw_of[side][1].get("_cpu_s")
        if spent:
            print(
                f"  {name} extraction CPU s a photo: median {np.median(spent):.2f} of "
                f"{len(spent)} batches, p95 {np.percentile(spent, 95):.2f}"
            )
    if args.first_stage_only:
        engines = {"SIFT-LNBNN (today)": {i: ids_of(shortlists["SIFT"][i]) for i in queries}}
        for voice in voices:
            engines[f"DISK-LNBNN {voice.removeprefix('DISK ')}"] = {
                i: ids_of(shortlists[voice][i]) for i in queries
            }
            for weight in args.weights:
                engines[f"fused SIFT + {weight:g} x {voice}"] = {
                    i: ids_of(fuse(shortlists["SIFT"][i], shortlists[voice][i], weight))
                    for i in queries
                }
            engines[f"fused SIFT + w x {voice}, w chosen on the other folds"] = cross_validated(
                voice, queries
            )
        print()
        table(engines, queries)
        print(f"weights chosen by the other folds' mAP: {chosen_weights}")
        print()
        costs(seconds, memory)
        print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        return 0

    # The second stage's pairs: the first top-k of today's SIFT shortlist (re-ranked with
    # the engine voice's features) and of each --rerank-weights voice's fused shortlist,
    # matched between that voice's own features (LightGlue reads their strongest 512).
    fused_for_rerank = {
        voice: {i: fuse(shortlists["SIFT"][i], shortlists[voice][i], weight) for i in queries}
        for voice, weight in rerank_weights.items()
    }
    sampled = queries[:: args.rerank_every]
    pair_path = args.cache / f"pairs-{n}-{disk_lightglue.MODEL}.pkl"
    pairs = {**read_shards(pair_path), **cached(pair_path, dict)}
    sources = [("DISK masked", shortlists["SIFT"])]
    sources += [(voice, fused_for_rerank[voice]) for voice in rerank_weights]
    wanted = [
        (voice, i, source[i][level].best_reference_id)
        for level in range(args.top_k)
        for voice, source in sources
        for i in sampled
        if level < len(source[i]) and source[i][level].best_reference_id is not None
    ]
    todo = [pair for pair in dict.fromkeys(wanted) if pair not in pairs]
    todo, out_path = pairs_of_this_process(todo, pair_path, args)
    started, cpu = time.time(), time.process_time()
    for done, (voice, i, ref) in enumerate(todo, 1):
        found = disk_lightglue.match(voices[voice][i], voices[voice][ref])
        pairs[(voice, i, ref)] = (found.matches, found.inliers, found.confidence)
        if done % 50 == 0 or done == len(todo):
            save(out_path, pairs)
            print(
                f"  pairs {done}/{len(todo)}, {time.time() - started:.0f} s, "
                f"{(time.process_time() - cpu) / done:.2f} CPU s a pair",
                flush=True,
            )
    if args.pair_shard:
        return 0

    def reranked(shortlist: list[Candidate], i: int, voice: str) -> list[Candidate]:
        cache = {}
        for c in shortlist[: args.top_k]:
            found = pairs.get((voice, i, c.best_reference_id))
            if found is not None:
                cache[c.best_reference_id] = PairMatch(*found, np.zeros((0, 4), np.float32))
        heads = [dataclasses.replace(c, references=(c.best_reference_id,)) for c in shortlist]
        query = voices[voice][i]
        return rerank(heads, query, lambda refs: {}, top_k=args.top_k, cache=cache)

    engines: dict[str, dict[int, list]] = {
        "SIFT-LNBNN (today)": {i: ids_of(shortlists["SIFT"][i]) for i in queries},
        "DISK-LNBNN masked": {i: ids_of(shortlists["DISK masked"][i]) for i in queries},
        "DISK-LNBNN unmasked": {i: ids_of(shortlists["DISK unmasked"][i]) for i in queries},
    }
    for disk_name in ("DISK masked", "DISK unmasked"):
        for weight in args.weights:
            engines[f"fused SIFT + {weight:g} x {disk_name}"] = {
                i: ids_of(fuse(shortlists["SIFT"][i], shortlists[disk_name][i], weight))
                for i in queries
            }
        engines[f"reciprocal rank fusion, SIFT + {disk_name}"] = {
            i: reciprocal_rank_fusion(shortlists["SIFT"][i], shortlists[disk_name][i])
            for i in queries
        }

    # Global descriptors of the masked DISK features: pooled, one vector a photo. The
    # codebook is fitted on every photo's descriptors, queries' own included (no labels).
    sample = np.concatenate([f.descriptors for f in disk_masked]).astype(np.float32)
    pooled = np.array([f.descriptors.astype(np.float32).mean(axis=0) for f in disk_masked])
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    engines["global: mean-pooled DISK masked (cosine)"] = {
        i: global_shortlist(pooled, i, ids, sides) for i in queries
    }
    for words in (16, 64):
        kmeans = faiss.Kmeans(sample.shape[1], words, niter=20, seed=0)
        kmeans.train(np.ascontiguousarray(sample[:: max(1, len(sample) // (words * 256))]))
        vectors = np.array([vlad(f.descriptors, kmeans.centroids) for f in disk_masked])
        vlad_name = f"global: VLAD-{words} of DISK masked (cosine)"
        engines[vlad_name] = {i: global_shortlist(vectors, i, ids, sides) for i in queries}
        engines[f"reciprocal rank fusion, SIFT + DISK masked + VLAD-{words}"] = {
            i: reciprocal_rank_fusion(
                shortlists["SIFT"][i],
                shortlists["DISK masked"][i],
                [Candidate(ind, 0, 0, None, 0, None) for ind in engines[vlad_name][i]][:100],
            )
            for i in queries
        }

    print()
    table(engines, queries)
    print()
    costs(seconds, memory)
    if args.rerank_every > 1 or not args.evaluate_only:
        print(f"\nThe second stage on every {args.rerank_every}th query ({len(sampled)}):\n")
        second = {
            "SIFT-LNBNN (today)": engines["SIFT-LNBNN (today)"],
            f"SIFT-LNBNN + DISK re-rank of the first {args.top_k}": {
                i: ids_of(reranked(shortlists["SIFT"][i], i, "DISK masked")) for i in sampled
            },
        }
        for voice, weight in rerank_weights.items():
            fused = f"fused SIFT + {weight:g} x {voice}"
            second[fused] = {i: ids_of(fused_for_rerank[voice][i]) for i in sampled}
            second[f"{fused} + DISK re-rank of the first {args.top_k}"] = {
                i: ids_of(reranked(fused_for_rerank[voice][i], i, voice)) for i in sampled
            }
        table(second, sampled)
        if len(rerank_weights) > 1:
            # Against the last voice given: the engine's earlier one, when listed last.
            print()
            table(second, sampled, against=list(second)[-1])
    print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
