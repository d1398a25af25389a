"""Every URL has a permission rule; anonymous visitors and outsiders get nothing.

The URL conf is walked with ``get_resolver()``; a URL pattern without an entry
in RULES (or a prefix rule) fails ``test_every_url_has_a_rule``, so a new
page or endpoint cannot ship without saying who may use it. For each rule:

- anonymous visitors are sent to the login page (pages) or get 401 (API);
- an outsider (charlie, a scientist of another park) gets 404 for anything
  of the park "alpha", and pages or lists that are not about one object show
  nothing of it (its name, the camera serial, the photo hash);
- every admin page sends both to the admin login;
- each role of the park (and a member without a role) may use exactly the URLs
  whose permission in ROLE_PERMISSION its role holds in the role table
  (accounts.roles.PERMISSIONS, which is README's table): a refusal is a 403 or a
  404, or for a page that is not about one object none of the park's markers.

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
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image

from accounts import roles
from accounts.roles import Role
from census.models import CensusResult, DensityRun
from exchange.models import ExchangeJob, ImportRun, Observation, PartnerAlias
from leopards.models import CatalogueChange, Leopard, MatchCandidate, SecondOpinion, Sighting
from tests.factories import DeploymentFactory, StationFactory, UserFactory, jpeg_bytes
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
    # Exchange jobs are their requester's own: the role test makes each role the requester.
    job_owner: object = None

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


def _density(w: World) -> DensityRun:
    return DensityRun.objects.create(
        park=w.park,
        start=date(2024, 5, 1),
        end=date(2024, 5, 31),
        buffer_m=12000,
        status=DensityRun.Status.DONE,
        progress=100,
        result={"reason": "too few animals"},
    )


def _candidate(w: World) -> MatchCandidate:
    sighting = Sighting.objects.create(
        photo=w.photo, bbox_x=0.1, bbox_y=0.1, bbox_w=0.5, bbox_h=0.5
    )
    leopard = Leopard.objects.create(code="LEO-ALPHA-1")
    return MatchCandidate.objects.create(sighting=sighting, leopard=leopard, rank=1, score=9.0)


def _alias(w: World) -> PartnerAlias:
    """A partner's id for alpha's leopard, seen on alpha's photo."""
    run = ImportRun.objects.create(kind=ImportRun.Kind.CAMTRAP_DP, park=w.park, organisation="P")
    Observation.objects.create(
        import_run=run,
        deployment=w.deployment,
        photo=w.photo,
        sighting=w.sighting,
        identifier="obs-alias",
        level="media",
        type="animal",
        individual_id="P-1",
    )
    return PartnerAlias.objects.create(
        organisation="P", partner_id="P-1", leopard=w.leopard, confirmed_at=w.change.created_at
    )


def _waiting_partner_id(w: World) -> dict:
    """A partner's id seen on alpha's open box that no alias names yet, and a choice for it."""
    run = ImportRun.objects.create(
        kind=ImportRun.Kind.CAMTRAP_DP, park=w.park, organisation="NETLNP"
    )
    Observation.objects.create(
        import_run=run,
        deployment=w.deployment,
        photo=w.photo,
        sighting=w.proposed,
        identifier="obs-waiting",
        level="media",
        type="animal",
        individual_id="NE-L12",
    )
    return {"organisation": "NETLNP", "partner_id": "NE-L12", "leopard": LEOPARD}


def _job(w: World) -> ExchangeJob:
    """An export of alpha, finished; its owner is the user under test where one is set."""
    owner = w.job_owner or get_user_model().objects.get_or_create(username="alpha-exporter")[0]
    job = ExchangeJob.objects.create(
        kind=ExchangeJob.Kind.EXPORT,
        park=w.park,
        requested_by=owner,
        status=ExchangeJob.Status.DONE,
        parameters={"source_name": SERIAL},
    )
    job.file.save("package.zip", ContentFile(SERIAL.encode()))
    return job


def _waiting_import(w: World) -> ExchangeJob:
    """An upload that named no park, waiting for its owner to confirm one."""
    owner = w.job_owner or get_user_model().objects.get_or_create(username="alpha-importer")[0]
    return ExchangeJob.objects.create(
        kind=ExchangeJob.Kind.IMPORT,
        requested_by=owner,
        status=ExchangeJob.Status.WAITING,
        parameters={"source_name": SERIAL, "proposal": {"park": "alpha"}},
    )


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
    "exchange:partner-alias-confirm": Rule(
        "page",
        lambda w: "/exchange/partner-aliases/",
        method="post",
        data=_waiting_partner_id,
    ),
    "exchange:partner-alias-withdraw": Rule(
        "page", lambda w: f"/exchange/partner-aliases/{_alias(w).pk}/withdraw/", method="post"
    ),
    "exchange:job": Rule("page", lambda w: f"/exchange/jobs/{_job(w).key}/"),
    "exchange:job-status": Rule("page", lambda w: f"/exchange/jobs/{_job(w).key}/status/"),
    "exchange:job-park": Rule(
        "page",
        lambda w: f"/exchange/jobs/{_waiting_import(w).key}/park/",
        method="post",
        data=lambda w: {"park": "alpha"},
    ),
    "exchange:job-download": Rule("page", lambda w: f"/exchange/jobs/{_job(w).key}/download/"),
    "census:dashboard": Rule("page", lambda w: "/census/", outsider="hidden"),
    "census:landscape-csv": Rule(
        "page", lambda w: "/census/landscape/stations.csv", outsider="hidden"
    ),
    "census:park": Rule("page", lambda w: "/census/alpha/"),
    "census:park-csv": Rule("page", _csv("stations.csv")),
    "census:survey": Rule("page", lambda w: "/census/alpha/survey/"),
    "census:histories-csv": Rule("page", lambda w: f"/census/alpha/survey/histories.csv{SURVEY}"),
    "census:secr": Rule("page", lambda w: f"/census/alpha/survey/secr.zip{SURVEY}"),
    "census:density-start": Rule(
        "page",
        lambda w: "/census/alpha/density/",
        method="post",
        data=lambda w: {"start": "2024-05-01", "end": "2024-05-31", "detectfn": "halfnormal"},
    ),
    "census:density-status": Rule(
        "page", lambda w: f"/census/alpha/density/{_density(w).pk}/status/"
    ),
    "census:density-csv": Rule("page", lambda w: f"/census/alpha/density/{_density(w).pk}.csv"),
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
    "density-run-list": Rule("api", lambda w: "/api/density-runs/", outsider="hidden"),
    "density-run-detail": Rule("api", lambda w: f"/api/density-runs/{_density(w).pk}/"),
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
        data=lambda w: {"kitten": w.leopard.pk, "mother_code": LEOPARD, "version": 1},
    ),
    # Documented exception: a confirmed reference's crop shows only the coat, so any
    # scientist may compare it across the border (an open box's crop is a 404, below).
    # A crop is part of its photo: another park's is a 404 like the photo, confirmed or not.
    "leopards:sighting-crop": Rule("page", lambda w: f"/sightings/{w.sighting.pk}/crop"),
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


# The row of the role table (accounts.roles.PERMISSIONS) each URL obeys; None: everyone's.
ROLE_PERMISSION: dict[str, str | None] = {
    "home": roles.PARK_DATA,
    "login": None,
    "favicon": None,
    "logout": None,
    "set_language": None,
    "api-root": None,
    "api-schema": None,
    "api-docs": None,
    "deployment-list": roles.PARK_DATA,
    "deployment-detail": roles.PARK_DATA,
    "photo-list": roles.PARK_DATA,
    "photo-detail": roles.PARK_DATA,
    "photo-retry": roles.FIELD_EDITS,
    "photo-lookup": roles.UPLOAD,
    "photo-propose-deployment": roles.UPLOAD,
    "exchange:index": roles.EXCHANGE,
    "exchange:export": roles.EXCHANGE,
    "exchange:import-package": roles.IMPORTS,
    "exchange:import-megadetector": roles.IMPORTS,
    "exchange:likely-blanks": roles.IMPORTS,
    "exchange:partner-alias-confirm": roles.IMPORTS,
    "exchange:partner-alias-withdraw": roles.IMPORTS,
    "exchange:job": roles.EXCHANGE,
    "exchange:job-status": roles.EXCHANGE,
    "exchange:job-park": roles.IMPORTS,
    "exchange:job-download": roles.EXCHANGE,
    "census:dashboard": roles.CENSUS,
    "census:landscape-csv": roles.CENSUS,
    "census:park": roles.CENSUS,
    "census:park-csv": roles.CENSUS,
    "census:survey": roles.CENSUS_SURVEYS,
    "census:histories-csv": roles.CENSUS_SURVEYS,
    "census:secr": roles.CENSUS_SURVEYS,
    "census:density-start": roles.CENSUS_SURVEYS,
    "census:density-status": roles.CENSUS_SURVEYS,
    "census:density-csv": roles.CENSUS_SURVEYS,
    "traps:upload": roles.UPLOAD,
    "traps:deployment-list": roles.PARK_DATA,
    "traps:deployment-detail": roles.PARK_DATA,
    "traps:deployment-clock": roles.FIELD_EDITS,
    "traps:photo-retry": roles.FIELD_EDITS,
    "park-list": roles.PARK_DATA,
    "park-detail": roles.PARK_DATA,
    "station-list": roles.PARK_DATA,
    "station-detail": roles.PARK_DATA,
    "event-list": roles.PARK_DATA,
    "event-detail": roles.PARK_DATA,
    "census-result-list": roles.CENSUS,
    "census-result-detail": roles.CENSUS,
    "density-run-list": roles.CENSUS,
    "density-run-detail": roles.CENSUS,
    "candidate-list": roles.REVIEW,
    "candidate-detail": roles.REVIEW,
    "traps:photo-file": roles.PARK_DATA,
    "traps:photo-thumbnail": roles.PARK_DATA,
    "leopards:review-queue": roles.REVIEW,
    "leopards:event-review": roles.REVIEW,
    "leopards:event-claim": roles.REVIEW,
    "leopards:event-release": roles.REVIEW,
    "leopards:event-skip": roles.REVIEW,
    "leopards:event-classify": roles.REVIEW,
    "leopards:event-finish": roles.REVIEW,
    "leopards:sighting-identify": roles.REVIEW,
    "leopards:mother-link": roles.REVIEW,
    "leopards:sighting-crop": roles.INDIVIDUALS,
    "leopards:leopard-list": roles.INDIVIDUALS,
    "leopards:leopard-link-flanks": roles.REVIEW,
    "leopards:change-undo": roles.REVIEW,
    "leopards:leopard-detail": roles.INDIVIDUALS,
    "leopards:leopard-edit": roles.REVIEW,
    "leopards:leopard-merge": roles.REVIEW,
    "leopards:leopard-split": roles.REVIEW,
    "leopards:second-opinion-queue": roles.REVIEW,
    "leopards:second-opinion-agreement": roles.REVIEW,
    "leopards:second-opinion-check": roles.REVIEW,
    "review-event-list": roles.REVIEW,
    "review-event-detail": roles.REVIEW,
    "review-event-claim": roles.REVIEW,
    "review-event-release": roles.REVIEW,
    "review-event-classify": roles.REVIEW,
    "review-event-finish": roles.REVIEW,
    "sighting-list": roles.REVIEW,
    "sighting-detail": roles.REVIEW,
    "sighting-confirm": roles.REVIEW,
    "sighting-new-individual": roles.REVIEW,
    "sighting-unidentifiable": roles.REVIEW,
    "sighting-unconfirm": roles.REVIEW,
    "sighting-remove": roles.REVIEW,
    "leopard-list": roles.INDIVIDUALS,
    "leopard-detail": roles.INDIVIDUALS,
    "leopard-changes": roles.INDIVIDUALS,
    "leopard-merge": roles.REVIEW,
    "leopard-split": roles.REVIEW,
    "leopard-link-flanks": roles.REVIEW,
    "catalogue-change-list": roles.INDIVIDUALS,
    "catalogue-change-detail": roles.INDIVIDUALS,
    "catalogue-change-undo": roles.REVIEW,
    "second-opinion-list": roles.REVIEW,
    "second-opinion-agreement": roles.REVIEW,
    "second-opinion-detail": roles.REVIEW,
    "second-opinion-answer": roles.REVIEW,
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


def test_every_url_obeys_a_row_of_the_role_table():
    assert set(ROLE_PERMISSION) == set(RULES)


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


def test_outsiders_get_404_for_every_crop_of_the_park(client, world, outsider):
    client.force_login(outsider)
    assert _crop(client, world.proposed).status_code == 404
    assert _crop(client, world.sighting).status_code == 404


def test_a_crop_carries_no_exif_nor_the_photo_hash(client, world, scientist):
    with world.photo.file.open("rb") as handle, Image.open(handle) as original:
        # The stored photo does carry the camera's EXIF: the crop must drop it.
        assert original.getexif()
    client.force_login(scientist)
    response = _crop(client, world.sighting)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as crop:
        assert not crop.getexif()
        assert "exif" not in crop.info
        assert "xmp" not in crop.info
    assert SERIAL.encode() not in response.content
    assert b"Panthera" not in response.content
    assert world.photo.sha256[:8] not in response["ETag"]


def _member(role: str, park) -> object:
    if role == Role.ADMIN:
        return UserFactory(username="role-admin", role=role, is_staff=True, is_superuser=True)
    return UserFactory(username=f"role-{role or 'none'}", role=role or None, parks=[park])


@pytest.mark.parametrize("role", [*(r.value for r in Role), ""])
def test_each_role_uses_exactly_the_urls_the_role_table_gives_it(client, world, role):
    user = _member(role, world.park)
    world.job_owner = user
    # An unexpected error shows as a wrong status below, not as an exception.
    client.raise_request_exception = False
    wrong = []
    for name in sorted(RULES):
        rule, permission = RULES[name], ROLE_PERMISSION[name]
        allowed = permission is None or role in roles.PERMISSIONS[permission].roles
        client.force_login(user)  # "logout" ends the session
        savepoint = transaction.savepoint()
        response = _request(client, rule, world)
        body = _body(response)
        transaction.savepoint_rollback(savepoint)
        if allowed:
            ok = response.status_code not in (403, 404) and response.status_code < 500
        else:
            refused = response.status_code in (403, 404)
            shows_nothing = response.status_code in (200, 302) and not [
                m for m in world.markers if m in body
            ]
            ok = refused or (rule.outsider == "hidden" and shows_nothing)
        if not ok:
            wrong.append(f"{name}: {response.status_code} ({'allowed' if allowed else 'refused'})")
    assert not wrong, f"{role or 'no role'}: " + "; ".join(wrong)
