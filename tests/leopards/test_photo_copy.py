"""Each sighting's copy of its photo's time and deployment, kept by database triggers.

The census reads a sighting's time and place from these copies, so they must follow
every write of a sighting or of its photo, whatever the path: the ORM, a bulk update,
the clock offset service, plain SQL.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import connection

from leopards import photo_copy
from leopards.models import Sighting
from tests.factories import DeploymentFactory, PhotoFactory, SightingFactory
from traps.models import Photo
from traps.services.deployments import deployment_set_clock_offset

pytestmark = pytest.mark.django_db

MAY = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def copies(sighting: Sighting) -> tuple[datetime | None, int | None]:
    return tuple(
        Sighting.objects.filter(pk=sighting.pk).values_list("taken_at", "deployment_id").get()
    )


def photo_of(sighting: Sighting) -> tuple[datetime | None, int | None]:
    return tuple(
        Photo.objects.filter(pk=sighting.photo_id).values_list("taken_at", "deployment_id").get()
    )


def test_a_new_sighting_carries_its_photos_time_and_deployment():
    sighting = SightingFactory(photo__taken_at=MAY)

    assert copies(sighting) == (MAY, sighting.photo.deployment_id)


def test_sightings_created_in_bulk_carry_them_too():
    photo = PhotoFactory(taken_at=MAY)
    Sighting.objects.bulk_create([Sighting(photo=photo), Sighting(photo=photo)])

    assert set(Sighting.objects.values_list("taken_at", "deployment_id")) == {
        (MAY, photo.deployment_id)
    }


def test_a_value_written_to_the_copies_is_replaced_by_the_photos():
    sighting = SightingFactory(photo__taken_at=MAY)
    other = DeploymentFactory()
    sighting.taken_at = MAY - timedelta(days=400)
    sighting.deployment = other
    sighting.save()
    Sighting.objects.filter(pk=sighting.pk).update(taken_at=None)

    assert copies(sighting) == (MAY, sighting.photo.deployment_id)


def test_a_stale_copy_held_in_memory_does_not_undo_a_photos_new_time():
    sighting = SightingFactory(photo__taken_at=MAY)
    loaded = Sighting.objects.get(pk=sighting.pk)
    Photo.objects.filter(pk=sighting.photo_id).update(taken_at=MAY + timedelta(hours=3))
    loaded.flank = "right"
    loaded.save()  # writes every column, the old taken_at with them

    assert copies(sighting) == (MAY + timedelta(hours=3), sighting.photo.deployment_id)


def test_sightings_follow_their_photos_time_by_save_update_and_to_none():
    sighting = SightingFactory(photo__taken_at=MAY)
    twin = SightingFactory(photo=sighting.photo)
    photo = sighting.photo

    photo.taken_at = MAY + timedelta(days=1)
    photo.save()
    assert copies(sighting)[0] == copies(twin)[0] == MAY + timedelta(days=1)

    Photo.objects.filter(pk=photo.pk).update(taken_at=None)
    assert copies(sighting)[0] is None
    assert copies(twin)[0] is None


def test_a_clock_offset_correction_moves_the_sightings_of_the_deployment():
    sighting = SightingFactory(photo__taken_at=MAY, photo__camera_time=MAY)
    elsewhere = SightingFactory(photo__taken_at=MAY, photo__camera_time=MAY)

    deployment_set_clock_offset(
        deployment_id=sighting.photo.deployment_id, clock_offset=timedelta(hours=-9)
    )

    assert copies(sighting)[0] == MAY - timedelta(hours=9) == photo_of(sighting)[0]
    assert copies(elsewhere)[0] == MAY


def test_a_photo_moved_to_another_deployment_takes_its_sightings_with_it():
    sighting = SightingFactory(photo__taken_at=MAY)
    other = DeploymentFactory()
    Photo.objects.filter(pk=sighting.photo_id).update(deployment=other)

    assert copies(sighting) == (MAY, other.pk)


def test_a_sighting_moved_to_another_photo_takes_that_photos_time_and_place():
    sighting = SightingFactory(photo__taken_at=MAY)
    later = PhotoFactory(taken_at=MAY + timedelta(days=30))
    Sighting.objects.filter(pk=sighting.pk).update(photo=later)

    assert copies(sighting) == (MAY + timedelta(days=30), later.deployment_id)


def test_plain_sql_is_followed_as_well():
    sighting = SightingFactory(photo__taken_at=MAY)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Photo._meta.db_table} SET taken_at = %s WHERE id = %s",
            [MAY + timedelta(minutes=5), sighting.photo_id],
        )

    assert copies(sighting)[0] == MAY + timedelta(minutes=5)


def test_migrate_installs_missing_triggers_again_and_repairs_the_copies():
    # Triggers lost some other way: a table rebuilt by hand, a restore without them.
    sighting = SightingFactory(photo__taken_at=MAY)
    photo_copy.uninstall(connection)
    assert photo_copy.installed_triggers(connection) == set()
    Photo.objects.filter(pk=sighting.photo_id).update(taken_at=MAY + timedelta(days=2))
    assert copies(sighting)[0] == MAY  # nothing followed without the triggers

    call_command("migrate", verbosity=0)

    assert photo_copy.installed_triggers(connection) == set(photo_copy._NAMES[connection.vendor])
    assert copies(sighting) == photo_of(sighting)
    Photo.objects.filter(pk=sighting.photo_id).update(taken_at=MAY + timedelta(days=3))
    assert copies(sighting)[0] == MAY + timedelta(days=3)


def test_installing_when_present_leaves_every_copy_as_it_is():
    SightingFactory(photo__taken_at=MAY)

    assert photo_copy.ensure() == 0


def test_migrated_back_before_the_copies_the_triggers_go_and_return_going_forward():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    before = loader.project_state(("leopards", "0014_feature_model_columns_from_blobs")).apps
    sighting = SightingFactory(photo__taken_at=MAY)

    photo_copy.ensure(apps=before)
    assert photo_copy.installed_triggers(connection) == set()
    photo_copy.ensure()

    assert photo_copy.installed_triggers(connection) == set(photo_copy._NAMES[connection.vendor])
    Photo.objects.filter(pk=sighting.photo_id).update(taken_at=MAY + timedelta(days=4))
    assert copies(sighting)[0] == MAY + timedelta(days=4)


@pytest.mark.django_db(transaction=True)
def test_migrating_back_and_forth_keeps_photos_writable_and_the_copies_right():
    sighting = SightingFactory(photo__taken_at=MAY)

    call_command("migrate", "leopards", "0014_feature_model_columns_from_blobs", verbosity=0)
    assert photo_copy.installed_triggers(connection) == set()
    # Nothing is left that writes the columns now gone.
    Photo.objects.filter(pk=sighting.photo_id).update(taken_at=MAY + timedelta(days=6))

    call_command("migrate", verbosity=0)
    assert photo_copy.installed_triggers(connection) == set(photo_copy._NAMES[connection.vendor])
    assert copies(sighting) == (MAY + timedelta(days=6), sighting.photo.deployment_id)


def _widened(model, name: str):
    old = model._meta.get_field(name)
    new = old.clone()
    new.set_attributes_from_name(name)
    new.model = model
    new.max_length = old.max_length + 1
    return old, new


@pytest.mark.django_db(transaction=True)
def test_a_migration_altering_a_column_of_either_table_runs_and_the_copies_hold():
    # SQLite alters a column by rebuilding the table: a new table, the rows copied, the
    # old one dropped and the new one renamed, which a trigger on the other table that
    # names it stops. PostgreSQL alters in place.
    sighting = SightingFactory(photo__taken_at=MAY)
    changes = [_widened(Sighting, "feature_error_code"), _widened(Photo, "original_name")]
    emit_pre_migrate_signal(verbosity=0, interactive=False, db="default")
    with connection.schema_editor() as editor:
        for old, new in changes:
            editor.alter_field(old.model, old, new)
    # A data migration writing a photo's time while the triggers may be away.
    Photo.objects.filter(pk=sighting.photo_id).update(taken_at=MAY + timedelta(days=7))
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert photo_copy.installed_triggers(connection) == set(photo_copy._NAMES[connection.vendor])
    assert copies(sighting)[0] == MAY + timedelta(days=7)
    Photo.objects.filter(pk=sighting.photo_id).update(taken_at=MAY + timedelta(days=8))
    assert copies(sighting)[0] == MAY + timedelta(days=8)

    emit_pre_migrate_signal(verbosity=0, interactive=False, db="default")
    with connection.schema_editor() as editor:
        for old, new in changes:
            editor.alter_field(old.model, new, old)
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
