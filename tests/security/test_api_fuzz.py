"""Fuzz every API operation against the registry's own OpenAPI schema.

Schemathesis generates requests from the schema drf-spectacular builds and sends
them to the Django app in process; every answer must be no server error and must
match the schema (status code, content type and body).
"""

import io
import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as fuzz_settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import api_token_create
from leopards.models import CatalogueChange, Sighting
from leopards.services.catalogue_edits import leopard_update
from tests.factories import (
    DeploymentFactory,
    LeopardFactory,
    PhotoFactory,
    SightingFactory,
    StationFactory,
)
from tests.security.images import jpeg_with_gps
from traps.models import Event

pytestmark = pytest.mark.django_db

APP = WSGIHandler()
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _registry_schema() -> dict:
    """Return the schema as /api/schema/?format=json serves it (numbers, not Decimals)."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


schema = (
    schemathesis.openapi.from_dict(_registry_schema())
    # Multipart bodies with a file: the generator cannot make a photo, and the
    # upload runs the whole ingest; tests/traps covers both with real JPEGs.
    .exclude(method="POST", path="/api/photos/")
    .exclude(method="POST", path="/api/photos/propose-deployment/")
    # Queues the photo's processing again (thumbnails, detection, matching).
    .exclude(method="POST", path_regex=r"^/api/photos/\{id\}/retry/$")
    # Drawing a box runs the matcher on the photo's pixels, which these rows lack.
    .exclude(method="POST", path="/api/sightings/")
)


@pytest.fixture
def wsgi_app(settings):
    """The real WSGI app, on the test's connection and transaction, as Django's client keeps it."""
    settings.ALLOWED_HOSTS = ["localhost"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield APP
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def registry_rows(park, scientist) -> dict[str, object]:
    """A small park with a station, a deployment, an event, photos and identified sightings."""
    station = StationFactory(park=park)
    deployment = DeploymentFactory(station=station)
    photo = PhotoFactory(deployment=deployment)
    leopard = LeopardFactory()
    sighting = SightingFactory(photo=photo, leopard=leopard)
    event = Event.objects.create(deployment=deployment, start=photo.taken_at, end=photo.taken_at)
    photo.event = event
    photo.save(update_fields=["event"])
    # A photo still processing belongs to no event yet; its sighting has no event either.
    loose = SightingFactory(
        photo=PhotoFactory(deployment=deployment, taken_at=None, camera_time=None),
        leopard=None,
        status=Sighting.Status.PROPOSED,
    )
    # A change with a person's reason has no reason code.
    leopard_update(
        leopard_id=leopard.pk,
        user=scientist,
        expected_version=leopard.version,
        changes={"name": "Kedrovaya"},
        reason="named after the valley",
    )
    change = CatalogueChange.objects.get(leopards=leopard)
    leopard.refresh_from_db()
    return {
        "park": park,
        "station": station,
        "deployment": deployment,
        "photo": photo,
        "event": event,
        "leopard": leopard,
        "sighting": sighting,
        "loose_sighting": loose,
        "change": change,
    }


# Every second generated id is swapped for a row that exists, so that the
# operations on one object are fuzzed past the 404 as well.
EXISTING_ID = {
    "/api/parks/": "park",
    "/api/stations/": "station",
    "/api/deployments/": "deployment",
    "/api/photos/": "photo",
    "/api/events/": "event",
    "/api/review/events/": "event",
    "/api/sightings/": "sighting",
    "/api/catalogue-changes/": "change",
}


def _point_at_existing_rows(case, rows: dict[str, object]) -> None:
    params = case.path_parameters or {}
    if "id" in params and isinstance(params["id"], int) and params["id"] % 2 == 0:
        for prefix, key in EXISTING_ID.items():
            if case.path.startswith(prefix):
                params["id"] = rows[key].pk
    if "code" in params and len(str(params["code"])) % 2 == 0:
        params["code"] = rows["leopard"].code


@schema.parametrize()
# Bounded and derandomised: the same requests every run, so the suite stays reproducible.
@fuzz_settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_request_as_its_schema_says(case, scientist, registry_rows, wsgi_app):
    _, key = api_token_create(user=scientist, name="fuzz", days=1)
    _point_at_existing_rows(case, registry_rows)
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Token {key}"}, checks=CHECKS)


# The multipart uploads, with real image bytes in place of the generated file:
# a JPEG with camera EXIF and GPS, a PNG, a truncated JPEG and bytes that are no
# image, each sent to an existing deployment or a generated id.
upload_schema = schemathesis.openapi.from_dict(_registry_schema()).include(
    method="POST", path_regex=r"^/api/photos/(propose-deployment/)?$"
)


def _upload_files() -> list[bytes]:
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 90, 30)).save(png, "PNG")
    jpeg = jpeg_with_gps(seed=3)
    return [
        jpeg,
        png.getvalue(),
        jpeg[: len(jpeg) // 2],
        b"not an image",
    ]


UPLOAD_FILES = _upload_files()


@upload_schema.parametrize()
@fuzz_settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_photo_uploads_answer_real_image_bytes_as_their_schema_says(
    case, ranger, registry_rows, wsgi_app
):
    _, key = api_token_create(user=ranger, name="fuzz", days=1)
    body = case.body if isinstance(case.body, dict) else {}
    generated = body.get("file")
    content = UPLOAD_FILES[len(generated or b"") % len(UPLOAD_FILES)]
    body["file"] = content
    if isinstance(body.get("deployment"), int) and body["deployment"] % 2 == 0:
        body["deployment"] = registry_rows["deployment"].pk
    case.body = body
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Token {key}"}, checks=CHECKS)


# What the fuzzing found, pinned down.


def test_a_review_action_on_an_id_that_is_no_number_is_a_404(client, scientist):
    client.force_login(scientist)
    for action in ("claim", "release", "finish"):
        response = client.post(f"/api/review/events/null,null/{action}/")
        assert response.status_code == 404, action
        assert response.json()["code"] == "not_found"


def test_an_id_the_router_refuses_gets_the_json_404(client, scientist):
    client.force_login(scientist)
    response = client.get("/api/deployments/1.5/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_an_unknown_page_is_still_the_html_404(client, scientist):
    client.force_login(scientist)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_photo_time_filters_take_any_offset_python_reads(client, scientist, registry_rows):
    client.force_login(scientist)
    # PostgreSQL refuses offsets past 15:59; the filter compares UTC instants.
    response = client.get("/api/photos/", {"taken_after": "2024-05-01T12:08:03-23:36"})
    assert response.status_code == 200
    assert response.json()["count"] == 0
    response = client.get("/api/photos/", {"taken_before": "2024-05-01T12:08:03-23:36"})
    assert response.json()["count"] == 1


def test_a_photo_time_past_year_9999_in_utc_is_refused(client, scientist):
    client.force_login(scientist)
    response = client.get("/api/photos/", {"taken_after": "9999-12-31T23:00:00-05:00"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_editing_an_individual_answers_with_its_sighting_figures(client, scientist, registry_rows):
    client.force_login(scientist)
    leopard = registry_rows["leopard"]
    response = client.patch(
        f"/api/leopards/{leopard.code}/",
        {"name": "Kedrovaya", "version": leopard.version, "reason": "named"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Kedrovaya"
    assert body["sighting_count"] == 1
    assert body["first_seen"] == "2024-05-01T12:00:00Z"


def test_a_change_with_a_persons_reason_has_an_empty_reason_code_the_schema_allows(
    client, scientist, registry_rows
):
    client.force_login(scientist)
    change = client.get(f"/api/catalogue-changes/{registry_rows['change'].pk}/").json()
    assert change["reason_code"] == ""
    schema = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    allowed = [
        schema[ref["$ref"].rsplit("/", 1)[1]]["enum"]
        for ref in schema["CatalogueChange"]["properties"]["reason_code"]["oneOf"]
    ]
    assert [""] in allowed


def test_a_sighting_on_a_photo_without_an_event_has_a_null_event_the_schema_allows(
    client, scientist, registry_rows
):
    client.force_login(scientist)
    sighting = client.get(f"/api/sightings/{registry_rows['loose_sighting'].pk}/").json()
    assert sighting["event"] is None
    schema = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert schema["Sighting"]["properties"]["event"]["nullable"] is True


def test_the_changes_of_an_individual_are_one_plain_list(client, scientist, registry_rows):
    client.force_login(scientist)
    code = registry_rows["leopard"].code
    assert isinstance(client.get(f"/api/leopards/{code}/changes/").json(), list)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/leopards/{code}/changes/"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
