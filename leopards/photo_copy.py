"""Each sighting's copy of its photo's time and deployment, kept by the database.

A sighting's time and place are its photo's. The census counts confirmed sightings by
time and place, and reading them through the photo table (twenty photos or more for
each sighting at landscape scale) made a live season page take tens of seconds. So a
sighting carries a copy, `Sighting.taken_at` and `Sighting.deployment`, and triggers
keep it equal to the photo's on every write, whichever path makes it: a box drawn,
detected or imported, a photo processed again, a clock offset corrected, a bulk update,
the admin or plain SQL. Python code reads the copies and never writes them; a value
written to them is replaced by the photo's.

Migrations and triggers meet in two ways (apps.py connects both to migrate). SQLite
rebuilds a table to alter it, and the rebuild fails while a trigger on the other table
names it; so on SQLite the triggers are dropped before migrations run. After every
migrate, on any database, a missing trigger is installed again and every copy made
again; and where the columns are gone (migrated back), the triggers go too.
"""

from __future__ import annotations

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import OuterRef, Subquery

SIGHTING_TRIGGER = "leopards_sighting_copies_photo"
PHOTO_TRIGGER = "leopards_photo_copied_to_sightings"

_POSTGRESQL = [
    # A sighting written: take the copies from its photo, whatever the row says.
    """
    CREATE OR REPLACE FUNCTION {sighting_trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT p.taken_at, p.deployment_id INTO NEW.taken_at, NEW.deployment_id
        FROM {photo} p WHERE p.id = NEW.photo_id;
        RETURN NEW;
    END;
    $$
    """,
    """
    CREATE TRIGGER {sighting_trigger}
    BEFORE INSERT OR UPDATE OF photo_id, taken_at, deployment_id ON {sighting}
    FOR EACH ROW EXECUTE FUNCTION {sighting_trigger}()
    """,
    # A photo's time or deployment changed: its sightings follow.
    """
    CREATE OR REPLACE FUNCTION {photo_trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {sighting} SET taken_at = NEW.taken_at, deployment_id = NEW.deployment_id
        WHERE photo_id = NEW.id;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER {photo_trigger}
    AFTER UPDATE OF taken_at, deployment_id ON {photo}
    FOR EACH ROW
    WHEN (OLD.taken_at IS DISTINCT FROM NEW.taken_at
          OR OLD.deployment_id IS DISTINCT FROM NEW.deployment_id)
    EXECUTE FUNCTION {photo_trigger}()
    """,
]

# SQLite's triggers cannot change the row being written, so they update it just after,
# in the same statement; the conditions stop the update from firing itself again.
_FROM_PHOTO = """
    UPDATE {sighting} SET
        taken_at = (SELECT p.taken_at FROM {photo} p WHERE p.id = NEW.photo_id),
        deployment_id = (SELECT p.deployment_id FROM {photo} p WHERE p.id = NEW.photo_id)
    WHERE id = NEW.id;
"""
_SQLITE = [
    "CREATE TRIGGER {sighting_trigger}_insert AFTER INSERT ON {sighting} BEGIN"
    + _FROM_PHOTO
    + "END",
    """
    CREATE TRIGGER {sighting_trigger}_update
    AFTER UPDATE OF photo_id, taken_at, deployment_id ON {sighting}
    WHEN NEW.taken_at IS NOT (SELECT p.taken_at FROM {photo} p WHERE p.id = NEW.photo_id)
      OR NEW.deployment_id IS NOT (SELECT p.deployment_id FROM {photo} p WHERE p.id = NEW.photo_id)
    BEGIN"""
    + _FROM_PHOTO
    + "END",
    """
    CREATE TRIGGER {photo_trigger} AFTER UPDATE OF taken_at, deployment_id ON {photo}
    WHEN NEW.taken_at IS NOT OLD.taken_at OR NEW.deployment_id IS NOT OLD.deployment_id
    BEGIN
        UPDATE {sighting} SET taken_at = NEW.taken_at, deployment_id = NEW.deployment_id
        WHERE photo_id = NEW.id;
    END
    """,
]

_DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS {sighting_trigger} ON {sighting}",
        "DROP TRIGGER IF EXISTS {photo_trigger} ON {photo}",
        "DROP FUNCTION IF EXISTS {sighting_trigger}()",
        "DROP FUNCTION IF EXISTS {photo_trigger}()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS {sighting_trigger}_insert",
        "DROP TRIGGER IF EXISTS {sighting_trigger}_update",
        "DROP TRIGGER IF EXISTS {photo_trigger}",
    ],
}

_NAMES = {
    "postgresql": [SIGHTING_TRIGGER, PHOTO_TRIGGER],
    "sqlite": [f"{SIGHTING_TRIGGER}_insert", f"{SIGHTING_TRIGGER}_update", PHOTO_TRIGGER],
}


def installed_triggers(connection: BaseDatabaseWrapper) -> set[str]:
    """Return the names of this module's triggers that the database holds."""
    names = _NAMES[connection.vendor]
    query = {
        "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname = ANY(%s)",
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN ({})".format(
            ", ".join(["%s"] * len(names))
        ),
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(query, [names] if connection.vendor == "postgresql" else names)
        return {name for (name,) in cursor.fetchall()}


def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    from django.apps import apps

    names = {
        "sighting": connection.ops.quote_name(
            apps.get_model("leopards", "Sighting")._meta.db_table
        ),
        "photo": connection.ops.quote_name(apps.get_model("traps", "Photo")._meta.db_table),
        "sighting_trigger": SIGHTING_TRIGGER,
        "photo_trigger": PHOTO_TRIGGER,
    }
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.format(**names))


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers on this database, replacing any there."""
    vendor = connection.vendor
    create = {"postgresql": _POSTGRESQL, "sqlite": _SQLITE}[vendor]
    _run(connection, [*_DROP[vendor], *create])


def uninstall(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers: the photo's would otherwise write columns that are gone."""
    _run(connection, _DROP[connection.vendor])


def resync(sighting_model, photo_model, using: str = "default") -> int:
    """Copy every sighting's photo time and deployment again; return the rows written."""
    photo = photo_model.objects.using(using).filter(pk=OuterRef("photo_id"))
    return sighting_model.objects.using(using).update(
        taken_at=Subquery(photo.values("taken_at")[:1]),
        deployment_id=Subquery(photo.values("deployment_id")[:1]),
    )


def before_migrate(using: str = "default") -> None:
    """On SQLite, drop the triggers, which would stop a migration rebuilding either table."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        uninstall(connection)


def ensure(using: str = "default", apps=None) -> int:
    """Install the triggers when one is missing, and copy again. Return the rows copied."""
    from django.apps import apps as global_apps

    apps = apps or global_apps
    sighting_model = apps.get_model("leopards", "Sighting")
    photo_model = apps.get_model("traps", "Photo")
    connection = connections[using]
    if connection.vendor not in _NAMES:
        return 0
    installed = installed_triggers(connection)
    if "taken_at" not in {field.name for field in sighting_model._meta.get_fields()}:
        # Migrated back to before the copies existed.
        if installed:
            uninstall(connection)
        return 0
    if not set(_NAMES[connection.vendor]) - installed:
        return 0  # no DDL, which would lock both tables, when nothing is missing
    with transaction.atomic(using=using):
        install(connection)
        return resync(sighting_model, photo_model, using)
