"""Fit the pair check's projection of DISK descriptors on the registry's confirmed photos."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leopards.matching import whitening
from leopards.services.whitening import PHOTOS_PER_FLANK, fit_match_whitening


class Command(BaseCommand):
    help = (
        "Check every two confirmed photos of one flank of one individual (from different "
        "events) as the pair check does, and fit a projection of the learned descriptors "
        "on the inliers of those with enough of them: patches of one coat seen twice. "
        "Writes it to --out; point MATCH_WHITENING_FILE at it, then fit the calibration "
        "again (evaluate_matching --calibration-out), since the check's counts change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True, metavar="FILE.npz")
        parser.add_argument("--dimensions", type=int, default=whitening.DIMENSIONS)
        parser.add_argument("--min-inliers", type=int, default=whitening.MIN_INLIERS)
        parser.add_argument(
            "--min-pairs",
            type=int,
            default=whitening.MIN_PAIRS,
            help="matched patches needed for a fit",
        )
        parser.add_argument("--photos-per-flank", type=int, default=PHOTOS_PER_FLANK)

    def handle(self, *args, out: Path, **options) -> None:
        if not out.parent.is_dir():
            raise CommandError(f"{out.parent} is not a folder.")
        if options["photos_per_flank"] < 2:
            raise CommandError("--photos-per-flank must be at least 2: a pair needs two.")
        try:
            fitted = fit_match_whitening(
                out,
                dimensions=options["dimensions"],
                min_inliers=options["min_inliers"],
                min_pairs=options["min_pairs"],
                photos_per_flank=options["photos_per_flank"],
            )
        except whitening.WhiteningError as error:
            raise CommandError(
                f"No projection written: {error}. It needs confirmed photos of one flank "
                "from different events whose pair check finds at least "
                f"{options['min_inliers']} inliers."
            ) from error
        except OSError as error:
            raise CommandError(f"{out} cannot be written: {error.strerror}.") from error
        projection = fitted.projection
        self.stdout.write(
            f"{fitted.photo_pairs} pairs of photos checked, {fitted.kept_pairs} with at least "
            f"{options['min_inliers']} inliers, of {fitted.individuals} individuals: "
            f"{projection.pairs} matched patches.\n"
            f"Wrote {out}: {projection.model} descriptors, {projection.projection.shape[0]} "
            f"to {projection.projection.shape[1]} dimensions.\n"
            f"Set MATCH_WHITENING_FILE={out.resolve()} and fit the calibration again."
        )
