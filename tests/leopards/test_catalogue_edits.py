"""Editing the catalogue: details with evidence, mothers, merge, split, flank links and undo."""

from datetime import date, timedelta

import pytest

from accounts.roles import Role
from leopards.models import CatalogueChange, Flank, Leopard, LeopardAlias, Sex, Sighting
from leopards.services import catalogue_edits
from leopards.services.errors import ReviewError, StaleVersion
from tests.factories import (
    DeploymentFactory,
    LeopardFactory,
    PhotoFactory,
    SightingFactory,
    UserFactory,
)
from tests.leopards.reviewkit import START, known_leopard, station_in


def sightings_of(leopard: Leopard, park, n: int, flank: str = Flank.LEFT) -> list[Sighting]:
    deployment = DeploymentFactory(station=station_in(park))
    return [
        SightingFactory(
            photo=PhotoFactory(deployment=deployment, taken_at=START + timedelta(days=i)),
            leopard=leopard,
            flank=flank,
        )
        for i in range(n)
    ]


def test_editing_an_individual_records_before_after_and_why(park, scientist):
    leopard = known_leopard(park, name="")
    edited = catalogue_edits.leopard_update(
        leopard_id=leopard.pk,
        user=scientist,
        expected_version=1,
        changes={"name": "Kedr", "sex": Sex.MALE, "birth_date": date(2019, 5, 1)},
        reason="Scrotum visible in the photo of 2024-05-01",
    )
    assert (edited.name, edited.sex, edited.version) == ("Kedr", "male", 2)
    change = CatalogueChange.objects.get(kind="edit")
    assert change.before == {"name": "", "sex": "unknown", "birth_date": None}
    assert change.after["birth_date"] == "2019-05-01"
    assert change.reason.startswith("Scrotum")
    assert edited.history.first().history_user == scientist


def test_a_stale_edit_of_an_individual_is_refused_and_nothing_is_overwritten(park, scientist):
    other = UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])
    leopard = known_leopard(park)
    catalogue_edits.leopard_update(
        leopard_id=leopard.pk, user=scientist, expected_version=1, changes={"name": "Grom"}
    )
    with pytest.raises(StaleVersion) as conflict:
        catalogue_edits.leopard_update(
            leopard_id=leopard.pk, user=other, expected_version=1, changes={"name": "Taiga"}
        )
    assert "bob changed this individual at" in conflict.value.message
    assert Leopard.objects.get(pk=leopard.pk).name == "Grom"


def test_linking_a_mother_refuses_males_and_circles(park, scientist):
    mother = known_leopard(park, sex=Sex.FEMALE)
    kitten = known_leopard(park)
    catalogue_edits.leopard_set_mother(
        kitten_id=kitten.pk, mother_id=mother.pk, user=scientist, expected_version=1
    )
    assert Leopard.objects.get(pk=kitten.pk).mother == mother
    with pytest.raises(ReviewError):
        catalogue_edits.leopard_set_mother(
            kitten_id=mother.pk, mother_id=kitten.pk, user=scientist, expected_version=None
        )
    male = known_leopard(park, sex=Sex.MALE)
    with pytest.raises(ReviewError):
        catalogue_edits.leopard_set_mother(
            kitten_id=kitten.pk, mother_id=male.pk, user=scientist, expected_version=None
        )
    assert CatalogueChange.objects.filter(kind="mother", leopards=mother).count() == 1


def test_merging_moves_sightings_keeps_the_code_as_alias_and_records_why(park, scientist):
    survivor = LeopardFactory(code="LEO-120F", sex=Sex.FEMALE)
    absorbed = LeopardFactory(code="LEO-133U", name="Vesna", birth_date=date(2019, 5, 1))
    kitten = LeopardFactory(mother=absorbed)
    kept = sightings_of(survivor, park, 2)
    moved = sightings_of(absorbed, park, 3)
    change = catalogue_edits.leopard_merge(
        survivor_id=survivor.pk,
        absorbed_id=absorbed.pk,
        user=scientist,
        reason="Same left flank in both; duplicate record",
    )
    assert Sighting.objects.filter(leopard=survivor).count() == len(kept) + len(moved)
    absorbed.refresh_from_db()
    survivor.refresh_from_db()
    assert absorbed.merged_into == survivor
    assert LeopardAlias.objects.get(code="LEO-133U").leopard == survivor
    assert (survivor.name, survivor.birth_date) == ("Vesna", date(2019, 5, 1))
    assert Leopard.objects.get(pk=kitten.pk).mother == survivor
    assert set(change.leopards.all()) == {survivor, absorbed}
    assert (change.kind, change.user, change.reason[:4]) == ("merge", scientist, "Same")


def test_a_merge_needs_a_reason_and_two_compatible_records(park, scientist):
    female = LeopardFactory(sex=Sex.FEMALE)
    male = LeopardFactory(sex=Sex.MALE)
    with pytest.raises(ReviewError):
        catalogue_edits.leopard_merge(
            survivor_id=female.pk, absorbed_id=male.pk, user=scientist, reason=""
        )
    with pytest.raises(ReviewError):
        catalogue_edits.leopard_merge(
            survivor_id=female.pk, absorbed_id=male.pk, user=scientist, reason="same cat"
        )


def test_undoing_a_merge_restores_everything_exactly(park, scientist):
    survivor = LeopardFactory(code="LEO-120F", sex=Sex.FEMALE)
    absorbed = LeopardFactory(code="LEO-133U", name="Vesna")
    kitten = LeopardFactory(mother=absorbed)
    kept = sightings_of(survivor, park, 2)
    moved = sightings_of(absorbed, park, 3)
    change = catalogue_edits.leopard_merge(
        survivor_id=survivor.pk, absorbed_id=absorbed.pk, user=scientist, reason="duplicate"
    )
    undo = catalogue_edits.change_undo(
        change_id=change.pk, user=scientist, reason="They differ at the tail"
    )
    assert set(Sighting.objects.filter(leopard=absorbed)) == set(moved)
    assert set(Sighting.objects.filter(leopard=survivor)) == set(kept)
    survivor.refresh_from_db()
    absorbed.refresh_from_db()
    assert absorbed.merged_into is None
    assert survivor.name == ""
    assert Leopard.objects.get(pk=kitten.pk).mother == absorbed
    assert not LeopardAlias.objects.exists()
    assert undo.undoes == change and undo.kind == "undo"
    assert set(undo.leopards.all()) == {survivor, absorbed}
    with pytest.raises(ReviewError):
        catalogue_edits.change_undo(change_id=change.pk, user=scientist)


def test_undoing_a_merge_is_refused_when_its_sightings_moved_since(park, scientist):
    survivor, absorbed, third = LeopardFactory(), LeopardFactory(), LeopardFactory()
    sightings_of(survivor, park, 1)
    moved = sightings_of(absorbed, park, 2)
    change = catalogue_edits.leopard_merge(
        survivor_id=survivor.pk, absorbed_id=absorbed.pk, user=scientist, reason="duplicate"
    )
    catalogue_edits.leopard_split(
        leopard_id=survivor.pk,
        sighting_ids=[moved[0].pk],
        target_id=third.pk,
        user=scientist,
        reason="this one is the other cat",
    )
    with pytest.raises(ReviewError):
        catalogue_edits.change_undo(change_id=change.pk, user=scientist)
    assert Leopard.objects.get(pk=absorbed.pk).merged_into == survivor


def test_a_chain_of_merges_keeps_every_old_code_findable(park, scientist):
    a, b, c = (
        LeopardFactory(code="LEO-1F"),
        LeopardFactory(code="LEO-2F"),
        LeopardFactory(code="LEO-3F"),
    )
    catalogue_edits.leopard_merge(survivor_id=b.pk, absorbed_id=a.pk, user=scientist, reason="dup")
    catalogue_edits.leopard_merge(survivor_id=c.pk, absorbed_id=b.pk, user=scientist, reason="dup")
    assert set(LeopardAlias.objects.filter(leopard=c).values_list("code", flat=True)) == {
        "LEO-1F",
        "LEO-2F",
    }


def test_splitting_to_a_new_individual_and_undoing_it(park, scientist):
    known_leopard(park, code="LEO-150F")
    source = LeopardFactory(code="LEO-120F")
    wrong = sightings_of(source, park, 3)
    change = catalogue_edits.leopard_split(
        leopard_id=source.pk,
        sighting_ids=[wrong[0].pk, wrong[1].pk],
        user=scientist,
        reason="Different rosettes on the hip",
        sex=Sex.MALE,
    )
    target = Leopard.objects.get(pk=change.after["target_id"])
    assert target.code == "LEO-151M"
    assert set(Sighting.objects.filter(leopard=target)) == {wrong[0], wrong[1]}
    assert change.after["created"] is True
    catalogue_edits.change_undo(change_id=change.pk, user=scientist, reason="Wrong after all")
    assert Sighting.objects.filter(leopard=source).count() == 3
    assert not Leopard.objects.filter(code="LEO-151M").exists()
    assert CatalogueChange.objects.filter(kind="undo", leopards=source).exists()


def test_splitting_to_another_existing_individual_keeps_it_on_undo(park, scientist):
    source, target = LeopardFactory(), LeopardFactory()
    wrong = sightings_of(source, park, 2)
    change = catalogue_edits.leopard_split(
        leopard_id=source.pk,
        sighting_ids=[wrong[0].pk],
        target_id=target.pk,
        user=scientist,
        reason="it is the neighbour",
    )
    assert Sighting.objects.get(pk=wrong[0].pk).leopard == target
    catalogue_edits.change_undo(change_id=change.pk, user=scientist)
    assert Sighting.objects.get(pk=wrong[0].pk).leopard == source
    assert Leopard.objects.filter(pk=target.pk).exists()


def test_a_split_refuses_sightings_of_another_individual(park, scientist):
    source, other = LeopardFactory(), LeopardFactory()
    sightings_of(source, park, 1)
    foreign = sightings_of(other, park, 1)
    with pytest.raises(ReviewError):
        catalogue_edits.leopard_split(
            leopard_id=source.pk, sighting_ids=[foreign[0].pk], user=scientist, reason="x"
        )


def paired_photos(park, left_leopard, right_leopard, *, minutes_apart: int = 0, same_station=True):
    station = station_in(park)
    left_camera = DeploymentFactory(station=station)
    right_camera = DeploymentFactory(station=station if same_station else station_in(park))
    left = SightingFactory(
        photo=PhotoFactory(deployment=left_camera, taken_at=START),
        leopard=left_leopard,
        flank=Flank.LEFT,
    )
    right = SightingFactory(
        photo=PhotoFactory(
            deployment=right_camera, taken_at=START + timedelta(minutes=minutes_apart)
        ),
        leopard=right_leopard,
        flank=Flank.RIGHT,
    )
    return left, right


def test_linking_left_only_and_right_only_records_merges_them(park, scientist):
    left_only = LeopardFactory(code="LEO-140U")
    right_only = LeopardFactory(code="LEO-141U")
    left, right = paired_photos(park, left_only, right_only, minutes_apart=1)
    change = catalogue_edits.leopard_link_flanks(
        left_sighting_id=left.pk, right_sighting_id=right.pk, user=scientist
    )
    assert change.kind == "flank_link"
    assert (change.before["left_sighting"], change.before["right_sighting"]) == (left.pk, right.pk)
    assert Leopard.objects.get(pk=right_only.pk).merged_into == left_only
    flanks = set(Sighting.objects.filter(leopard=left_only).values_list("flank", flat=True))
    assert flanks == {"left", "right"}
    assert LeopardAlias.objects.get(code="LEO-141U").leopard == left_only
    catalogue_edits.change_undo(change_id=change.pk, user=scientist)
    assert Leopard.objects.get(pk=right_only.pk).merged_into is None


def test_flank_links_need_a_pair_at_one_station_at_one_passage(park, scientist):
    far = paired_photos(park, LeopardFactory(), LeopardFactory(), minutes_apart=90)
    with pytest.raises(ReviewError):
        catalogue_edits.leopard_link_flanks(
            left_sighting_id=far[0].pk, right_sighting_id=far[1].pk, user=scientist
        )
    apart = paired_photos(park, LeopardFactory(), LeopardFactory(), same_station=False)
    with pytest.raises(ReviewError):
        catalogue_edits.leopard_link_flanks(
            left_sighting_id=apart[0].pk, right_sighting_id=apart[1].pk, user=scientist
        )


def test_flank_links_refuse_records_known_from_both_flanks(park, scientist):
    both = LeopardFactory()
    sightings_of(both, park, 1, flank=Flank.RIGHT)
    left, right = paired_photos(park, both, LeopardFactory())
    with pytest.raises(ReviewError):
        catalogue_edits.leopard_link_flanks(
            left_sighting_id=left.pk, right_sighting_id=right.pk, user=scientist
        )


def test_only_merges_splits_and_flank_links_can_be_undone(park, scientist):
    leopard = known_leopard(park)
    catalogue_edits.leopard_update(
        leopard_id=leopard.pk, user=scientist, expected_version=None, changes={"name": "X"}
    )
    with pytest.raises(ReviewError):
        catalogue_edits.change_undo(change_id=CatalogueChange.objects.get().pk, user=scientist)
