"""Small builders for census tests: a camera running all year and sightings in it."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from leopards.models import Flank, Leopard, Sighting
from tests.factories import (
    DeploymentFactory,
    LeopardFactory,
    PhotoFactory,
    SightingFactory,
    StationFactory,
)
from traps.models import Deployment, Park, Station

VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")


def local(park: Park, *args: int) -> datetime:
    """Return an aware datetime in the park's time zone."""
    return datetime(*args, tzinfo=park.tzinfo)


def station_running(
    park: Park, code: str, first_year: int = 2020, last_year: int = 2025, **station: object
) -> tuple[Station, Deployment]:
    """Create a station with one camera running from first_year to the end of last_year."""
    st = StationFactory(park=park, code=code, **station)
    deployment = DeploymentFactory(
        station=st,
        start=local(park, first_year, 1, 1, 0, 0),
        end=local(park, last_year + 1, 1, 1, 0, 0),
    )
    return st, deployment


def sight(
    deployment: Deployment,
    leopard: Leopard,
    when: datetime,
    flank: str = Flank.LEFT,
    status: str = Sighting.Status.CONFIRMED,
) -> Sighting:
    """Record a sighting of an individual in a new photo of the deployment."""
    photo = PhotoFactory(deployment=deployment, taken_at=when)
    return SightingFactory(photo=photo, leopard=leopard, flank=flank, status=status)


def cat(code: str, born: date | None = None, sex: str = "female") -> Leopard:
    return LeopardFactory(code=code, birth_date=born, sex=sex)


ORIGIN = (43.1, 131.4)  # latitude, longitude of the grid's south-west camera


def grid_park(park: Park, size: int = 6, step_m: float = 1500.0) -> list[Deployment]:
    """Put a size x size grid of cameras (step_m apart) in the park, running all year."""
    from census import secr

    x0, y0 = secr.project(*ORIGIN)
    transformer = secr._transformer()
    deployments = []
    for i in range(size):
        for j in range(size):
            lon, lat = transformer.transform(x0 + i * step_m, y0 + j * step_m, direction="INVERSE")
            _station, deployment = station_running(
                park, f"C{i}{j}", latitude=f"{lat:.6f}", longitude=f"{lon:.6f}"
            )
            deployments.append(deployment)
    return deployments


def simulated_survey(park: Park, deployments: list[Deployment], start: date, seed: int = 3):
    """Sight leopards at the grid's cameras over 30 nights from `start`, at a known density.

    40 leopards per 100 km2, halfnormal detection with g0 0.08 per night and sigma
    1.5 km; returns the simulated capture history.
    """
    import numpy as np

    from census.density.simulate import simulate

    traps = np.array(
        [[int(d.station.code[1]) * 1500.0, int(d.station.code[2]) * 1500.0] for d in deployments]
    )
    history, _population = simulate(
        traps=traps,
        usage=np.ones((len(deployments), 30)),
        density=0.004,
        intercept=0.08,
        sigma=1500.0,
        buffer=6000,
        rng=np.random.default_rng(seed),
    )
    leopards: dict[int, Leopard] = {}
    for animal, occasion, trap in history.detections.tolist():
        if animal not in leopards:
            leopards[animal] = cat(f"LEO-{animal:03d}U", date(2015, 1, 1), "unknown")
        day = start + timedelta(days=occasion)
        sight(deployments[trap], leopards[animal], local(park, day.year, day.month, day.day, 22))
    return history
