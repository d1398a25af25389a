"""Estimate population size from a capture-history file or from the registry."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from census.abundance import BEST, MODELS, estimate
from census.capture_histories import parse_capture_histories, parse_frequencies
from census.estimators import density_from_estimate
from census.selectors import registry_capture_histories
from traps.models import Park


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from error


class Command(BaseCommand):
    help = (
        "Estimate abundance with a closed-population model (or --model best: the "
        "lowest AIC of M0, Mt, Mb and Mh2), from FILE (one 0/1 capture "
        "history per line, or capture frequencies f1..ft with --frequencies) or from the "
        "registry's confirmed sightings of a park (--park --start --end --occasion-days)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="capture histories or frequencies")
        parser.add_argument("--model", required=True, choices=[*MODELS, BEST])
        parser.add_argument(
            "--frequencies", action="store_true", help="FILE holds f1..ft, not histories"
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--park", help="park code: build the histories from the registry")
        parser.add_argument("--start", type=_date, help="first day of the survey (YYYY-MM-DD)")
        parser.add_argument("--end", type=_date, help="last day of the survey (YYYY-MM-DD)")
        parser.add_argument("--occasion-days", type=int, default=None)
        parser.add_argument(
            "--area", type=float, default=None, help="effective area in km2 for a density"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        model = options["model"]
        area = options["area"]
        extra: dict[str, Any] = {}
        if options["park"]:
            if options["file"]:
                raise CommandError("give either FILE or --park, not both")
            missing = [o for o in ("start", "end", "occasion_days") if options[o] is None]
            if missing:
                raise CommandError(
                    "--park needs " + ", ".join(f"--{m.replace('_', '-')}" for m in missing)
                )
            park = Park.objects.filter(code=options["park"]).first()
            if park is None:
                raise CommandError(f"no park with code {options['park']!r}")
            try:
                histories = registry_capture_histories(
                    park=park,
                    start=options["start"],
                    end=options["end"],
                    occasion_days=options["occasion_days"],
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
            matrix = np.array(histories.matrix, dtype=int).reshape(
                len(histories.codes), len(histories.occasions)
            )
            result = estimate(model, matrix)
            if area is None:
                area = float(park.area_km2)
                extra["area_note"] = "park area used as the effective area"
            extra.update(park=park.code, start=str(options["start"]), end=str(options["end"]))
        else:
            if not options["file"]:
                raise CommandError("give a FILE or --park CODE --start --end --occasion-days")
            try:
                text = Path(options["file"]).read_text(encoding="utf-8")
            except OSError as error:
                raise CommandError(f"cannot read {options['file']}: {error}") from error
            try:
                if options["frequencies"]:
                    result = estimate(model, parse_frequencies(text), frequencies=True)
                else:
                    _ids, matrix = parse_capture_histories(text)
                    result = estimate(model, matrix)
            except ValueError as error:
                raise CommandError(str(error)) from error

        data = result.to_dict()
        data.update(extra)
        if area is not None:
            data["density"] = density_from_estimate(result, area).to_dict()
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, allow_nan=False, indent=2))
            return
        self.stdout.write(self._text(data))

    def _text(self, data: dict[str, Any]) -> str:
        lines = [
            f"model: {data['model']}",
            f"captured: {data['captured']} animals in {data['occasions']} occasions",
        ]
        if data["n_hat"] is None:
            lines.append(f"no estimate: {data['reason']}")
            return "\n".join(lines)
        lines.append(f"N-hat: {data['n_hat']:.2f}")
        if data["se"] is not None:
            lines.append(f"SE: {data['se']:.2f}")
        if data["ci_low"] is not None:
            level = round(100 * data["ci_level"])
            lines.append(
                f"{level}% CI: {data['ci_low']:.2f} to {data['ci_high']:.2f} "
                f"({data['interval_method']})"
            )
        if data.get("p_hat") is not None:
            lines.append(f"p-hat: {data['p_hat']:.4f}")
        if data.get("aic") is not None:
            lines.append(f"AIC: {data['aic']:.4f}")
        selection = (data.get("parameters") or {}).get("selection")
        if selection:
            table = ", ".join(
                f"{name} {aic:.2f}" if aic is not None else f"{name} none"
                for name, aic in selection["aic"].items()
            )
            lines.append(f"chosen by {selection['rule']}: {table}")
        if data.get("note"):
            lines.append(f"note: {data['note']}")
        density = data.get("density")
        if density and density["density_per_100km2"] is not None:
            lines.append(
                f"density: {density['density_per_100km2']:.2f} per 100 km2 "
                f"(area {density['area_km2']:g} km2)"
            )
        return "\n".join(lines)
