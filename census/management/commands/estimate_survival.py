"""Estimate apparent annual survival (Cormack-Jolly-Seber) from histories or the registry."""

import json
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from census.capture_histories import parse_capture_histories
from census.selectors import yearly_adult_histories
from census.survival import MODELS, SurvivalEstimate, cjs, read_mark_inp
from traps.models import Park


class Command(BaseCommand):
    help = (
        "Fit a Cormack-Jolly-Seber model: apparent survival (phi) and detection (p), "
        "constant (.) or by year (t), from FILE (one 0/1 history per line, or a program "
        "MARK .inp file) or from a park's adults seen in --first-year..--last-year."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="yearly 0/1 histories or a MARK .inp file")
        parser.add_argument("--model", choices=MODELS, default="phi(.)p(.)")
        parser.add_argument("--park", help="park code: build the adults' histories")
        parser.add_argument("--first-year", type=int)
        parser.add_argument("--last-year", type=int)
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        extra: dict[str, Any] = {}
        if options["park"]:
            if options["file"]:
                raise CommandError("give either FILE or --park, not both")
            if options["first_year"] is None or options["last_year"] is None:
                raise CommandError("--park needs --first-year and --last-year")
            park = Park.objects.filter(code=options["park"]).first()
            if park is None:
                raise CommandError(f"no park with code {options['park']!r}")
            try:
                histories = yearly_adult_histories(
                    park=park, first_year=options["first_year"], last_year=options["last_year"]
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
            matrix = np.array(histories.matrix, dtype=int).reshape(
                len(histories.codes), len(histories.years)
            )
            extra = {
                "park": park.code,
                "years": histories.years,
                "excluded_unknown_age": histories.excluded_unknown_age,
                "excluded_young": histories.excluded_young,
            }
        else:
            if not options["file"]:
                raise CommandError("give a FILE or --park CODE --first-year --last-year")
            try:
                text = Path(options["file"]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"cannot read {options['file']}: {error}") from error
            try:
                if ";" in text:
                    matrix, _groups = read_mark_inp(text)
                else:
                    _ids, matrix = parse_capture_histories(text)
            except ValueError as error:
                raise CommandError(str(error)) from error
        result = cjs(matrix, options["model"])
        data = result.to_dict() | extra
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, allow_nan=False, indent=2))
            return
        self.stdout.write(self._text(result, extra.get("years")))

    def _text(self, result: SurvivalEstimate, years: list[int] | None) -> str:
        lines = [f"model: {result.model}", f"{result.animals} animals, {result.occasions} years"]
        if not result.ok:
            lines.append(f"no estimate: {result.reason}")
            return "\n".join(lines)
        labels = years or list(range(1, result.occasions + 1))
        level = round(100 * result.ci_level)

        def show(rate: Any) -> str:
            if rate.se is None:
                return f"{rate.estimate:.4f} (no SE)"
            return (
                f"{rate.estimate:.4f} (SE {rate.se:.4f}, {level}% CI {rate.lcl:.4f}-{rate.ucl:.4f})"
            )

        by_year = len(result.phi) > 1
        for index, rate in enumerate(result.phi):
            span = f" {labels[index]}-{labels[index + 1]}" if by_year else ""
            note = " (phi x p of the last year: not separable)" if rate.confounded else ""
            lines.append(f"phi{span}: {show(rate)}{note}")
        for index, rate in enumerate(result.p):
            lines.append(
                f"p{' ' + str(labels[index + 1]) if len(result.p) > 1 else ''}: {show(rate)}"
            )
        lines.append(f"log-likelihood: {result.loglik:.4f}, AIC: {result.aic:.4f}")
        lines.append(
            "first seen per year: "
            + ", ".join(
                f"{label} {count}" for label, count in zip(labels, result.first_seen, strict=True)
            )
        )
        return "\n".join(lines)
