"""Location privacy: exact station coordinates only for those who need them.

Leopards are poached, so a station's exact position together with times and
individual IDs is sensitive. Members of a park who work at its stations
(rangers and scientists of that park) and admins see exact coordinates;
everyone else, every export without the explicit exact flag, and every public
or aggregate view get the centre of the 0.1 degree grid cell that holds the
station (GBIF's generalisation for highly sensitive species), with that
precision stated next to the figures.
"""

import math
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model

from accounts import roles
from accounts.roles import has_permission

EXACT_PRECISION = 0.000001  # six decimals as stored: about 0.1 m


@dataclass(frozen=True)
class Coordinates:
    latitude: float
    longitude: float
    # The uncertainty in degrees, written as Camtrap DP's coordinatePrecision.
    precision: float

    @property
    def exact(self) -> bool:
        return self.precision == EXACT_PRECISION


def generalise(latitude: float | Decimal, longitude: float | Decimal) -> Coordinates:
    """Return the centre of the grid cell that holds the point."""
    cell = settings.COORDINATE_GENERALISATION_DEGREES

    def centre(value: float) -> float:
        # floor, not round: the cell is fixed by the grid, not by the point.
        return round(math.floor(float(value) / cell) * cell + cell / 2, 6)

    return Coordinates(centre(latitude), centre(longitude), cell)


def no_finer_than_stored(coordinates: Coordinates, station: Model) -> Coordinates:
    """Return the coordinates with the precision of what is stored for the station.

    A station imported with generalised coordinates (Station.coordinate_precision)
    is no more exact for those who may see exact positions.
    """
    stored = float(station.coordinate_precision or 0)
    if stored > coordinates.precision:
        return replace(coordinates, precision=stored)
    return coordinates


def can_see_exact(user: AbstractBaseUser | AnonymousUser, park: Model | int) -> bool:
    """Tell whether a user may see a park's exact station coordinates."""
    if not has_permission(user, roles.EXACT_LOCATIONS):
        return False
    if has_permission(user, roles.EVERY_PARK):
        return True
    park_id = park if isinstance(park, int) else park.pk
    exact_parks = getattr(user, "_exact_location_parks", None)
    if exact_parks is None:
        exact_parks = set(user.park_memberships.values_list("park_id", flat=True))
        user._exact_location_parks = exact_parks
    return park_id in exact_parks


def coordinates_for(
    user: AbstractBaseUser | AnonymousUser,
    park: Model | int,
    latitude: float | Decimal,
    longitude: float | Decimal,
    *,
    want_exact: bool = True,
) -> Coordinates:
    """Return exact coordinates where the user may and wants them, else generalised."""
    if want_exact and can_see_exact(user, park):
        return Coordinates(float(latitude), float(longitude), EXACT_PRECISION)
    return generalise(latitude, longitude)
