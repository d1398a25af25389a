"""The data exchange page's partner ids and taxa, and the partner's word on the review page."""

import pytest
from django.urls import reverse

from exchange.camtrap_dp.export import package_zip
from exchange.camtrap_dp.importer import package_import
from exchange.models import ImportRun, PartnerAlias
from leopards.models import Sighting
from tests.exchange.packages import partner_package
from tests.factories import LeopardFactory

pytestmark = pytest.mark.django_db
CHINA = "Northeast Tiger and Leopard National Park"


@pytest.fixture
def partner_import(park, tmp_path):
    return package_import(path=partner_package(tmp_path / "cn"), park=park, organisation=CHINA)


def test_upload_from_another_organisation_keeps_its_ids_as_theirs(
    client, park, scientist, tmp_path, django_capture_on_commit_callbacks
):
    archive = package_zip(partner_package(tmp_path / "pkg"), tmp_path / "pkg.zip")
    client.force_login(scientist)

    with open(archive, "rb") as fh, django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("exchange:import-package"),
            {"park": "alpha", "package": fh, "organisation": f"  {CHINA} "},
        )

    assert response.status_code == 302
    assert ImportRun.objects.get().organisation == CHINA
    assert not Sighting.objects.filter(leopard__isnull=False).exists()


def test_exchange_page_lists_partner_ids_waiting_and_the_taxa(client, scientist, partner_import):
    client.force_login(scientist)

    page = client.get(reverse("exchange:index")).text

    assert "NE-L12" in page and "NE-K3" in page
    assert "Capreolus pygargus" in page and "Siberian roe deer" in page
    assert "https://www.checklistbank.org/dataset/COL2023/taxon/3DXV3" in page


def test_taxa_read_in_the_readers_language(client, scientist, partner_import):
    client.force_login(scientist)

    page = client.get(reverse("exchange:index"), HTTP_ACCEPT_LANGUAGE="zh-hans").text

    assert "野猪" in page


def test_a_scientist_confirms_a_partner_id_as_one_of_ours(client, scientist, partner_import):
    ours = LeopardFactory(code="LEO-112F")
    client.force_login(scientist)

    response = client.post(
        reverse("exchange:partner-alias-confirm"),
        {"organisation": CHINA, "partner_id": "NE-L12", "leopard": "leo-112f"},
    )

    assert response.status_code == 302
    alias = PartnerAlias.objects.get()
    assert (alias.leopard, alias.confirmed_by) == (ours, scientist)
    assert Sighting.objects.filter(leopard=ours, status=Sighting.Status.CONFIRMED).count() == 1
    page = client.get(reverse("exchange:index")).text
    assert "1 confirmed alias" in page


def test_an_unknown_code_is_refused_with_a_message(client, scientist, partner_import):
    client.force_login(scientist)

    response = client.post(
        reverse("exchange:partner-alias-confirm"),
        {"organisation": CHINA, "partner_id": "NE-L12", "leopard": "LEO-404"},
        follow=True,
    )

    assert "No individual has the code LEO-404." in response.text
    assert not PartnerAlias.objects.exists()


def test_partner_ids_of_other_parks_cannot_be_confirmed(client, outsider, partner_import):
    LeopardFactory(code="LEO-112F")
    client.force_login(outsider)

    response = client.post(
        reverse("exchange:partner-alias-confirm"),
        {"organisation": CHINA, "partner_id": "NE-L12", "leopard": "LEO-112F"},
    )

    assert response.status_code == 404
    assert not PartnerAlias.objects.exists()


def test_review_page_shows_the_partners_identification(client, scientist, partner_import):
    sighting = Sighting.objects.get(exchange_observation__identifier="o-m2")
    client.force_login(scientist)

    page = client.get(reverse("leopards:event-review", args=[sighting.photo.event_id])).text

    assert f"{CHINA} identified:" in page
    assert "<strong>NE-L12</strong> · adult · female" in page


def test_review_offers_imported_taxa_in_the_readers_language(client, scientist, partner_import):
    from traps.models import Event

    boar_event = Event.objects.get(exchange_link__identifier="ev-2")
    client.force_login(scientist)

    page = client.get(
        reverse("leopards:event-review", args=[boar_event.pk]), HTTP_ACCEPT_LANGUAGE="ru"
    ).text

    assert "кабан</option>" in page
    # The registry's own list names its species in Russian too (a taxon without a
    # Russian name falls back to its own: tests/leopards/test_taxa_languages.py).
    assert "сибирская косуля</option>" in page
    assert "Siberian roe deer</option>" not in page


def test_a_wrong_alias_is_withdrawn_and_its_sightings_go_back_to_review(
    client, scientist, partner_import
):
    ours = LeopardFactory(code="LEO-112F")
    client.force_login(scientist)
    client.post(
        reverse("exchange:partner-alias-confirm"),
        {"organisation": CHINA, "partner_id": "NE-L12", "leopard": "LEO-112F"},
    )
    alias = PartnerAlias.objects.get()

    response = client.post(reverse("exchange:partner-alias-withdraw", args=[alias.pk]), follow=True)

    assert "1 sighting is back in the review." in response.text
    assert not PartnerAlias.objects.exists()
    assert not Sighting.objects.filter(leopard=ours).exists()
    sighting = Sighting.objects.get(exchange_observation__identifier="o-m2")
    assert sighting.status == Sighting.Status.PROPOSED
    assert "NE-L12" in client.get(reverse("exchange:index")).text  # waiting again
