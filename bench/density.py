"""Spatial capture-recapture at Land of the Leopard's scale: fit time, memory and accuracy.

One park-year: 500 cameras on a 25 x 20 grid 2.3 km apart, 180 daily occasions with
each camera out of order on about 10 % of nights, leopards at a known density with a
halfnormal detection function (g0 0.01 per night, sigma 2.5 km), a mask of about 5,000
points (buffer 10 km = 4 sigma, spacing 1 km). Prints:

- 20 simulated surveys: relative bias of D and coverage of its 95 % interval;
- one fit with secr's collapsed proximity likelihood (detections and usage per camera),
  against the per-occasion likelihood on the same survey as the baseline: wall-clock and
  CPU time on one core (CPU time does not count waiting for other processes on a busy
  machine) and peak memory of the fit (tracemalloc, a second run).

    nice -n 10 python bench/density.py [--surveys 20] [--seed 1] [--part timing|replicates]
"""

from __future__ import annotations

import os

# One core: the goal is a fit under 60 s on one core of the server.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from census.density.fit import fit_density  # noqa: E402
from census.density.mask import buffer_mask  # noqa: E402
from census.density.simulate import simulate  # noqa: E402

COLUMNS, ROWS, STEP = 25, 20, 2_300.0
OCCASIONS = 180
WORKING = 0.9
DENSITY_PER_100KM2 = 4.5
G0, SIGMA = 0.01, 2_500.0
BUFFER, SPACING = 10_000.0, 1_000.0
SIMULATION_BUFFER = 6 * SIGMA  # centres beyond this are never detected


def cameras() -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(COLUMNS) * STEP, np.arange(ROWS) * STEP)
    return np.column_stack([xs.ravel(), ys.ravel()])


def usage(rng: np.random.Generator) -> np.ndarray:
    return (rng.random((COLUMNS * ROWS, OCCASIONS)) < WORKING).astype(float)


def survey(rng: np.random.Generator):
    traps = cameras()
    history, population = simulate(
        traps=traps,
        usage=usage(rng),
        density=DENSITY_PER_100KM2 / 10_000,
        intercept=G0,
        sigma=SIGMA,
        buffer=SIMULATION_BUFFER,
        rng=rng,
    )
    return history, population


def timed_fit(history, mask, *, fast: bool) -> tuple[float, float, object]:
    """Return wall-clock and CPU seconds of one fit (CPU time is what other load spares)."""
    started, cpu = time.perf_counter(), time.process_time()
    fit = fit_density(history, mask, detectfn="halfnormal", fast=fast)
    return time.perf_counter() - started, time.process_time() - cpu, fit


def peak_memory_mb(history, mask, *, fast: bool) -> float:
    tracemalloc.start()
    fit_density(history, mask, detectfn="halfnormal", fast=fast)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def replicates(surveys: int, seed: int, first: int = 0) -> None:
    """Fit simulated surveys and print the bias and coverage of D against the truth."""
    estimates, covered, seconds_all, cpu_all = [], 0, [], []
    for replicate in range(first, first + surveys):
        history, _population = survey(np.random.default_rng(seed + 1000 + replicate))
        mask = buffer_mask(history.traps, BUFFER, spacing=SPACING)
        seconds, cpu, fit = timed_fit(history, mask, fast=True)
        seconds_all.append(seconds)
        cpu_all.append(cpu)
        if not fit.ok:
            print(f"survey {replicate + 1}: no estimate: {fit.reason}", flush=True)
            continue
        d = fit.density.scaled(10_000)
        estimates.append(d.estimate)
        covered += d.lcl <= DENSITY_PER_100KM2 <= d.ucl
        print(
            f"survey {replicate + 1:2d}: n {history.n_animals:3d}  D {d.estimate:.3f} "
            f"({d.lcl:.3f}-{d.ucl:.3f})  sigma {fit.sigma.estimate:6.0f} m  "
            f"buffer bias {100 * fit.buffer_bias:.2f} %  {seconds:.1f} s wall, {cpu:.1f} s CPU",
            flush=True,
        )
    if estimates:
        mean = statistics.fmean(estimates)
        spread = statistics.stdev(estimates) if len(estimates) > 1 else 0.0
        print(
            f"{len(estimates)} surveys: mean D {mean:.3f} against true {DENSITY_PER_100KM2}; "
            f"relative bias {100 * (mean / DENSITY_PER_100KM2 - 1):+.1f} % "
            f"(SE {100 * spread / np.sqrt(len(estimates)) / DENSITY_PER_100KM2:.1f} %); "
            f"95 % CI coverage {covered}/{len(estimates)}; fit CPU time median "
            f"{statistics.median(cpu_all):.1f} s, max {max(cpu_all):.1f} s (wall median "
            f"{statistics.median(seconds_all):.1f} s)",
            flush=True,
        )


def timing(seed: int) -> None:
    """Time one fit, collapsed against per occasion (the baseline), with peak memory."""
    history, population = survey(np.random.default_rng(seed))
    mask = buffer_mask(history.traps, BUFFER, spacing=SPACING)
    print(
        f"survey: {history.n_traps} cameras, {history.n_occasions} occasions, "
        f"{population} animals within {SIMULATION_BUFFER / 1000:g} km, {history.n_animals} "
        f"detected, {history.n_detections} detections; mask {len(mask)} points at "
        f"{mask.spacing:g} m; true D {DENSITY_PER_100KM2} per 100 km2",
        flush=True,
    )
    for label, fast in (
        ("collapsed (usage-weighted counts)", True),
        ("per occasion (baseline)", False),
    ):
        seconds, cpu, fit = timed_fit(history, mask, fast=fast)
        memory = peak_memory_mb(history, mask, fast=fast)
        d = fit.density.scaled(10_000) if fit.density else None
        shown = (
            f"D {d.estimate:.3f} ({d.lcl:.3f}-{d.ucl:.3f})" if d else f"no estimate: {fit.reason}"
        )
        print(
            f"{label:36s} fit {seconds:6.1f} s wall, {cpu:6.1f} s CPU  peak {memory:7.1f} MB  "
            f"{shown}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--surveys", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--part", choices=["all", "timing", "replicates"], default="all", help="what to run"
    )
    parser.add_argument(
        "--first", type=int, default=0, help="index of the first survey (to split a run)"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    if args.part in ("all", "replicates"):
        replicates(args.surveys, args.seed, args.first)
    if args.part in ("all", "timing"):
        timing(args.seed)


if __name__ == "__main__":
    main()
