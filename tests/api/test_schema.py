"""The OpenAPI schema is generated from the code, validates, and has a documentation page."""

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")


def test_the_schema_lists_every_endpoint_and_token_auth(client, ranger):
    client.force_login(ranger)
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    for path in [
        "/api/parks/",
        "/api/stations/{id}/",
        "/api/deployments/{id}/",
        "/api/photos/",
        "/api/events/",
        "/api/census-results/",
        "/api/density-runs/",
        "/api/sightings/",
        "/api/leopards/",
        "/api/review/events/",
    ]:
        assert path in schema["paths"], path
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    assert "409" in schema["paths"]["/api/deployments/{id}/"]["put"]["responses"]


def test_the_schema_needs_a_login(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 401
    assert set(json.loads(response.content)) == {"detail", "code"}


def test_the_docs_page_loads_only_files_of_the_registry(client, ranger):
    client.force_login(ranger)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references
    assert not [r for r in references if "//" in r], references
    assert "<style" not in html
    assert not re.search(r"<script>", html)  # no inline script: the CSP forbids it
    for reference in references:
        if reference.startswith("/static/"):
            assert finders.find(reference.removeprefix("/static/")), reference
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
