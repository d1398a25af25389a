"""The pair check with learned whitening of DISK descriptors, on held-out nyala animals.

leopards.matching.whitening projects DISK's descriptors so that matched coat patches
lie closer. Here it is fitted and scored in 5 folds split by individual
(first_stage_nyala.folds_by_individual, as every nyala bench splits them):

1. the matched pairs: every two photos of one flank of one animal are checked by the
   engine's pair check (verify.inlier_pairs, DISK's own descriptors); a pair with at
   least --min-inliers inliers gives its inliers' two descriptors;
2. for each fold, a projection fitted on the other four folds' pairs (whitening.fit),
   for each of --dimensions, written to --work as whitening-fold{F}-d{D}.npz (read by
   bench/nyala_probability.py --whitening d{D}); with --rounds R, the pairs are found
   again by the check with the last round's projection and fitted again, R times
   (whitening-fold{F}-d{D}r{R}.npz);
   With --learned EPOCHS, the last of --dimensions' projection is then trained further
   (torch, Adam) so that each inlier's nearest neighbour among the other box's
   KEYPOINTS is its match (a cross-entropy over the similarities, both ways: InfoNCE),
   written as whitening-fold{F}-l{D}e{EPOCHS}t{T}.npz;
3. each leave-one-out query of the fold is checked again by verify.verify with its
   fold's projection, on the fused shortlist (first_stage_nyala.py's SIFT and masked
   DISK shortlists), beside the same check on DISK's own descriptors.

It prints rank-1 at 1 / 2 (what the learned matcher compares) / 4 and MRR for each,
the queries won and lost against DISK's own descriptors with the sign test's p, and
the check's CPU time per query (its 40 pairs, projections included) beside DISK's own.

    nice python bench/whitening_nyala.py --cache C --work W --shard 0/2   # and 1/2
    python bench/whitening_nyala.py --cache C --work W

The photos are read from ../shared and never copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from first_stage_nyala import folds_by_individual, fuse, sign_test
from matching_nyala import (
    DEFAULT_DATA,
    cached,
    labelled_photos,
    leave_one_out_queries,
    read_shards,
    save,
)
from nyala_probability import FUSION_WEIGHT
from rerank_nyala import read_shortlists, selected_features

from leopards.matching import verify, whitening
from leopards.matching.learned import network_of


def flanks(ids: list, sides: list, animals: set | None = None) -> list[tuple]:
    """Return [(animal, its photos of one flank)] for every flank, or those of animals."""
    photos_of: dict = {}
    for i, key in enumerate(zip(ids, sides, strict=True)):
        if animals is None or ids[i] in animals:
            photos_of.setdefault(key, []).append(i)
    return [(animal, photos) for (animal, _side), photos in photos_of.items()]


def matched_descriptors(
    features: list,
    ids: list,
    sides: list,
    min_inliers: int,
    projection: whitening.Whitening | None = None,
    animals: set | None = None,
) -> dict:
    """Return {individual: (first, second)}: the inliers' descriptors of every two photos
    of one of its flanks whose check (with projection, if given) found at least
    min_inliers; of every animal, or of those in animals."""
    found: dict = {}
    for animal, photos in flanks(ids, sides, animals):
        pairs = ((features[a], features[b]) for a, b in itertools.combinations(photos, 2))
        first, second, kept = verify.matched_descriptors(pairs, min_inliers, projection)
        if kept:
            found.setdefault(animal, []).append((first, second))
    return {
        animal: (np.concatenate([f for f, _s in parts]), np.concatenate([s for _f, s in parts]))
        for animal, parts in found.items()
    }


def fit_rounds(
    matched: dict, animals: set, d: int, rounds: int, refind, model: str, min_inliers: int
) -> list:
    """Return the projection of each round, fitted on the pairs of these animals: the first
    round's as found by DISK's own descriptors, each later round's found again by the
    check with the last projection (refind(projection, animals) -> matched)."""
    fitted = []
    training = {animal: pair for animal, pair in matched.items() if animal in animals}
    for _round in range(rounds):
        if fitted:
            training = refind(fitted[-1], animals)
        fitted.append(
            whitening.fit(
                np.concatenate([f for f, _s in training.values()]),
                np.concatenate([s for _f, s in training.values()]),
                model=model,
                dimensions=d,
                fitted_on=(
                    f"nyala-train: the pair check's inliers between photos of one flank "
                    f"(at least {min_inliers}), {len(training)} animals"
                    + (f", found with round {len(fitted)}'s projection" if fitted else "")
                ),
            )
        )
    return fitted


def pair_indices(features: list, ids: list, sides: list, min_inliers: int) -> list:
    """Return [(animal, a, b, kept)]: every two photos a, b of one flank whose check found
    at least min_inliers, with the inliers' keypoint indices kept (n, 2)."""
    found = []
    for animal, photos in flanks(ids, sides):
        for a, b in itertools.combinations(photos, 2):
            kept = verify.inlier_pairs(features[a], features[b])
            if len(kept) >= min_inliers:
                found.append((animal, a, b, kept))
    return found


def learned_projection(
    start: whitening.Whitening,
    groups: list,
    features: list,
    epochs: int,
    temperature: float,
    rate: float,
) -> whitening.Whitening:
    """Return start's projection trained so that each inlier's nearest neighbour among
    the other box's keypoints is its match: a cross-entropy over the similarities of
    each inlier to all of the other box's first KEYPOINTS, both ways (InfoNCE)."""
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    keypoints = verify.KEYPOINTS
    used = sorted({a for _n, a, _b, _k in groups} | {b for _n, _a, b, _k in groups})
    described = {
        i: torch.from_numpy(features[i].descriptors[:keypoints].astype(np.float32)) for i in used
    }
    mean = torch.from_numpy(start.mean)
    weights = torch.nn.Parameter(torch.from_numpy(start.projection.copy()))
    optimiser = torch.optim.Adam([weights], lr=rate)
    for epoch in range(epochs):
        total = 0.0
        for g in rng.permutation(len(groups)):
            _animal, a, b, kept = groups[g]
            qa = torch.nn.functional.normalize((described[a] - mean) @ weights, dim=1)
            qb = torch.nn.functional.normalize((described[b] - mean) @ weights, dim=1)
            ia, ib = torch.from_numpy(kept[:, 0]), torch.from_numpy(kept[:, 1])
            loss = torch.nn.functional.cross_entropy(
                qa[ia] @ qb.T / temperature, ib
            ) + torch.nn.functional.cross_entropy(qb[ib] @ qa.T / temperature, ia)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
        print(f"  epoch {epoch + 1}: loss {total / len(groups):.3f}", flush=True)
    return dataclasses.replace(start, projection=weights.detach().numpy().astype(np.float32))


def fold_projections(
    matched: dict, fold_of: dict, args, refind, model: str, trainable: tuple | None = None
) -> dict[tuple[int, str], whitening.Whitening]:
    """Fit (and write to --work) each fold's projections on the other folds' animals;
    with trainable (pair_indices' pairs, the features), train the last one further."""
    projections = {}
    for fold, d in itertools.product(sorted(set(fold_of.values())), args.dimensions):
        others = {animal for animal, f in fold_of.items() if f != fold}
        rounds = fit_rounds(matched, others, d, args.rounds, refind, model, args.min_inliers)
        for number, fitted in enumerate(rounds):
            name = f"d{d}" + (f"r{number + 1}" if number else "")
            fitted.save(args.work / f"whitening-fold{fold}-{name}.npz")
            projections[fold, name] = fitted
        if trainable and d == args.dimensions[-1]:
            pairs, features = trainable
            groups = [g for g in pairs if g[0] in others]
            name = f"l{d}e{args.learned}t{args.temperature:g}"
            print(f"fold {fold}: {name} on {len(groups)} pairs", flush=True)
            trained = learned_projection(
                rounds[0], groups, features, args.learned, args.temperature, args.rate
            )
            trained.save(args.work / f"whitening-fold{fold}-{name}.npz")
            projections[fold, name] = trained
    return projections


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/nyala"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/first-stage"))
    parser.add_argument("--dimensions", type=int, nargs="+", default=[32, 48, 64])
    parser.add_argument("--min-inliers", type=int, default=whitening.MIN_INLIERS)
    parser.add_argument(
        "--references", type=int, default=verify.REFERENCES, help="of each individual checked"
    )
    parser.add_argument(
        "--keypoints", type=int, default=verify.KEYPOINTS, help="of each box, in the check"
    )
    parser.add_argument(
        "--top-n",
        type=int,
        default=verify.TOP_N,
        help="the shortlist's first individuals checked (the engine's MATCH_VERIFY_TOP_N)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="find the pairs again with the last round's projection and refit, this often",
    )
    parser.add_argument(
        "--learned",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="also train the last of --dimensions' projection this many epochs (InfoNCE)",
    )
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=1e-3)
    parser.add_argument("--shard", default="", help="K/N: check every Nth query, then stop")
    parser.add_argument(
        "--out",
        type=Path,
        help="fit one projection on every animal's pairs (the first of --dimensions), "
        "write it here and stop",
    )
    args = parser.parse_args()
    photos = labelled_photos(args.data)
    if photos is None:
        return 0
    paths, ids, sides = photos
    n = len(paths)
    queries = leave_one_out_queries(ids, sides)
    fold_of = folds_by_individual(ids)
    counts_path = args.work / (
        f"whitened-checks-{n}-m{args.min_inliers}-r{args.references}"
        + (f"-k{args.keypoints}" if args.keypoints != verify.KEYPOINTS else "")
        + (f"-n{args.top_n}" if args.top_n != verify.TOP_N else "")
        + ".pkl"
    )
    if args.shard or args.out:
        features = selected_features(args.cache, paths)
        model = network_of(features[0].model)
        started = time.process_time()
        matched = cached(
            args.work / f"whitening-pairs-{n}-m{args.min_inliers}.pkl",
            lambda: matched_descriptors(features, ids, sides, args.min_inliers),
        )
        print(
            f"{sum(len(f) for f, _s in matched.values())} matched descriptors of "
            f"{len(matched)} animals, {time.process_time() - started:.0f} CPU s",
            flush=True,
        )

        trainable = None
        if args.learned:
            pairs = cached(
                args.work / f"whitening-pair-indices-{n}-m{args.min_inliers}.pkl",
                lambda: pair_indices(features, ids, sides, args.min_inliers),
            )
            trainable = (pairs, features)

        def refind(projection, animals):
            return matched_descriptors(features, ids, sides, args.min_inliers, projection, animals)

    if args.out:
        d = args.dimensions[0]
        fitted = fit_rounds(matched, set(ids), d, args.rounds, refind, model, args.min_inliers)[-1]
        fitted.save(args.out)
        print(f"{fitted.pairs} matched pairs: {model}, 128 to {d} -> {args.out}")
        return 0
    if args.shard:
        mine, shards = (int(v) for v in args.shard.split("/"))
        # The projections are fitted on the engine's check (KEYPOINTS) whatever is checked.
        projections = fold_projections(matched, fold_of, args, refind, model, trainable)
        shortlists = read_shortlists(args.work, n)
        verify.KEYPOINTS = args.keypoints
        found = {}
        started = time.process_time()
        for i in queries[mine::shards]:
            fused = fuse(shortlists["SIFT"][i], shortlists["DISK"][i], FUSION_WEIGHT)

            def load(refs: list) -> dict:
                return {r: features[r] for r in refs}

            found[i] = {}
            names = ["own", *sorted({name for _fold, name in projections})]
            for name in names:
                projection = projections.get((fold_of[ids[i]], name))
                begun = time.process_time()
                order = verify.verify(
                    fused,
                    features[i],
                    load,
                    whitening=projection,
                    references=args.references,
                    top_n=args.top_n,
                )
                found[i][name] = (
                    [(c.individual_id, c.verified_inliers) for c in order[: args.top_n]],
                    time.process_time() - begun,
                )
        spent = time.process_time() - started
        print(f"{len(found)} queries, {spent / max(1, len(found)):.2f} CPU s each (all variants)")
        save(counts_path.with_suffix(f".shard{mine}.pkl"), found)
        return 0

    found = read_shards(counts_path)
    missing = [i for i in queries if i not in found]
    if missing:
        print(f"{len(missing)} queries have no check yet: run --shard K/N first.")
        return 1

    def position(order: list, i: int) -> int:
        return next((p for p, (animal, _n) in enumerate(order, 1) if animal == ids[i]), 10**6)

    names = list(found[queries[0]])
    ranks = {name: np.array([position(found[i][name][0], i) for i in queries]) for name in names}
    cpu = {name: np.array([found[i][name][1] for i in queries]) for name in names}
    own = ranks["own"] == 1
    print(f"{len(queries)} leave-one-out queries, 5 folds by animal\n")
    print(
        "| descriptors in the check | R@1 / @2 / @4 | MRR | won / lost vs DISK's own | p "
        "| CPU s a query, p50 / p95 (x DISK's own) |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, r in ranks.items():
        firsts = r == 1
        won, lost = int((firsts & ~own).sum()), int((own & ~firsts).sum())
        d, _, round_ = name[1:].partition("r")
        label = "DISK's own (128)" if name == "own" else f"whitened, {d} dimensions"
        label += f", round {round_}" if round_ else ""
        if name.startswith("l"):
            d, _, trained = name[1:].partition("e")
            label = f"whitened, {d} dimensions, then trained (InfoNCE; epochs e{trained})"
        at = " / ".join(f"{np.mean(r <= k):.3f}" for k in (1, 2, 4))
        p50, p95 = np.percentile(cpu[name], [50, 95])
        ratio = p50 / np.percentile(cpu["own"], 50)
        print(
            f"| {label} | {at} | {np.mean(1 / r):.3f} | +{won} / -{lost} | "
            f"{sign_test(won, lost):.3g} | {p50:.3f} / {p95:.3f} ({ratio:.2f}x) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
