"""Hostile and careless input: every endpoint that takes it answers 4xx and stores nothing.

The JSON write endpoints and the query parameters come from the registry's own
OpenAPI schema, so that a new endpoint is covered without being listed here.
"""

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from accounts.roles import Role
from leopards.models import CatalogueChange
from leopards.services.catalogue_edits import leopard_update
from leopards.services.second_opinion import second_opinion_request
from tests.factories import (
    DeploymentFactory,
    LeopardFactory,
    PhotoFactory,
    SightingFactory,
    StationFactory,
    UserFactory,
)
from traps.models import Event

pytestmark = pytest.mark.django_db

DEEP = 5_000


def _schema() -> dict:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


SCHEMA = _schema()


def _operations(predicate) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, operations in SCHEMA["paths"].items()
        for method, operation in operations.items()
        if predicate(method, operation)
    )


# Every operation that reads a JSON body, and every one with a path or query parameter.
JSON_WRITES = _operations(
    lambda method, op: "application/json" in op.get("requestBody", {}).get("content", {})
)
FORM_WRITES = _operations(
    lambda method, op: "multipart/form-data" in op.get("requestBody", {}).get("content", {})
)
READS_WITH_QUERY = _operations(
    lambda method, op: method == "get" and any(p["in"] == "query" for p in op.get("parameters", []))
)
WITH_PATH_PARAMETER = _operations(
    lambda method, op: method == "get" and any(p["in"] == "path" for p in op.get("parameters", []))
)
# Everything the registry stores that a refused request could have touched.
STORED_MODELS = [
    "traps.Park",
    "traps.Station",
    "traps.Deployment",
    "traps.MalfunctionPeriod",
    "traps.Photo",
    "traps.Event",
    "leopards.Leopard",
    "leopards.Sighting",
    "leopards.CatalogueChange",
    "leopards.SecondOpinion",
    "exchange.ImportRun",
    "exchange.DetectorResult",
]


def stored() -> dict[str, list[dict]]:
    """Return every stored row of the registry's records, to compare before and after."""
    return {
        label: list(apps.get_model(label).objects.order_by("pk").values())
        for label in STORED_MODELS
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Users are made for every test; hashing their passwords properly is most of its time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_of_park(park):
    """A registry administrator who is also a member of the park: every write is open to her."""
    return UserFactory(
        username="erin", role=Role.ADMIN, is_staff=True, is_superuser=True, parks=[park]
    )


@pytest.fixture
def rows(park, scientist) -> dict[str, object]:
    station = StationFactory(park=park)
    deployment = DeploymentFactory(station=station)
    photo = PhotoFactory(deployment=deployment, original_name="IMG_0001.JPG")
    leopard = LeopardFactory()
    event = Event.objects.create(deployment=deployment, start=photo.taken_at, end=photo.taken_at)
    photo.event = event
    photo.save(update_fields=["event"])
    sighting = SightingFactory(photo=photo, leopard=leopard)
    # A change to undo and a blind check to answer, so that their bodies are read too.
    leopard_update(
        leopard_id=leopard.pk,
        user=scientist,
        expected_version=leopard.version,
        changes={"name": "Kedrovaya"},
        reason="named after the valley",
    )
    leopard.refresh_from_db()
    opinion = second_opinion_request(sighting_id=sighting.pk, user=scientist)
    return {
        "change": CatalogueChange.objects.get(leopards=leopard),
        "opinion": opinion,
        "park": park,
        "station": station,
        "deployment": deployment,
        "photo": photo,
        "event": event,
        "leopard": leopard,
        "sighting": sighting,
    }


@pytest.fixture
def api(admin_of_park) -> Client:
    # A 500 is answered as a response (as in production), not raised into the test.
    client = Client(raise_request_exception=False)
    client.force_login(admin_of_park)
    return client


ROW_OF_PREFIX = {
    "/api/parks/": "park",
    "/api/stations/": "station",
    "/api/deployments/": "deployment",
    "/api/photos/": "photo",
    "/api/events/": "event",
    "/api/review/events/": "event",
    "/api/sightings/": "sighting",
    "/api/leopards/": "leopard",
    "/api/catalogue-changes/": "change",
    "/api/second-opinions/": "opinion",
}


def url_of(path: str, rows: dict[str, object]) -> str:
    """Fill a schema path's parameters with rows that exist, so that the body is read."""
    key = next((k for prefix, k in ROW_OF_PREFIX.items() if path.startswith(prefix)), None)
    row = rows.get(key) if key else None
    path = path.replace("{code}", getattr(row, "code", "LEO-1"))
    return re.sub(r"\{[^}]+\}", str(getattr(row, "pk", 1)), path)


def assert_refused_as_json(response, *, expected_codes: set[int] | None = None) -> dict:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    assert response.status_code >= 400, (response.status_code, response.content[:300])
    if expected_codes:
        assert response.status_code in expected_codes, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["detail"] and body["code"]
    return body


def send(client: Client, method: str, url: str, body: str | bytes, content_type: str):
    return client.generic(method, url, body, content_type=content_type)


# 11. Deeply nested JSON, and JSON that is no object, on every JSON write


HOSTILE_BODIES = {
    "deep list": "[" * DEEP + "]" * DEEP,
    "deep object": '{"a":' * DEEP + "1" + "}" * DEEP,
    "deep inside a field": '{"reason": ' + "[" * DEEP + "]" * DEEP + "}",
    "a list": "[]",
    "a string": '"confirm"',
    "a number": "7",
    "null": "null",
    "NaN": '{"version": NaN, "reason": NaN}',
    "integer of 400 digits": '{"version": 1' + "0" * 400 + ', "station": 1' + "0" * 400 + "}",
    "float beyond double": '{"version": 1e400, "bbox_x": 1e400}',
    "NUL in text": '{"reason": "a\\u0000b", "name": "\\u0000", "code": "\\u0000"}',
    "not UTF-8": b'{"reason": "\xff\xfe"}',
}


@pytest.mark.parametrize(("method", "path"), JSON_WRITES)
def test_every_json_write_refuses_hostile_bodies_and_stores_nothing(api, rows, method, path):
    before = stored()
    for name, body in HOSTILE_BODIES.items():
        response = send(api, method, url_of(path, rows), body, "application/json")
        assert response.status_code < 500, (name, response.content[:300])
        if name not in {"null"}:
            # "null" is an empty body to some parsers; everything else is refused.
            assert_refused_as_json(response)
    assert stored() == before


def test_the_json_write_list_covers_the_endpoints_that_were_found_failing():
    writes = {path for _, path in JSON_WRITES}
    assert "/api/sightings/{id}/confirm/" in writes
    assert "/api/leopards/{code}/" in writes
    assert "/api/catalogue-changes/{id}/undo/" in writes
    assert len(writes) >= 20


def test_confirm_with_a_body_that_is_no_object_is_a_400(api, rows):
    url = f"/api/sightings/{rows['sighting'].pk}/confirm/"
    for body in ("[1, 2]", '"LEO-100"', '{"leopard": ["LEO-100"]}', '{"leopard": {"a": 1}}'):
        response = send(api, "POST", url, body, "application/json")
        assert_refused_as_json(response, expected_codes={400})


def test_a_deep_body_is_refused_with_its_reason(api, rows):
    url = f"/api/leopards/{rows['leopard'].code}/"
    response = send(
        api, "PATCH", url, '{"name":' + "[" * DEEP + "]" * DEEP + "}", "application/json"
    )
    assert assert_refused_as_json(response, expected_codes={400})["code"] == "json_too_deep"


# 16. Too many form fields under /api/ is a JSON 400


@pytest.mark.parametrize(("method", "path"), FORM_WRITES)
def test_too_many_form_fields_on_the_api_is_a_json_400(api, rows, method, path):
    fields = {f"f{i}": "x" for i in range(5_000)}
    before = stored()
    urlencoded = "&".join(f"{k}={v}" for k, v in fields.items())
    response = send(
        api, method, url_of(path, rows), urlencoded, "application/x-www-form-urlencoded"
    )
    # A view that refuses before it reads the body (no such row) may answer 404 instead.
    assert_refused_as_json(response)
    response = api.generic(
        method,
        url_of(path, rows),
        _multipart(fields),
        content_type="multipart/form-data; boundary=BoUnDaRy",
    )
    assert_refused_as_json(response)
    assert stored() == before


def test_too_many_form_fields_is_refused_with_its_reason(api, rows):
    fields = "&".join(f"f{i}=x" for i in range(5_000))
    for url in ("/api/deployments/", "/api/photos/"):
        response = api.generic("POST", url, fields, "application/x-www-form-urlencoded")
        body = assert_refused_as_json(response, expected_codes={400})
        assert body == {"detail": "The request has too many fields.", "code": "too_many_fields"}


def _multipart(fields: dict[str, str]) -> bytes:
    parts = [
        f'--BoUnDaRy\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    return ("".join(parts) + "--BoUnDaRy--\r\n").encode()


def test_a_form_body_past_the_memory_limit_on_the_api_is_a_json_4xx(api, rows, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    before = stored()
    body = "notes=" + "x" * 4096
    for method, url in (("POST", "/api/deployments/"), ("POST", "/api/photos/")):
        response = api.generic(method, url, body, "application/x-www-form-urlencoded")
        assert_refused_as_json(response)
    assert stored() == before


def test_too_many_form_fields_on_a_page_is_still_the_html_400(api, rows):
    fields = "&".join(f"f{i}=x" for i in range(5_000))
    response = api.generic(
        "POST", reverse("exchange:likely-blanks"), fields, "application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


# 10. A NUL in a path or a query value


@pytest.mark.parametrize(("method", "path"), WITH_PATH_PARAMETER)
def test_a_nul_in_a_path_parameter_is_a_json_4xx(api, rows, method, path):
    url = re.sub(r"\{[^}]+\}", "%00", path)
    assert_refused_as_json(api.get(url))


@pytest.mark.parametrize(("method", "path"), READS_WITH_QUERY)
def test_a_nul_in_any_query_value_is_a_json_400(api, rows, method, path):
    parameters = [
        p["name"] for p in SCHEMA["paths"][path][method.lower()]["parameters"] if p["in"] == "query"
    ]
    url = url_of(path, rows)
    for name in [*parameters, "q"]:
        response = api.get(url, {name: "a\x00b"})
        assert assert_refused_as_json(response, expected_codes={400})["code"] == "null_character"


ODD_VALUES = ("9" * 30, "-9" * 15, "1e400", "NaN", "0001-01-01", "9999-12-31", "x" * 3000, "[]")


@pytest.mark.parametrize(("method", "path"), READS_WITH_QUERY)
def test_odd_values_in_any_query_parameter_are_no_server_error(api, rows, method, path):
    parameters = [
        p["name"] for p in SCHEMA["paths"][path][method.lower()]["parameters"] if p["in"] == "query"
    ]
    url = url_of(path, rows)
    for name in parameters:
        for value in ODD_VALUES:
            response = api.get(url, {name: value})
            assert response.status_code < 500, (name, value, response.content[:300])
            assert response["Content-Type"].startswith("application/json")


def test_a_nul_in_a_page_address_is_a_400_page(api, rows):
    for url in ("/leopards/%00/", "/census/%00/", f"/census/{rows['park'].code}/?start=%00"):
        response = api.get(url)
        assert response.status_code == 400, url
        assert response["Content-Type"].startswith("text/html")


# 9. Days at the ends of the calendar


FAR_DAYS = ("0001-01-01", "9999-12-31")


@pytest.mark.parametrize("resource", ["deployments", "events"])
def test_api_day_filters_at_the_ends_of_the_calendar_are_a_400(api, rows, resource):
    for name in ("date_from", "date_to"):
        for day in FAR_DAYS:
            response = api.get(f"/api/{resource}/", {name: day})
            body = assert_refused_as_json(response, expected_codes={400})
            assert name in body["errors"]


def test_review_queue_day_bounds_at_the_ends_of_the_calendar_are_no_bound(api, rows):
    for day in FAR_DAYS:
        response = api.get("/api/review/events/", {"date_from": day, "date_to": day})
        assert response.status_code == 200, response.content[:300]
        response = api.get("/api/leopards/", {"seen_since": day})
        assert response.status_code == 200, response.content[:300]


def census_urls(code: str) -> list[str]:
    return [
        "/census/",
        f"/census/{code}/",
        *[f"/census/{code}/{table}.csv" for table in ("periods", "stations", "individuals")],
        *[f"/census/landscape/{table}.csv" for table in ("periods", "stations", "individuals")],
    ]


def survey_urls(code: str) -> list[str]:
    return [
        f"/census/{code}/survey/",
        f"/census/{code}/survey/histories.csv",
        f"/census/{code}/survey/secr.zip",
    ]


def far_queries() -> Iterator[dict[str, str]]:
    for day in FAR_DAYS:
        yield {"period": "range", "start": day, "end": day}
        yield {"period": "month", "start": day}
        yield {"period": "season", "end": day}
        yield {"start": day, "end": day, "occasion_days": "7"}
        yield {"start": "2024-01-01", "end": day, "occasion_days": "7"}
        yield {"year": day[:4].lstrip("0")}


def test_census_pages_and_downloads_refuse_days_at_the_ends_of_the_calendar(api, rows):
    before = stored()
    code = rows["park"].code
    for url in census_urls(code) + survey_urls(code):
        for query in far_queries():
            response = api.get(url, query)
            assert response.status_code < 500, (url, query, response.content[:300])
    assert stored() == before


def test_the_survey_page_says_which_days_it_takes(api, rows):
    response = api.get(
        f"/census/{rows['park'].code}/survey/",
        {"start": "0001-01-01", "end": "0001-03-31", "occasion_days": "7"},
    )
    assert response.status_code == 200
    assert "Enter a day between 1900-01-01 and 2199-12-31." in response.text


def test_a_census_download_for_days_it_cannot_read_is_a_400(api, rows):
    code = rows["park"].code
    for url in census_urls(code)[2:] + survey_urls(code)[1:]:
        response = api.get(url, {"period": "range", "start": "9999-12-31", "end": "9999-12-31"})
        assert response.status_code in {400, 404}, (url, response.status_code)


def test_pages_with_day_filters_refuse_days_at_the_ends_of_the_calendar(api, rows):
    for url, query in (
        (reverse("leopards:review-queue"), {"date_from": "0001-01-01", "date_to": "9999-12-31"}),
        (reverse("leopards:leopard-list"), {"seen_since": "9999-12-31"}),
    ):
        response = api.get(url, query)
        assert response.status_code < 500, (url, response.content[:300])


# The handlers behind them


def test_an_unexpected_error_under_the_api_is_a_json_500(api, rows, monkeypatch):
    from traps import api as traps_api

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(traps_api.DeploymentViewSet, "list", broken)
    response = api.get("/api/deployments/")
    assert response.status_code == 500
    assert response.json() == {"detail": "A server error occurred.", "code": "server_error"}


def test_an_unexpected_error_on_a_page_is_still_the_html_500(api, rows, monkeypatch):
    from census import views

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "dashboard", broken)
    response = api.get("/census/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_a_fine_body_still_writes(api, rows):
    leopard = rows["leopard"]
    response = api.patch(
        f"/api/leopards/{leopard.code}/",
        {"name": "Zolotaya", "version": leopard.version, "reason": "named"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    leopard.refresh_from_db()
    assert leopard.name == "Zolotaya"


def test_a_day_filter_inside_the_calendar_still_filters(api, rows):
    start = rows["deployment"].start
    response = api.get("/api/deployments/", {"date_to": (start - timedelta(days=2)).date()})
    assert response.status_code == 200
    assert response.json()["count"] == 0
