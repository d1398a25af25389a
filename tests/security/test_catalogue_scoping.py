"""The catalogue across a park border: a member of alpha learns nothing of beta's records.

An individual seen in both parks is alpha's as much as beta's, but its sightings in
beta, the changes made there and the individuals only beta knows do not exist for
alpha's members: not in lists, counts, flanks, dates, history nor filters.
"""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.roles import Role
from leopards.models import CatalogueChange, Flank, Leopard
from leopards.services import catalogue_edits
from leopards.services.audit import change_record
from tests.factories import (
    DeploymentFactory,
    LeopardFactory,
    PhotoFactory,
    SightingFactory,
    UserFactory,
)
from tests.leopards.reviewkit import START, known_leopard, station_in
from traps.local_dates import local_date

pytestmark = pytest.mark.django_db

LATER = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)


def _seen_in(park, leopard, *, flank=Flank.LEFT, when=START):
    photo = PhotoFactory(deployment=DeploymentFactory(station=station_in(park)), taken_at=when)
    return SightingFactory(photo=photo, leopard=leopard, flank=flank)


@pytest.fixture
def border(park, other_park, outsider):
    """A cat of both parks, beta-only cats, and changes made in beta and in alpha."""
    shared = known_leopard(park, code="LEO-SHARED")  # left flank, in alpha
    beta_sighting = _seen_in(other_park, shared, flank=Flank.RIGHT, when=LATER)
    twin = known_leopard(other_park, code="LEO-BETA-TWIN")
    secret = known_leopard(other_park, code="LEO-BETA-SECRET", name="Beta's queen")
    # Beta merges its own duplicate into the shared cat: its sightings are beta's.
    catalogue_edits.leopard_merge(
        survivor_id=shared.pk, absorbed_id=twin.pk, user=outsider, reason="beta merge B7"
    )
    # A confirmation of the shared cat on a beta photo, and a change that also
    # touches an individual only beta knows.
    change_record(
        kind=CatalogueChange.Kind.CONFIRM,
        user=outsider,
        reason="seen at beta station B7",
        leopards=[shared],
        sightings=[beta_sighting],
        before={"leopard_id": None},
        after={"leopard": shared.code},
    )
    change_record(
        kind=CatalogueChange.Kind.CONFIRM,
        user=outsider,
        reason="moved from the secret one",
        leopards=[shared, secret],
        before={"leopard": secret.code, "leopard_id": secret.pk},
        after={"leopard": shared.code},
    )
    # Alpha's own work stays visible: a merge of two alpha-only records.
    first = known_leopard(park, code="LEO-ALPHA-1")
    known_leopard(park, code="LEO-ALPHA-2")
    alpha_merge = catalogue_edits.leopard_merge(
        survivor_id=first.pk,
        absorbed_id=Leopard.objects.get(code="LEO-ALPHA-2").pk,
        user=outsider,
        reason="alpha merge",
    )
    return {"shared": shared, "secret": secret, "alpha_merge": alpha_merge}


BETA_MARKERS = (
    "LEO-BETA-TWIN",
    "LEO-BETA-SECRET",
    "Beta&#x27;s queen",
    "Beta's queen",
    "beta merge B7",
    "beta station B7",
    "moved from the secret one",
)


def test_the_change_list_holds_only_changes_wholly_inside_the_users_parks(
    client, scientist, border
):
    client.force_login(scientist)
    response = client.get("/api/catalogue-changes/")
    body = response.content.decode()
    assert [c["id"] for c in response.json()["results"]] == [border["alpha_merge"].pk]
    for marker in BETA_MARKERS:
        assert marker not in body


def test_hidden_changes_answer_404_and_stay_out_of_the_individuals_history(
    client, scientist, border
):
    hidden = CatalogueChange.objects.exclude(pk=border["alpha_merge"].pk)
    client.force_login(scientist)
    for change in hidden:
        assert client.get(f"/api/catalogue-changes/{change.pk}/").status_code == 404
        undo = client.post(reverse("leopards:change-undo", args=[change.pk]), {"reason": "x"})
        assert undo.status_code == 404
    history = client.get("/api/leopards/LEO-SHARED/changes/").content.decode()
    page = client.get(reverse("leopards:leopard-detail", args=["LEO-SHARED"])).content.decode()
    for text in (history, page):
        for marker in BETA_MARKERS:
            assert marker not in text


def test_members_of_both_parks_and_admins_see_every_change(
    client, registry_admin, park, other_park, border
):
    both = UserFactory(username="mira", role=Role.SCIENTIST, parks=[park, other_park])
    for user in (both, registry_admin):
        client.force_login(user)
        listed = client.get("/api/catalogue-changes/").json()["results"]
        assert len(listed) == CatalogueChange.objects.count()


def test_catalogue_flank_counts_and_dates_count_only_the_users_parks(client, scientist, border):
    client.force_login(scientist)
    response = client.get(reverse("leopards:leopard-list"), {"q": "LEO-SHARED"})
    (shared,) = response.context["page"].object_list
    # The right flank and the later sighting were in beta only.
    assert (shared.left_count, shared.right_count, shared.sighting_count) == (1, 0, 1)
    assert shared.last_seen == local_date(START, "Asia/Vladivostok")
    api = client.get("/api/leopards/LEO-SHARED/").json()
    assert api["sighting_count"] == 1
    assert api["last_seen"].startswith("2024-05-01")


def test_the_one_flank_filter_judges_by_the_flanks_the_user_may_see(client, scientist, border):
    client.force_login(scientist)
    listed = client.get(reverse("leopards:leopard-list"), {"provisional": "on"})
    assert "LEO-SHARED" in [x.code for x in listed.context["page"].object_list]
    api = client.get("/api/leopards/", {"provisional": "1"}).json()["results"]
    assert "LEO-SHARED" in [x["code"] for x in api]


def test_the_individuals_page_counts_only_the_users_parks(client, scientist, border):
    client.force_login(scientist)
    response = client.get(reverse("leopards:leopard-detail", args=["LEO-SHARED"]))
    info = response.context["info"]
    assert len(info.sightings) == 1
    assert info.first_seen == info.last_seen == local_date(START, "Asia/Vladivostok")
    assert info.flanks == {Flank.LEFT}
    assert "parks you do not belong to" not in response.content.decode()


def test_a_mother_seen_only_in_another_park_is_not_named(client, park, other_park, scientist):
    mother = known_leopard(other_park, code="LEO-BETA-MOTHER")
    known_leopard(park, code="LEO-KIT", mother=mother)
    known_leopard(park, code="LEO-KIT-2", mother=known_leopard(park, code="LEO-ALPHA-MUM"))
    client.force_login(scientist)
    page = client.get(reverse("leopards:leopard-list")).content.decode()
    api = {x["code"]: x["mother"] for x in client.get("/api/leopards/").json()["results"]}
    assert "LEO-BETA-MOTHER" not in page
    assert api["LEO-KIT"] is None
    assert api["LEO-KIT-2"] == "LEO-ALPHA-MUM"


def test_a_member_of_beta_sees_the_mother_it_knows(client, park, other_park, outsider):
    mother = known_leopard(other_park, code="LEO-BETA-MOTHER")
    kitten = LeopardFactory(code="LEO-KIT", mother=mother)
    _seen_in(other_park, kitten)
    client.force_login(outsider)
    api = client.get("/api/leopards/LEO-KIT/").json()
    assert api["mother"] == "LEO-BETA-MOTHER"


def test_an_old_code_from_a_merge_in_another_park_is_neither_shown_nor_found(
    client, scientist, park, other_park, border
):
    client.force_login(scientist)
    listed = client.get(reverse("leopards:leopard-list")).content.decode()
    api = client.get("/api/leopards/LEO-SHARED/").json()
    assert "LEO-BETA-TWIN" not in listed
    assert api["aliases"] == []
    assert (
        client.get(reverse("leopards:leopard-list"), {"q": "BETA-TWIN"}).context["page"].object_list
        == []
    )
    old_page = client.get(reverse("leopards:leopard-detail", args=["LEO-BETA-TWIN"]))
    assert old_page.status_code == 404
    # Alpha's own merge keeps its old code, shown and found.
    assert client.get("/api/leopards/LEO-ALPHA-1/").json()["aliases"] == ["LEO-ALPHA-2"]
    found = client.get(reverse("leopards:leopard-list"), {"q": "ALPHA-2"})
    assert [x.code for x in found.context["page"].object_list] == ["LEO-ALPHA-1"]
    both = UserFactory(username="mira", role=Role.SCIENTIST, parks=[park, other_park])
    client.force_login(both)
    assert client.get("/api/leopards/LEO-SHARED/").json()["aliases"] == ["LEO-BETA-TWIN"]


def test_a_camtrap_dp_export_leaves_out_a_mother_seen_only_in_another_park(
    park, other_park, scientist, tmp_path
):
    from exchange.camtrap_dp.export import package_write
    from tests.exchange.helpers import read_csv, validate_offline

    grandmother = known_leopard(park, code="LEO-ALPHA-GRAN")
    mother = known_leopard(other_park, code="LEO-BETA-MOTHER", mother=grandmother)
    known_leopard(park, code="LEO-KIT", mother=mother)

    package_write(out_dir=tmp_path / "pkg", parks=[park], user=scientist)

    rows = {r["individualID"]: r for r in read_csv(tmp_path / "pkg" / "individuals.csv")}
    assert set(rows) == {"LEO-ALPHA-GRAN", "LEO-KIT"}
    assert rows["LEO-KIT"]["motherID"] == ""
    assert "LEO-BETA-MOTHER" not in (tmp_path / "pkg" / "individuals.csv").read_text()
    assert validate_offline(tmp_path / "pkg") == []
    # The operator on the command line (no user) exports the whole line.
    package_write(out_dir=tmp_path / "all", parks=[park])
    rows = {r["individualID"]: r for r in read_csv(tmp_path / "all" / "individuals.csv")}
    assert rows["LEO-KIT"]["motherID"] == "LEO-BETA-MOTHER"
