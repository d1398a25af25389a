"""Every URL has a permission rule; anonymous visitors and outsiders get nothing.

The URL conf is walked with ``get_resolver()``; a URL pattern without an entry
in RULES (or a prefix rule) fails ``test_every_url_has_a_rule``, so a new
page or endpoint cannot ship without saying who may use it. For each rule:

- anonymous visitors are sent to the login page (pages) or get 401 (API);
- an outsider (charlie, a scientist of another park) gets 404 for anything
  of the park "alpha", and pages or lists that are not about one object show
  nothing of it (its name, the camera serial, the photo hash);
- every admin page sends both to the admin login.

A confirmed sighting's crop is the documented exception: it shows only the coat,
so every scientist may compare it across the border (outsider rule "open").
"""

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image

from census.models import CensusResult
from leopards.models import CatalogueChange, Leopard, MatchCandidate, SecondOpinion, Sighting
from tests.factories import DeploymentFactory, StationFactory, jpeg_bytes
from tests.traps.ingest import ingest

pytestmark = pytest.mark.django_db

ADMIN_PREFIX = "admin/"
SERIAL = "CAMALPHA77"
LEOPARD = "LEO-ALPHA-7"


@dataclass
class World:
    """Records of the park "alpha" that no outsider may see."""

    park: object
    deployment: object
    photo: object
    # A leopard seen only in alpha, its confirmed sighting, an open box, the
    # change that identified it and a blind check of that identification.
    leopard: Leopard
    sighting: Sighting
    proposed: Sighting
    change: CatalogueChange
    opinion: SecondOpinion

    @property
    def markers(self) -> list[str]:
        return [
            self.park.name,
            SERIAL,
            self.photo.sha256,
            self.deployment.station.code,
            self.leopard.code,
            self.leopard.name,
        ]


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


def _review_event(action: str = "") -> Callable[[World], str]:
    return lambda w: f"/review/events/{w.photo.event_id}/{action}"


def _api_event(action: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/review/events/{w.photo.event_id}/{action}"


def _api_post(path: Callable[[World], str], data: Callable[[World], dict] = lambda w: {}) -> Rule:
    return Rule("api", path, method="post", data=data, content_type="application/json")


SURVEY = "?start=2024-05-01&end=2024-05-31&occasion_days=7"

RULES: dict[str, Rule] = {
    "home": Rule("page", lambda w: "/", outsider="hidden"),
    "login": Rule("public", lambda w: "/accounts/login/", outsider="open"),
    # The icon browsers ask for by themselves, signed in or not.
    "favicon": Rule("public", lambda w: "/favicon.ico", outsider="open"),
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
    # The review workspace: only events, sightings and individuals of one's parks.
    "leopards:review-queue": Rule("page", lambda w: "/review/", outsider="hidden"),
    "leopards:event-review": Rule("page", _review_event()),
    "leopards:event-claim": Rule("page", _review_event("claim/"), method="post"),
    "leopards:event-release": Rule("page", _review_event("release/"), method="post"),
    "leopards:event-skip": Rule("page", _review_event("skip/"), method="post"),
    "leopards:event-classify": Rule(
        "page",
        _review_event("classify/"),
        method="post",
        data=lambda w: {"content": "blank", "version": 1},
    ),
    "leopards:event-finish": Rule(
        "page", _review_event("finish/"), method="post", data=lambda w: {"version": 1}
    ),
    "leopards:sighting-identify": Rule(
        "page",
        lambda w: f"/review/sightings/{w.proposed.pk}/",
        method="post",
        data=lambda w: {"action": "confirm", "leopard": w.leopard.pk, "version": 1},
    ),
    "leopards:mother-link": Rule(
        "page",
        lambda w: "/review/mother/",
        method="post",
        data=lambda w: {"kitten": w.leopard.pk, "mother_code": LEOPARD},
    ),
    # Documented exception: a confirmed reference's crop shows only the coat, so any
    # scientist may compare it across the border (an open box's crop is a 404, below).
    "leopards:sighting-crop": Rule(
        "page", lambda w: f"/sightings/{w.sighting.pk}/crop", outsider="open"
    ),
    "leopards:leopard-list": Rule("page", lambda w: "/leopards/", outsider="hidden"),
    "leopards:leopard-link-flanks": Rule(
        "page",
        lambda w: "/leopards/link-flanks/",
        method="post",
        data=lambda w: {"left": w.sighting.pk, "right": w.proposed.pk},
    ),
    "leopards:change-undo": Rule(
        "page", lambda w: f"/leopards/changes/{w.change.pk}/undo/", method="post"
    ),
    "leopards:leopard-detail": Rule("page", lambda w: f"/leopards/{LEOPARD}/"),
    "leopards:leopard-edit": Rule(
        "page",
        lambda w: f"/leopards/{LEOPARD}/edit/",
        method="post",
        data=lambda w: {"name": "Renamed", "version": 1, "reason": "x"},
    ),
    "leopards:leopard-merge": Rule(
        "page",
        lambda w: f"/leopards/{LEOPARD}/merge/",
        method="post",
        data=lambda w: {"other": LEOPARD, "reason": "x"},
    ),
    "leopards:leopard-split": Rule(
        "page",
        lambda w: f"/leopards/{LEOPARD}/split/",
        method="post",
        data=lambda w: {"sightings": [w.sighting.pk], "reason": "x"},
    ),
    "leopards:second-opinion-queue": Rule("page", lambda w: "/second-opinion/", outsider="hidden"),
    "leopards:second-opinion-agreement": Rule(
        "page", lambda w: "/second-opinion/agreement/", outsider="hidden"
    ),
    "leopards:second-opinion-check": Rule("page", lambda w: f"/second-opinion/{w.opinion.pk}/"),
    # The REST side of the same.
    "review-event-list": Rule("api", lambda w: "/api/review/events/", outsider="hidden"),
    "review-event-detail": Rule("api", _api_event()),
    "review-event-claim": _api_post(_api_event("claim/")),
    "review-event-release": _api_post(_api_event("release/")),
    "review-event-classify": _api_post(
        _api_event("classify/"), lambda w: {"content": "blank", "version": 1}
    ),
    "review-event-finish": _api_post(_api_event("finish/"), lambda w: {"version": 1}),
    "sighting-list": Rule("api", lambda w: "/api/sightings/", outsider="hidden"),
    "sighting-detail": Rule("api", lambda w: f"/api/sightings/{w.sighting.pk}/"),
    "sighting-confirm": _api_post(
        lambda w: f"/api/sightings/{w.proposed.pk}/confirm/",
        lambda w: {"leopard": LEOPARD, "version": 1},
    ),
    "sighting-new-individual": _api_post(
        lambda w: f"/api/sightings/{w.proposed.pk}/new-individual/", lambda w: {"version": 1}
    ),
    "sighting-unidentifiable": _api_post(
        lambda w: f"/api/sightings/{w.proposed.pk}/unidentifiable/", lambda w: {"version": 1}
    ),
    "sighting-unconfirm": _api_post(
        lambda w: f"/api/sightings/{w.sighting.pk}/unconfirm/", lambda w: {"version": 1}
    ),
    "sighting-remove": _api_post(
        lambda w: f"/api/sightings/{w.proposed.pk}/remove/", lambda w: {"version": 1}
    ),
    "leopard-list": Rule("api", lambda w: "/api/leopards/", outsider="hidden"),
    "leopard-detail": Rule("api", lambda w: f"/api/leopards/{LEOPARD}/"),
    "leopard-changes": Rule("api", lambda w: f"/api/leopards/{LEOPARD}/changes/"),
    "leopard-merge": _api_post(
        lambda w: f"/api/leopards/{LEOPARD}/merge/", lambda w: {"other": LEOPARD, "reason": "x"}
    ),
    "leopard-split": _api_post(
        lambda w: f"/api/leopards/{LEOPARD}/split/",
        lambda w: {"sightings": [w.sighting.pk], "reason": "x"},
    ),
    "leopard-link-flanks": _api_post(
        lambda w: "/api/leopards/link-flanks/",
        lambda w: {"left": w.sighting.pk, "right": w.proposed.pk},
    ),
    "catalogue-change-list": Rule("api", lambda w: "/api/catalogue-changes/", outsider="hidden"),
    "catalogue-change-detail": Rule("api", lambda w: f"/api/catalogue-changes/{w.change.pk}/"),
    "catalogue-change-undo": _api_post(lambda w: f"/api/catalogue-changes/{w.change.pk}/undo/"),
    "second-opinion-list": Rule("api", lambda w: "/api/second-opinions/", outsider="hidden"),
    "second-opinion-agreement": Rule(
        "api", lambda w: "/api/second-opinions/agreement/", outsider="hidden"
    ),
    "second-opinion-detail": Rule("api", lambda w: f"/api/second-opinions/{w.opinion.pk}/"),
    "second-opinion-answer": _api_post(
        lambda w: f"/api/second-opinions/{w.opinion.pk}/answer/",
        lambda w: {"answer": "leopard", "leopard": LEOPARD},
    ),
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
        if route.startswith(ADMIN_PREFIX):
            continue
        if name not in RULES:
            missing.append(f"{route} (name {name!r})")
    assert not missing, "URLs without a permission rule in RULES:\n" + "\n".join(missing)


def test_every_rule_names_a_url():
    names = {name for _route, name in _routes()}
    assert not set(RULES) - names


@pytest.fixture
def world(park, scientist):
    station = StationFactory(park=park, code="ALPHA-ST-9")
    deployment = DeploymentFactory(station=station, camera_serial=SERIAL, end=None)
    photo = ingest(deployment, datetime(2024, 5, 10, 12, 0), serial=SERIAL)
    leopard = Leopard.objects.create(code=LEOPARD, name="Kedrovaya", sex="female")
    box = {"bbox_x": 0.1, "bbox_y": 0.1, "bbox_w": 0.5, "bbox_h": 0.5}
    sighting = Sighting.objects.create(
        photo=photo,
        leopard=leopard,
        flank="left",
        status=Sighting.Status.CONFIRMED,
        identified_by=scientist,
        **box,
    )
    proposed = Sighting.objects.create(photo=photo, flank="right", **box)
    change = CatalogueChange.objects.create(
        kind=CatalogueChange.Kind.CONFIRM, user=scientist, reason="rosettes match"
    )
    change.leopards.add(leopard)
    change.sightings.add(sighting)
    opinion = SecondOpinion.objects.create(
        sighting=sighting, first_leopard=leopard, first_by=scientist
    )
    return World(
        park=park,
        deployment=deployment,
        photo=photo,
        leopard=leopard,
        sighting=sighting,
        proposed=proposed,
        change=change,
        opinion=opinion,
    )


def _request(client, rule: Rule, world: World, path: str | None = None):
    kwargs = {"data": rule.data(world)}
    if rule.content_type:
        kwargs["content_type"] = rule.content_type
    return getattr(client, rule.method)(path or rule.path(world), **kwargs)


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
    # Some paths create their object: build each once.
    asked = rule.path(world)
    response = _request(client, rule, world, asked)
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
    # "No individual LEO-ALPHA-7 in your parks" only repeats what the outsider asked for.
    leaked = [
        m for m in world.markers if m in body and m not in asked and rule.outsider != "lookup"
    ]
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


def _crop(client, sighting: Sighting):
    return client.get(f"/sightings/{sighting.pk}/crop")


def test_outsiders_get_404_for_the_crop_of_an_unconfirmed_sighting(client, world, outsider):
    client.force_login(outsider)
    assert _crop(client, world.proposed).status_code == 404
    assert _crop(client, world.sighting).status_code == 200


def test_a_crop_shown_across_the_border_carries_no_exif_nor_the_photo_hash(client, world, outsider):
    with world.photo.file.open("rb") as handle, Image.open(handle) as original:
        # The stored photo does carry the camera's EXIF: the crop must drop it.
        assert original.getexif()
    client.force_login(outsider)
    response = _crop(client, world.sighting)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as crop:
        assert not crop.getexif()
        assert "exif" not in crop.info
        assert "xmp" not in crop.info
    assert SERIAL.encode() not in response.content
    assert b"Panthera" not in response.content
    assert world.photo.sha256[:8] not in response["ETag"]
