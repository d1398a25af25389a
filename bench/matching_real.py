"""Check re-identification on the 22 real snow-leopard photos in ../shared.

Each of the six right_Cat1 photos is queried against the 21 other photos, whatever
their side, and must rank another right_Cat1 photo first. Every other photo gets an
individual of its own (they are unlabelled), so a wrong first place is a real miss.

Photos of the query's own event (same station and camera, under 30 minutes apart) are
left out, as the registry never matches a sighting against its own event: the
right_diff_cats photo taken 6 s after right_Cat1 at Station14 is that same visit.

    python bench/matching_real.py [--data DIR] [--backend disk|xfeat] [--top-k 3]
        [--disk-weight 1]
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leopards.matching.evaluate import LabelledBox, read_labels, run_queries, summarise

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/snow-leopard-camtrap"


def write_labels(data: Path, out: Path) -> Path:
    """Write a labels CSV for the photos from their Pascal VOC boxes."""
    labels = out / "labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "individual_id", "side", "bbox_x", "bbox_y", "bbox_w", "bbox_h"])
        for photo in sorted(data.glob("*.JPG")):
            box = ET.parse(photo.with_suffix(".xml")).find(".//bndbox")
            x0, y0, x1, y1 = (int(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            individual = "Cat1" if photo.name.startswith("right_Cat1__") else photo.stem
            side = photo.name.split("_", 1)[0]
            writer.writerow([str(photo), individual, side, x0, y0, x1 - x0, y1 - y0])
    return labels


_NAME = re.compile(r"__(Station\d+)__(Camera\d+)__([\d-]+)__(\d+)-(\d+)-(\d+)_")


def _event_key(box: LabelledBox) -> tuple[str, str, str, int]:
    station, camera, day, hour, minute, second = _NAME.search(box.path.name).groups()
    return station, camera, day, int(hour) * 3600 + int(minute) * 60 + int(second)


def same_event(a: LabelledBox, b: LabelledBox) -> bool:
    """Tell whether two photos are one event: same camera, under 30 minutes apart."""
    ka, kb = _event_key(a), _event_key(b)
    return ka[:3] == kb[:3] and abs(ka[3] - kb[3]) < 30 * 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--shortlist-only", action="store_true", help="skip the learned second stage"
    )
    parser.add_argument("--backend", choices=["disk", "xfeat"], default="disk")
    parser.add_argument("--top-k", type=int, default=3, help="individuals re-ranked")
    parser.add_argument(
        "--disk-weight",
        type=float,
        default=0.0,
        help="fuse DISK-LNBNN votes into the shortlist (MATCH_FIRST_STAGE_DISK_WEIGHT)",
    )
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"{args.data} is absent: nothing to measure.")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        boxes = read_labels(write_labels(args.data, Path(tmp)))
    second = None if args.shortlist_only else {"top_k": args.top_k, "refs_per_individual": 1}
    pairs: dict = {}
    results, timings = run_queries(
        boxes,
        ignore_side=True,
        same_event=same_event,
        open_set=True,
        second_stage=second,
        pair_cache=pairs,
        learned_backend=args.backend,
        disk_weight=args.disk_weight,
    )
    if second:
        from leopards.matching import rerank as rerank_module

        def again(order, gate):
            saved = rerank_module.learned_score
            rerank_module.learned_score = order
            try:
                for result in results:
                    if not result.open_set:
                        i = boxes.index(result.box)
                        ranked = rerank_module.rerank(
                            result.shortlist,
                            _Cached(),
                            lambda refs: {},
                            cache=pairs[i],
                            min_overtake=gate,
                            **second,
                        )
                        yield next(
                            (
                                p + 1
                                for p, c in enumerate(ranked)
                                if c.individual_id == result.box.individual_id
                            ),
                            None,
                        )
            finally:
                rerank_module.learned_score = saved

        for name, order in ORDERS.items():
            for gate in (0, 20, 30):
                print(f"order {name}, overtake at {gate}: ranks of Cat1 {list(again(order, gate))}")
    failures = 0
    engines = [("shortlist", lambda r: r.shortlist or r.candidates)]
    if second:
        engines.append(("shortlist + learned re-rank", lambda r: r.candidates))
    for name, ranking in engines:
        print(f"{name}: query -> top 3 individuals (votes, inliers; learned inliers)")
        for result in results:
            if result.open_set:
                continue
            top = ranking(result)[:3]
            position = next(
                (
                    p + 1
                    for p, c in enumerate(ranking(result))
                    if c.individual_id == result.box.individual_id
                ),
                None,
            )
            ok = position == 1
            failures += not ok and ranking is engines[-1][1]
            shown = ", ".join(
                f"{str(c.individual_id)[:24]} {c.score:.2f} ({c.inliers}; {c.learned_inliers})"
                for c in top
            )
            print(
                f"{'PASS' if ok else 'FAIL'} rank={position} {result.box.path.name[:40]}: {shown}"
            )
    summary = summarise(results, len(boxes))
    print(
        f"queries={summary['queries']} rank1={summary['rank1']:.3f} "
        f"median_query_s={summary['median_query_s']:.3f} "
        f"extract_s_per_box={timings['extract_s_per_box']:.3f} "
        f"learned_extract_s_per_box={timings.get('learned_extract_s_per_box', 0):.3f}"
    )
    if second:
        fused = catalogue_calibration()
        for result in results:
            probability, new = fused.assess(result.candidates)
            kind = "stranger" if result.open_set else "catalogued"
            print(
                f"{kind:10} p={probability:.3f} {'NEW' if new else 'kept'} "
                f"{result.box.path.name[:40]}"
            )
    return 1 if failures else 0


class _Cached:
    """Stands for a query whose pair results are all in the cache."""

    def __len__(self) -> int:
        return 1


ORDERS = {
    "learned inliers + log votes": lambda c: c.learned_inliers + math.log1p(max(c.score, 0)),
    "learned confidence + log votes": lambda c: c.learned_confidence + math.log1p(max(c.score, 0)),
    "learned + SIFT inliers": lambda c: c.learned_inliers + c.inliers + 0.01 * c.score,
    "learned confidence + SIFT inliers": lambda c: (
        c.learned_confidence + c.inliers + 0.01 * c.score
    ),
}


def catalogue_calibration():
    """Return the shipped calibration."""
    from leopards.matching.calibration import load_default

    return load_default()


if __name__ == "__main__":
    raise SystemExit(main())
