"""Every URL has a permission rule; anonymous visitors and outsiders get nothing.

The URL conf is walked with ``get_resolver()``; a URL pattern without an entry
in RULES (or a prefix rule) fails ``test_every_url_has_a_rule``, so a new
page or endpoint cannot ship without saying who may use it. For each rule:

- anonymous visitors are sent to the login page (pages) or get 401 (API);
- an outsider (charlie, a scientist of another park) gets 404 for anything
  of the park "alpha", and pages or lists that are not about one object show
  nothing of it (its name, the camera serial, the photo hash);
- every admin page sends both to the admin login.

TODO (next round, when the pages exist): the patterns under these prefixes
are skipped here, not failed, because the review workspace and the Django side
of matching are still being built. Give each of them a rule and remove it
from SKIPPED_PREFIXES:
- review/ (review queue, event review, claim/release/skip/classify/finish,
  sighting identification, mother-kitten link)
- leopards/, individuals/ (catalogue pages: list, detail, edit, merge, split,
  link flanks, undo)
- sightings/ (sighting crops), second-opinion/ (second-opinion queue and checks)
- api/leopards, api/sightings, api/review, api/catalogue-changes,
  api/second-opinions (the REST side of the same)
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from census.models import CensusResult
from leopards.models import Leopard, MatchCandidate, Sighting
from tests.factories import DeploymentFactory, StationFactory, jpeg_bytes
from tests.traps.ingest import ingest

pytestmark = pytest.mark.django_db

SKIPPED_PREFIXES = (
    "review/",
    "leopards/",
    "individuals/",
    "sightings/",
    "second-opinion/",
    "api/leopards",
    "api/sightings",
    "api/review",
    "api/catalogue-changes",
    "api/second-opinions",
)
ADMIN_PREFIX = "admin/"
SERIAL = "CAMALPHA77"


@dataclass
class World:
    """Records of the park "alpha" that no outsider may see."""

    park: object
    deployment: object
    photo: object

    @property
    def markers(self) -> list[str]:
        return [self.park.name, SERIAL, self.photo.sha256, self.deployment.station.code]


@dataclass(frozen=True)
class Rule:
    # page: login page for anonymous; api: 401; public: open to anyone.
    kind: str
    path: Callable[[World], str]
    method: str = "get"
    data: Callable[[World], dict] = field(default=lambda w: {})
    # 404: an object of alpha; hidden: a page that is not about one object and
    # must show none of alpha's markers; open: the same for everyone.
    outsider: str = "404"
    content_type: str | None = None


def _csv(name: str) -> Callable[[World], str]:
    return lambda w: f"/census/alpha/{name}"


def _census(w: World) -> CensusResult:
    return CensusResult.objects.get_or_create(
        park=w.park, year=2024, defaults={"reference_date": date(2024, 6, 30)}
    )[0]


def _candidate(w: World) -> MatchCandidate:
    sighting = Sighting.objects.create(
        photo=w.photo, bbox_x=0.1, bbox_y=0.1, bbox_w=0.5, bbox_h=0.5
    )
    leopard = Leopard.objects.create(code="LEO-ALPHA-1")
    return MatchCandidate.objects.create(sighting=sighting, leopard=leopard, rank=1, score=9.0)


SURVEY = "?start=2024-05-01&end=2024-05-31&occasion_days=7"

RULES: dict[str, Rule] = {
    "home": Rule("page", lambda w: "/", outsider="hidden"),
    "login": Rule("public", lambda w: "/accounts/login/", outsider="open"),
    "logout": Rule("public", lambda w: "/accounts/logout/", method="post", outsider="open"),
    "set_language": Rule(
        "public",
        lambda w: "/i18n/setlang/",
        method="post",
        data=lambda w: {"language": "en"},
        outsider="open",
    ),
    "api-root": Rule("api", lambda w: "/api/", outsider="open"),
    "api-schema": Rule("api", lambda w: "/api/schema/", outsider="open"),
    "deployment-list": Rule("api", lambda w: "/api/deployments/", outsider="hidden"),
    "deployment-detail": Rule("api", lambda w: f"/api/deployments/{w.deployment.pk}/"),
    "photo-list": Rule("api", lambda w: "/api/photos/", outsider="hidden"),
    "photo-detail": Rule("api", lambda w: f"/api/photos/{w.photo.pk}/"),
    "photo-retry": Rule("api", lambda w: f"/api/photos/{w.photo.pk}/retry/", method="post"),
    # Only "this hash is stored elsewhere": whoever asks already holds the file.
    "photo-lookup": Rule(
        "api",
        lambda w: "/api/photos/lookup/",
        method="post",
        data=lambda w: {"sha256": [w.photo.sha256]},
        content_type="application/json",
        outsider="lookup",
    ),
    "photo-propose-deployment": Rule(
        "api",
        lambda w: "/api/photos/propose-deployment/",
        method="post",
        data=lambda w: {"file": SimpleUploadedFile("p.jpg", jpeg_bytes(serial=SERIAL, seed=5))},
        outsider="proposal",
    ),
    "exchange:index": Rule("page", lambda w: "/exchange/", outsider="hidden"),
    "exchange:export": Rule(
        "page", lambda w: "/exchange/export/", method="post", data=lambda w: {"park": "alpha"}
    ),
    "exchange:import-package": Rule(
        "page",
        lambda w: "/exchange/import/camtrap-dp/",
        method="post",
        data=lambda w: {"park": "alpha"},
    ),
    "exchange:import-megadetector": Rule(
        "page",
        lambda w: "/exchange/import/megadetector/",
        method="post",
        data=lambda w: {"deployment": w.deployment.pk},
    ),
    "exchange:likely-blanks": Rule("page", lambda w: "/exchange/likely-blanks/", outsider="hidden"),
    "census:dashboard": Rule("page", lambda w: "/census/", outsider="hidden"),
    "census:landscape-csv": Rule(
        "page", lambda w: "/census/landscape/stations.csv", outsider="hidden"
    ),
    "census:park": Rule("page", lambda w: "/census/alpha/"),
    "census:park-csv": Rule("page", _csv("stations.csv")),
    "census:survey": Rule("page", lambda w: "/census/alpha/survey/"),
    "census:histories-csv": Rule("page", lambda w: f"/census/alpha/survey/histories.csv{SURVEY}"),
    "census:secr": Rule("page", lambda w: f"/census/alpha/survey/secr.zip{SURVEY}"),
    "traps:upload": Rule("page", lambda w: "/upload/", outsider="hidden"),
    "traps:deployment-list": Rule("page", lambda w: "/deployments/", outsider="hidden"),
    "traps:deployment-detail": Rule("page", lambda w: f"/deployments/{w.deployment.pk}/"),
    "traps:deployment-clock": Rule(
        "page",
        lambda w: f"/deployments/{w.deployment.pk}/clock/",
        method="post",
        data=lambda w: {"offset": "+00:10:00", "version": w.deployment.version},
    ),
    "traps:photo-retry": Rule("page", lambda w: f"/photos/{w.photo.pk}/retry/", method="post"),
    "api-docs": Rule("api", lambda w: "/api/docs/", outsider="open"),
    "park-list": Rule("api", lambda w: "/api/parks/", outsider="hidden"),
    "park-detail": Rule("api", lambda w: f"/api/parks/{w.park.pk}/"),
    "station-list": Rule("api", lambda w: "/api/stations/", outsider="hidden"),
    "station-detail": Rule("api", lambda w: f"/api/stations/{w.deployment.station_id}/"),
    "event-list": Rule("api", lambda w: "/api/events/", outsider="hidden"),
    "event-detail": Rule("api", lambda w: f"/api/events/{w.photo.event_id}/"),
    "census-result-list": Rule("api", lambda w: "/api/census-results/", outsider="hidden"),
    "census-result-detail": Rule("api", lambda w: f"/api/census-results/{_census(w).pk}/"),
    "candidate-list": Rule("api", lambda w: "/api/candidates/", outsider="hidden"),
    "candidate-detail": Rule("api", lambda w: f"/api/candidates/{_candidate(w).pk}/"),
    "traps:photo-file": Rule("page", lambda w: f"/photos/{w.photo.pk}/file"),
    "traps:photo-thumbnail": Rule("page", lambda w: f"/photos/{w.photo.pk}/thumbnail"),
}


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str | None]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield prefix + str(pattern.pattern), name


def _routes() -> list[tuple[str, str | None]]:
    # "api/^photos/$" reads as "api/photos/": regex anchors of included patterns dropped.
    return [
        (re.sub(r"\^|\$", "", route), name) for route, name in _walk(get_resolver().url_patterns)
    ]


def test_every_url_has_a_rule():
    missing = []
    for route, name in _routes():
        if route.startswith(ADMIN_PREFIX) or route.startswith(SKIPPED_PREFIXES):
            continue
        if name not in RULES:
            missing.append(f"{route} (name {name!r})")
    assert not missing, "URLs without a permission rule in RULES:\n" + "\n".join(missing)


def test_every_rule_names_a_url():
    names = {name for _route, name in _routes()}
    assert not set(RULES) - names


@pytest.fixture
def world(park):
    station = StationFactory(park=park, code="ALPHA-ST-9")
    deployment = DeploymentFactory(station=station, camera_serial=SERIAL, end=None)
    photo = ingest(deployment, datetime(2024, 5, 10, 12, 0), serial=SERIAL)
    return World(park=park, deployment=deployment, photo=photo)


def _request(client, rule: Rule, world: World):
    kwargs = {"data": rule.data(world)}
    if rule.content_type:
        kwargs["content_type"] = rule.content_type
    return getattr(client, rule.method)(rule.path(world), **kwargs)


def _body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode(errors="replace")


@pytest.mark.parametrize("name", sorted(RULES))
def test_anonymous_visitors_get_nothing(client, world, name):
    rule = RULES[name]
    response = _request(client, rule, world)
    if rule.kind == "page":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif rule.kind == "api":
        assert response.status_code == 401
    else:
        assert response.status_code in (200, 302)
    body = _body(response)
    assert not [m for m in world.markers if m in body]


@pytest.mark.parametrize("name", sorted(RULES))
def test_outsiders_get_404_or_nothing_of_the_park(client, world, outsider, other_park, name):
    # The outsider works with data of their own park, which they do see.
    DeploymentFactory(station__park=other_park)
    rule = RULES[name]
    client.force_login(outsider)
    response = _request(client, rule, world)
    body = _body(response)
    if rule.outsider == "404":
        assert response.status_code == 404
    elif rule.outsider == "lookup":
        assert response.status_code == 200
        assert response.json()["found"] == []
    elif rule.outsider == "proposal":
        assert response.json()["deployments"] == []
    else:
        assert response.status_code in (200, 302)
    leaked = [m for m in world.markers if m in body and rule.outsider != "lookup"]
    assert not leaked


def _admin_paths() -> list[str]:
    paths = ["/admin/"]
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        paths += [base, f"{base}add/", f"{base}1/change/"]
    return paths


def test_every_admin_page_needs_a_staff_login(client, outsider, manager):
    for who in (None, outsider, manager):
        if who is not None:
            client.force_login(who)
        for path in _admin_paths():
            response = client.get(path)
            assert response.status_code == 302, path
            assert response["Location"].startswith(("/admin/login/", "/accounts/login/")), path
