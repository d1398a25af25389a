"""Build a spatial capture-recapture survey of a park from the registry.

Detectors are the park's stations with any working night in the survey, at their
exact positions projected to UTM 52N (the fit needs metres; its output holds no
coordinates). Usage is the nights each station's cameras worked in each occasion,
malfunction days excluded (census.effort), with the same photo-evidence rule as the
secr export. The park's stored boundary clips the mask.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from census import secr
from census.density.data import CaptureHistory, capture_history
from census.density.fit import DensityFit, fit_density
from census.density.mask import Mask, buffer_mask
from census.selectors import registry_capture_histories, survey_usage
from traps.models import Park, Station


@dataclass(frozen=True)
class RegistrySurvey:
    """A park's survey as a capture history, with the park's outline and area."""

    history: CaptureHistory
    polygons: list[list[np.ndarray]] | None  # UTM metres, outer ring first
    area_ha: float
    raised_usage: int  # occasions counted as worked because of a photo


def boundary_polygons(boundary: Any) -> list[list[np.ndarray]] | None:
    """Project a GeoJSON Polygon or MultiPolygon (lon, lat) to UTM 52N rings in metres."""
    if not isinstance(boundary, dict):
        return None
    kind, coordinates = boundary.get("type"), boundary.get("coordinates")
    if kind == "Feature":
        return boundary_polygons(boundary.get("geometry"))
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        polygons = coordinates
    else:
        return None
    try:
        return [
            [np.array([secr.project(lat, lon) for lon, lat, *_ in ring]) for ring in rings]
            for rings in polygons
        ]
    except (TypeError, ValueError):
        return None


def registry_survey(
    *, park: Park, start: date, end: date, occasion_days: int = 1
) -> RegistrySurvey:
    """Return the park's detections and camera effort between two dates as a survey."""
    histories = registry_capture_histories(
        park=park, start=start, end=end, occasion_days=occasion_days
    )
    usage, raised = survey_usage(histories)
    stations = list(
        Station.objects.filter(pk__in=[pk for pk, row in usage.items() if any(row)])
        .order_by("code")
        .values_list("pk", "code", "latitude", "longitude")
    )
    captures = [
        ("1", histories.codes[animal], occasion + 1, histories.station_codes[station_id])
        for animal, occasion, station_id in histories.detections
    ]
    history = capture_history(
        captures=captures,
        trap_ids=[code for _pk, code, _lat, _lon in stations],
        traps=np.array(
            [secr.project(lat, lon) for _pk, _code, lat, lon in stations], dtype=float
        ).reshape(-1, 2),
        usage=np.array([usage[pk] for pk, *_ in stations], dtype=float).reshape(
            len(stations), len(histories.occasions)
        ),
        detector="proximity",
        occasions=len(histories.occasions),
    )
    return RegistrySurvey(
        history=history,
        polygons=boundary_polygons(park.boundary),
        area_ha=float(park.area_km2) * 100,
        raised_usage=raised,
    )


# About four times the detection scale of Amur leopards in camera-trap surveys
# (sigma of 2-3 km), secr's rule of thumb for a halfnormal; each fit checks it.
PARK_DEFAULT_BUFFER = 12_000.0


def fit_survey(
    survey: RegistrySurvey,
    *,
    detectfn: str,
    buffer: float = PARK_DEFAULT_BUFFER,
    spacing: float | None = None,
    conditional: bool = False,
    progress: Callable[[float], None] | None = None,
) -> tuple[DensityFit, list[str]]:
    """Fit density to a park's survey on a buffer mask clipped to the park; add warnings."""
    warnings = []
    if survey.raised_usage:
        warnings.append(
            f"{survey.raised_usage} camera-occasions had photos but no working night in the "
            "deployment records; they count one night"
        )
    if survey.polygons is None:
        warnings.append("the park has no stored boundary: the mask is not clipped")
    traps = survey.history.traps
    if len(traps):
        mask = buffer_mask(traps, buffer, spacing=spacing, polygons=survey.polygons)
    else:
        mask = Mask(points=traps.reshape(0, 2), spacing=spacing or 1.0, buffer=buffer)
    fit = fit_density(
        survey.history,
        mask,
        detectfn=detectfn,
        conditional=conditional,
        region_area_ha=survey.area_ha,
        progress=progress,
    )
    return fit, warnings
