"""Downloads: secr input files and CSV tables of the census figures."""

from dataclasses import dataclass
from datetime import date

from accounts.privacy import generalise
from census import secr
from census.selectors import registry_capture_histories, survey_usage
from traps.models import Park, Station


@dataclass(frozen=True)
class SecrExport:
    session: str
    captures: str
    traps: str
    animals: int
    detections: int
    detectors: int
    occasions: int


def secr_export(
    *, park: Park, start: date, end: date, occasion_days: int, exact: bool
) -> SecrExport:
    """Build secr's capture and trap files for a park and survey.

    `exact` says whether the caller may have exact station coordinates
    (accounts.privacy); otherwise the stations sit at the centres of their 0.1 degree
    cells, which the header states, and which is too coarse for a spatial model.
    """
    histories = registry_capture_histories(
        park=park, start=start, end=end, occasion_days=occasion_days
    )
    usage, _raised = survey_usage(histories)
    stations = Station.objects.filter(pk__in=list(usage)).order_by("code")
    detectors = []
    for station in stations:
        if not any(usage[station.pk]):
            continue
        lat, lon = station.latitude, station.longitude
        if not exact:
            cell = generalise(lat, lon)
            lat, lon = cell.latitude, cell.longitude
        detectors.append(secr.Detector(station.code, float(lat), float(lon), usage[station.pk]))

    session = f"{park.code}-{start.year}"
    captures = [
        secr.Capture(
            animal=histories.codes[animal],
            occasion=occasion + 1,
            detector=histories.station_codes[station_id],
            sex=histories.sexes[animal],
        )
        for animal, occasion, station_id in histories.detections
    ]
    header = [
        f"{park.name} ({park.code}), {start.isoformat()} to {end.isoformat()}",
        f"{len(histories.occasions)} occasions of {occasion_days} days, local dates "
        f"({park.time_zone}); occasion 1 starts {start.isoformat()}",
    ]
    trap_header = [
        *header,
        f"X Y: UTM zone 52N ({secr.UTM_52N}), metres",
        "coordinates: exact"
        if exact
        else "coordinates: generalised to the centre of a 0.1 degree grid cell",
        "usage: 1 = the camera worked at least one night of the occasion (from deployments,"
        " minus malfunction days)",
    ]
    capture_header = [
        *header,
        'read in R: secr::read.capthist("captures.txt", "traps.txt", '
        'detector = "proximity", covnames = "sex")',
    ]
    return SecrExport(
        session=secr.identifier(session),
        captures=secr.capture_file(session, captures, capture_header),
        traps=secr.trap_file(detectors, trap_header),
        animals=len(histories.codes),
        detections=len(captures),
        detectors=len(detectors),
        occasions=len(histories.occasions),
    )
