"""Estimate density by spatial capture-recapture from secr text files or from the registry."""

import dataclasses
import json
import math
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from census.density.data import DETECTORS, read_capthist
from census.density.fit import DensityFit, fit_density
from census.density.likelihood import DETECTFNS
from census.density.mask import Mask, buffer_mask, parse_mask
from census.density.registry import PARK_DEFAULT_BUFFER, fit_survey, registry_survey
from traps.models import Park

# secr.fit's default when no buffer or mask is given.
SECR_DEFAULT_BUFFER = 100.0


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from error


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {path}: {error}") from error


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError as error:
        raise CommandError(f"{value!r} is not a number") from error
    if not number > 0:
        raise CommandError(f"{value!r} must be a positive number")
    return number


def _sig(value: float, digits: int = 4) -> str:
    """Return `value` to `digits` significant figures without an exponent."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


class Command(BaseCommand):
    help = (
        "Fit spatially explicit capture-recapture (secr's homogeneous-density model) to "
        "secr text files (--captures capt.txt --traps traps.txt) or to a park's cameras "
        "and confirmed sightings between two dates (--park --start --end). D is reported "
        "per hectare (as secr) and per 100 km2, with secr's log-normal 95%% interval."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--captures", help="secr capture file: Session ID Occasion Detector")
        parser.add_argument("--traps", help="secr trap file: Detector x y [usage]")
        parser.add_argument("--detector", choices=DETECTORS, default="proximity")
        parser.add_argument("--detectfn", choices=DETECTFNS, default="halfnormal")
        where = parser.add_mutually_exclusive_group()
        where.add_argument(
            "--buffer",
            type=_positive,
            help=f"mask buffer around the detectors in metres (default {SECR_DEFAULT_BUFFER:g} "
            f"for files as secr.fit, {PARK_DEFAULT_BUFFER:g} for a park)",
        )
        where.add_argument("--mask", help="mask CSV with x,y in metres")
        parser.add_argument(
            "--spacing",
            type=_positive,
            help="mask spacing in metres (default: 64 cells across a buffer mask; "
            "inferred from the grid of a mask file)",
        )
        parser.add_argument("--conditional", action="store_true", help="conditional likelihood")
        parser.add_argument("--occasions", type=int, help="number of occasions (files only)")
        parser.add_argument("--area", type=_positive, help="region area in km2 for N")
        parser.add_argument("--park", help="park code: build the survey from the registry")
        parser.add_argument("--start", type=_date, help="first day of the survey")
        parser.add_argument("--end", type=_date, help="last day of the survey")
        parser.add_argument("--occasion-days", type=int, default=1)
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        extra: dict[str, Any] = {}
        warnings: list[str] = []
        area_km2 = options["area"]
        if options["park"]:
            if options["captures"] or options["traps"] or options["mask"]:
                raise CommandError("give either --park or files, not both")
            missing = [name for name in ("start", "end") if options[name] is None]
            if missing:
                raise CommandError("--park needs " + ", ".join(f"--{m}" for m in missing))
            if options["detector"] != "proximity":
                raise CommandError("camera traps are proximity detectors; drop --detector")
            park = Park.objects.filter(code=options["park"]).first()
            if park is None:
                raise CommandError(f"no park with code {options['park']!r}")
            try:
                survey = registry_survey(
                    park=park,
                    start=options["start"],
                    end=options["end"],
                    occasion_days=options["occasion_days"],
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
            history = survey.history
            if area_km2 is not None:
                survey = dataclasses.replace(survey, area_ha=area_km2 * 100)
            extra = {
                "park": park.code,
                "start": options["start"].isoformat(),
                "end": options["end"].isoformat(),
                "occasion_days": options["occasion_days"],
            }
            fit, warnings = fit_survey(
                survey,
                detectfn=options["detectfn"],
                buffer=options["buffer"] or PARK_DEFAULT_BUFFER,
                spacing=options["spacing"],
                conditional=options["conditional"],
            )
        else:
            if not (options["captures"] and options["traps"]):
                raise CommandError("give --captures and --traps, or --park --start --end")
            try:
                history = read_capthist(
                    _read(options["captures"]),
                    _read(options["traps"]),
                    detector=options["detector"],
                    occasions=options["occasions"],
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
            buffer = options["buffer"]
            if buffer is None and not options["mask"]:
                buffer = SECR_DEFAULT_BUFFER
                warnings.append(f"using secr's default buffer width of {buffer:g} m")
            fit = fit_density(
                history,
                self._mask(options, history.traps, buffer),
                detectfn=options["detectfn"],
                conditional=options["conditional"],
                region_area_ha=area_km2 * 100 if area_km2 else None,
            )
        data = fit.to_dict()
        data["warnings"] = warnings + data["warnings"]
        data.update(extra)
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, allow_nan=False, indent=2))
            return
        self.stdout.write(self._text(fit, data))

    def _mask(self, options: dict[str, Any], traps: Any, buffer: float | None) -> Mask:
        if options["mask"]:
            try:
                return parse_mask(_read(options["mask"]), spacing=options["spacing"])
            except ValueError as error:
                raise CommandError(f"{options['mask']}: {error}") from error
        if len(traps) == 0:
            return Mask(points=traps.reshape(0, 2), spacing=options["spacing"] or 1.0)
        return buffer_mask(traps, buffer, spacing=options["spacing"])

    def _text(self, fit: DensityFit, data: dict[str, Any]) -> str:
        lines = [
            f"{fit.detector} detectors, {fit.detectfn} detection, "
            f"{'conditional' if fit.conditional else 'full'} likelihood",
            f"{fit.n_animals} animals, {fit.n_detections} detections, {fit.n_occasions} "
            f"occasions, {fit.n_detectors} detectors, mask of {fit.mask_points} points",
        ]
        if fit.density is None:
            lines.append(f"no estimate: {fit.reason}")
        else:
            level = round(100 * fit.ci_level)
            per = fit.density.scaled(10_000)
            d, per, name = fit.density, fit.density.scaled(10_000), fit.intercept_name
            lines += [
                f"D: {_sig(d.estimate, 6)} per ha (SE {_sig(d.se, 3)}, {level}% CI "
                f"{_sig(d.lcl)}-{_sig(d.ucl)})",
                f"D: {_sig(per.estimate)} per 100 km2 (SE {_sig(per.se, 3)}, {level}% CI "
                f"{_sig(per.lcl)}-{_sig(per.ucl)})",
                f"{name}: {_sig(fit.intercept.estimate, 5)} (SE {_sig(fit.intercept.se, 3)})",
                f"sigma: {_sig(fit.sigma.estimate, 5)} m (SE {_sig(fit.sigma.se, 3)})",
                f"log-likelihood: {fit.loglik:.6f}, AIC: {fit.aic:.3f}",
            ]
            if fit.region_n is not None:
                n = fit.region_n
                lines.append(
                    f"N in {fit.region_area_ha / 100:g} km2: {_sig(n.estimate, 3)} "
                    f"({level}% CI {_sig(n.lcl, 3)}-{_sig(n.ucl, 3)})"
                )
            if fit.buffer_bias is not None:
                lines.append(
                    f"buffer {fit.buffer:g} m = {data['buffer_sigma_ratio']:.1f} sigma; "
                    f"bias of D from the buffer {100 * fit.buffer_bias:.2f} % "
                    f"({'ok' if fit.buffer_ok else 'too narrow'})"
                )
        lines += [f"warning: {warning}" for warning in data["warnings"]]
        return "\n".join(lines)
