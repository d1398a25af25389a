"""CPU time of one DISK extraction, kornia's whole forward against cheaper variants.

One process, one thread: every photo is extracted by every variant in turn (the order
rotated from photo to photo), and each variant's keypoints and descriptors are compared
with kornia's DISK.forward on the same photo. The photos are never copied anywhere.

    python bench/disk_speed.py /work/shared/data/nyala-train --every 40 \\
        --variants plain,sparse,sparse-cl
    python bench/disk_speed.py /work/shared/data/nyala-train --peak-rss sparse
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from leopards.matching import disk
from leopards.matching.foreground import foreground_mask

# plain: kornia's DISK.forward, as before; -cl: the network in channels_last; -jit: traced,
# frozen and optimised by torch.jit; sparse: leopards.matching.disk.SparseDisk;
# sparse-conv: the same with its heatmap channel by the convolution routine instead.
VARIANTS = (
    "plain",
    "plain-cl",
    "plain-jit",
    "sparse",
    "sparse-conv",
    "sparse-cl",
    "sparse-jit",
    "sparse-jit-cl",
)


def traced(function, channels_last: bool):
    """A function of a padded image tensor, traced and frozen by torch.jit."""

    class Wrapper(torch.nn.Module):
        def forward(self, images):
            return function(images)

    example = torch.rand(1, 3, 256, 320)
    if channels_last:
        example = example.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(False), torch.no_grad():
        module = torch.jit.trace(Wrapper().eval(), example, check_trace=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(module.eval()))


def channels_last(function):
    return lambda images: function(images.contiguous(memory_format=torch.channels_last))


def build(name: str):
    """Return (runner, sparse): runner replaces disk's DISK (plain) or SparseDisk (sparse)."""
    extractor, _matcher = disk.models()
    if name.startswith("plain"):
        model = copy.deepcopy(extractor).requires_grad_(False)
        if name == "plain-cl":
            model = model.to(memory_format=torch.channels_last)
            forward = model.forward
            model.forward = lambda images, **kw: forward(
                images.contiguous(memory_format=torch.channels_last), **kw
            )
        elif name == "plain-jit":
            unet = traced(model.unet, channels_last=False)
            model.unet = unet
        return model, False
    model = copy.deepcopy(extractor).requires_grad_(False)
    if name.endswith("cl"):
        model = model.to(memory_format=torch.channels_last)
    sparse = disk.SparseDisk(model)
    dense = sparse.dense
    if "jit" in name:
        dense = traced(dense, channels_last=name.endswith("cl"))
    sparse.dense = channels_last(dense) if name.endswith("cl") else dense
    if name == "sparse-conv":
        conv = model.unet.path_up[-1].conv[-1]
        weight, bias = conv.weight[-1:], conv.bias[-1:]
        sparse.heatmap = lambda gated: torch.nn.functional.conv2d(gated, weight, bias, padding=2)
    return sparse, True


def run(name: str, runner, is_sparse: bool, path: str) -> tuple[float, dict]:
    if is_sparse:
        disk._sparse = (disk._models[0], runner)
    else:
        disk._models = (runner, disk._models[1])
    started = time.process_time()
    raw = disk.extract_raw(path, sparse_descriptors=is_sparse)
    return time.process_time() - started, raw


def compare(plain: dict, other: dict, mask) -> tuple[float, float, float]:
    """Share of plain's keypoints found, the same after selection, least cosine of shared."""
    shares = []
    for a, b in ((plain, other), (disk.select(plain, mask, 512), disk.select(other, mask, 512))):
        a_points = a["keypoints"] if isinstance(a, dict) else a.keypoints
        b_points = b["keypoints"] if isinstance(b, dict) else b.keypoints
        a_set = {tuple(p) for p in a_points.tolist()}
        b_set = {tuple(p) for p in b_points.tolist()}
        shares.append(len(a_set & b_set) / max(1, len(a_set)))
    index = {tuple(p): i for i, p in enumerate(other["keypoints"].tolist())}
    pairs = [
        (i, index[tuple(p)]) for i, p in enumerate(plain["keypoints"].tolist()) if tuple(p) in index
    ]
    a = plain["descriptors"][[i for i, _ in pairs]].astype(np.float32)
    b = other["descriptors"][[j for _, j in pairs]].astype(np.float32)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return shares[0], shares[1], float(cosine.min()) if len(cosine) else 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--every", type=int, default=40)
    parser.add_argument("--variants", default="plain,sparse")
    parser.add_argument("--peak-rss", choices=("plain", "sparse"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.root / "labels.csv") as handle:
        paths = [str(args.root / row["path"]) for row in csv.DictReader(handle)][:: args.every]
    if args.peak_rss:
        # A process of its own for each: extract ten photos as the engine does, then
        # read the peak resident memory.
        for path in paths[:10]:
            disk.extract_raw(path, sparse_descriptors=args.peak_rss == "sparse")
        fields = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        print(f"{args.peak_rss}: peak RSS {int(fields['VmHWM'].split()[0]) / 1024:.0f} MB")
        return
    names = args.variants.split(",")
    disk.models()
    runners = {name: build(name) for name in names}
    for name in names:  # warm-up: first calls allocate and, for jit, optimise
        for _ in range(2):
            run(name, *runners[name], paths[0])
    times = {name: [] for name in names}
    equal = {name: [] for name in names}
    mask_times = []
    for number, path in enumerate(paths):
        started = time.process_time()
        mask = foreground_mask(path)
        mask_times.append(time.process_time() - started)
        order = names[number % len(names) :] + names[: number % len(names)]
        outputs = {}
        for name in order:
            seconds, outputs[name] = run(name, *runners[name], path)
            times[name].append(seconds)
        for name in names:
            equal[name].append(compare(outputs[names[0]], outputs[name], mask))
    print(f"{len(paths)} photos, every {args.every}th; load average {os.getloadavg()}")
    p50, p95 = np.median(mask_times), np.percentile(mask_times, 95)
    print(f"GrabCut mask: p50 {p50:.3f} p95 {p95:.3f} CPU s")
    base = np.median(times[names[0]])
    print(
        "variant        p50 CPU s  p95 CPU s  p50 ratio"
        "  keypoints same (min)  after select (min)  cosine min"
    )
    for name in names:
        values = np.array(equal[name])
        print(
            f"{name:14} {np.median(times[name]):9.3f} {np.percentile(times[name], 95):10.3f}"
            f" {np.median(times[name]) / base:10.2f}"
            f" {values[:, 0].mean():12.4f} ({values[:, 0].min():.4f})"
            f" {values[:, 1].mean():10.4f} ({values[:, 1].min():.4f})"
            f" {values[:, 2].min():11.5f}"
        )


if __name__ == "__main__":
    main()
