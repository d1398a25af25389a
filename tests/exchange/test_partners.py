"""Partners' leopards: sightings from their packages, their ids as aliases of ours."""

import pytest

from census import periods
from census.selectors import census_counts
from exchange.camtrap_dp import mapping
from exchange.camtrap_dp.importer import package_import
from exchange.models import ImportRun, PartnerAlias
from exchange.services import PartnerAliasConflict, partner_alias_confirm
from leopards.models import Sighting
from tests.exchange.packages import partner_package
from tests.factories import LeopardFactory

CHINA = "Northeast Tiger and Leopard National Park"
NORTH = "Land of the Leopard"


def _import(park, tmp_path, name: str, organisation: str, prefix: str, ids: tuple[str, str]):
    folder = partner_package(tmp_path / name, prefix=prefix, leopard_ids=ids, name=name)
    return package_import(path=folder, park=park, organisation=organisation)


def _landscape(*parks) -> int:
    (count,) = census_counts(parks=list(parks), periods_=[periods.year(2023)])
    return count.individuals


def test_any_panthera_pardus_name_is_a_leopard():
    assert mapping.is_leopard("Panthera pardus")
    assert mapping.is_leopard("panthera  pardus orientalis")
    assert mapping.is_leopard("Panthera pardus japonensis")
    assert not mapping.is_leopard("Panthera pardusella")
    assert not mapping.is_leopard("Panthera tigris altaica")


def test_a_partners_leopard_becomes_a_sighting_with_their_identification(park, tmp_path):
    summary = _import(park, tmp_path, "cn", CHINA, "cn-", ("NE-L12", "NE-K3"))

    assert summary.created["sightings"] == 3
    assert summary.created.get("individuals", 0) == 0
    sighting = Sighting.objects.get(exchange_observation__identifier="cn-o-m2")
    assert sighting.has_box and sighting.leopard is None
    assert sighting.status == Sighting.Status.PROPOSED
    # The partner's identification stays beside the sighting.
    observation = sighting.exchange_observation
    assert (observation.individual_id, observation.life_stage, observation.sex) == (
        "NE-L12",
        "adult",
        "female",
    )


def test_stored_photos_of_a_partners_leopards_are_queued_for_matching(park, tmp_path, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "exchange.camtrap_dp.importer.sighting_queue_match",
        lambda *, sighting_id: queued.append(sighting_id),
    )
    folder = partner_package(tmp_path / "cn", prefix="cn-", local=frozenset({"m1", "m2"}))

    package_import(path=folder, park=park, organisation=CHINA)

    boxed = Sighting.objects.filter(photo__file__gt="", bbox_x__isnull=False)
    assert sorted(queued) == sorted(boxed.values_list("pk", flat=True))
    assert len(queued) == 3


def test_two_partners_name_one_cat_and_the_landscape_counts_it_once(
    park, other_park, tmp_path, scientist
):
    ours = LeopardFactory(code="LEO-112F")
    _import(other_park, tmp_path, "cn", CHINA, "cn-", ("NE-L12", "NE-K3"))
    _import(park, tmp_path, "ru", NORTH, "ru-", ("LL-F5", "LL-K9"))
    assert _landscape(park, other_park) == 0

    partner_alias_confirm(organisation=CHINA, partner_id="NE-L12", leopard=ours, user=scientist)
    partner_alias_confirm(organisation=NORTH, partner_id="LL-F5", leopard=ours, user=scientist)

    assert _landscape(park) == 1
    assert _landscape(other_park) == 1
    assert _landscape(park, other_park) == 1
    assert Sighting.objects.filter(leopard=ours, status=Sighting.Status.CONFIRMED).count() == 2


def test_a_second_package_from_a_partner_links_to_the_same_cat_without_review(
    park, other_park, tmp_path, scientist
):
    ours = LeopardFactory(code="LEO-112F")
    _import(other_park, tmp_path, "cn", CHINA, "cn-", ("NE-L12", "NE-K3"))
    partner_alias_confirm(organisation=CHINA, partner_id="NE-L12", leopard=ours, user=scientist)

    _import(other_park, tmp_path, "cn-2024", CHINA, "cn2-", ("NE-L12", "NE-K3"))

    second = Sighting.objects.get(exchange_observation__identifier="cn2-o-m2")
    assert (second.leopard, second.status) == (ours, Sighting.Status.CONFIRMED)
    # The same id from another organisation is another cat until confirmed.
    _import(park, tmp_path, "ru", NORTH, "ru-", ("NE-L12", "X"))
    assert Sighting.objects.get(exchange_observation__identifier="ru-o-m2").leopard is None


def test_a_partner_id_never_merges_two_of_our_individuals(other_park, tmp_path, scientist):
    first, second = LeopardFactory(code="LEO-112F"), LeopardFactory(code="LEO-7M")
    _import(other_park, tmp_path, "cn", CHINA, "cn-", ("NE-L12", "NE-K3"))
    partner_alias_confirm(organisation=CHINA, partner_id="NE-L12", leopard=first, user=scientist)

    with pytest.raises(PartnerAliasConflict, match="LEO-112F"):
        partner_alias_confirm(
            organisation=CHINA, partner_id="NE-L12", leopard=second, user=scientist
        )

    assert PartnerAlias.objects.get(partner_id="NE-L12").leopard == first
    assert not Sighting.objects.filter(leopard=second).exists()


def test_an_alias_is_refused_while_a_sighting_says_another_cat(other_park, tmp_path, scientist):
    first, second = LeopardFactory(code="LEO-112F"), LeopardFactory(code="LEO-7M")
    _import(other_park, tmp_path, "cn", CHINA, "cn-", ("NE-L12", "NE-K3"))
    reviewed = Sighting.objects.get(exchange_observation__identifier="cn-o-m2")
    reviewed.leopard, reviewed.status = second, Sighting.Status.CONFIRMED
    reviewed.save()

    with pytest.raises(PartnerAliasConflict, match="LEO-7M"):
        partner_alias_confirm(
            organisation=CHINA, partner_id="NE-L12", leopard=first, user=scientist
        )

    assert not PartnerAlias.objects.exists()


def test_a_package_that_contradicts_an_alias_sends_the_sighting_to_review(
    other_park, tmp_path, scientist
):
    first, second = LeopardFactory(code="LEO-112F"), LeopardFactory(code="LEO-7M")
    _import(other_park, tmp_path, "cn", CHINA, "cn-", ("NE-L12", "NE-K3"))
    reviewed = Sighting.objects.get(exchange_observation__identifier="cn-o-m2")
    reviewed.leopard, reviewed.status = second, Sighting.Status.CONFIRMED
    reviewed.save()
    PartnerAlias.objects.create(
        organisation=CHINA, partner_id="NE-L12", leopard=first, confirmed_at=reviewed.created_at
    )
    # The partner sends the same records again under a corrected package name.
    folder = partner_package(tmp_path / "again", prefix="cn-", name="again")
    (folder / "observations.csv").write_text(
        (folder / "observations.csv").read_text().replace("cn-o-m2", "cn-o-m2b")
    )

    summary = package_import(path=folder, park=other_park, organisation=CHINA)

    reviewed.refresh_from_db()
    assert reviewed.leopard == second  # not moved to LEO-112F
    assert reviewed.status == Sighting.Status.PROPOSED  # back in the review
    run = ImportRun.objects.get(pk=summary.run.pk)
    assert any(w["code"] == "partner_id_conflict" for w in run.warnings)
