"""Small builders for census tests: a camera running all year and sightings in it."""

from datetime import date, datetime
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
