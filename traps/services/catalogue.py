"""Writes for parks, stations and deployments made through the API."""

from typing import Any

from django.db import transaction

from traps.models import Deployment, Park, Station
from traps.services.deployments import DeploymentChanged, photos_retime

PARK_FIELDS = {
    "code",
    "name",
    "name_ru",
    "name_zh_hans",
    "country",
    "area_km2",
    "boundary",
    "time_zone",
}
STATION_FIELDS = {"code", "latitude", "longitude", "notes"}
DEPLOYMENT_FIELDS = {"camera_serial", "camera_model", "start", "end", "clock_offset", "notes"}
# A change of any of these moves photos in time or in or out of the deployment.
DEPLOYMENT_TIME_FIELDS = {"start", "end", "clock_offset"}


def _apply(instance: Any, changes: dict[str, Any], allowed: set[str]) -> list[str]:
    """Set the allowed changed fields on an instance; return the names that changed."""
    changed = []
    for name, value in changes.items():
        if name in allowed and getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


@transaction.atomic
def park_create(*, data: dict[str, Any]) -> Park:
    """Create a park."""
    park = Park(**{k: v for k, v in data.items() if k in PARK_FIELDS})
    park.full_clean()
    park.save()
    return park


@transaction.atomic
def park_update(*, park_id: int, data: dict[str, Any]) -> Park:
    """Change a park's code, names, country, area, boundary or time zone."""
    park = Park.objects.select_for_update().get(pk=park_id)
    if _apply(park, data, PARK_FIELDS):
        park.full_clean()
        park.save()
    return park


@transaction.atomic
def station_create(*, park: Park, data: dict[str, Any]) -> Station:
    """Create a station in a park."""
    station = Station(park=park, **{k: v for k, v in data.items() if k in STATION_FIELDS})
    station.save()
    return station


@transaction.atomic
def station_update(*, station_id: int, data: dict[str, Any]) -> Station:
    """Change a station's code, coordinates or notes."""
    station = Station.objects.select_for_update().select_related("park").get(pk=station_id)
    if _apply(station, data, STATION_FIELDS):
        station.save()
    return station


@transaction.atomic
def deployment_create(*, station: Station, data: dict[str, Any]) -> Deployment:
    """Create a deployment of a camera at a station."""
    deployment = Deployment(
        station=station, **{k: v for k, v in data.items() if k in DEPLOYMENT_FIELDS}
    )
    deployment.save()
    return deployment


@transaction.atomic
def deployment_update(
    *, deployment_id: int, data: dict[str, Any], expected_version: int
) -> Deployment:
    """Change a deployment if nobody saved it since expected_version; retime photos if needed.

    Raises DeploymentChanged, and changes nothing, when the stored version differs.
    """
    deployment = (
        Deployment.objects.select_for_update(of=("self",))
        .select_related("station__park")
        .get(pk=deployment_id)
    )
    if deployment.version != expected_version:
        raise DeploymentChanged(deployment)
    changed = _apply(deployment, data, DEPLOYMENT_FIELDS)
    if not changed:
        return deployment
    # The row is locked, so a plain increment is safe.
    deployment.version += 1
    deployment.save(update_fields=[*changed, "version"])
    if DEPLOYMENT_TIME_FIELDS & set(changed):
        photos_retime(deployment=deployment)
    return deployment
