"""Give the app's tables its own name, and hand the parks' histories to traps.

Until now this app was "traps.security" with label "security". Its tables
are renamed (their rows stay), its content types (and with them the admin
log and the permissions that roles hold) are carried over to the new label,
and the change histories of parks and park memberships, which stay where
they are in the database, become traps models (traps 0009 takes them up).
"""

from django.db import migrations

MOVED_TO = {
    "apitoken": "accounts",
    "locationaccesslog": "accounts",
    "historicaluser": "accounts",
    "historicaluser_groups": "accounts",
    "historicalpark": "traps",
    "historicalparkmembership": "traps",
}


def carry_content_types(apps, schema_editor, *, old: dict[str, str], new: dict[str, str]) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED_TO:
        moved = ContentType.objects.using(db).filter(app_label=old[model], model=model).first()
        if moved is None:
            continue
        # A content type made for the new label before its rows were carried
        # over (by a migrate that stopped half way) holds nothing of value.
        ContentType.objects.using(db).filter(app_label=new[model], model=model).delete()
        moved.app_label = new[model]
        moved.save(update_fields=["app_label"])


def forwards(apps, schema_editor) -> None:
    carry_content_types(apps, schema_editor, old=dict.fromkeys(MOVED_TO, "security"), new=MOVED_TO)


def backwards(apps, schema_editor) -> None:
    carry_content_types(apps, schema_editor, old=MOVED_TO, new=dict.fromkeys(MOVED_TO, "security"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="HistoricalPark"),
                migrations.DeleteModel(name="HistoricalParkMembership"),
            ],
        ),
        migrations.AlterModelTable(name="apitoken", table=None),
        migrations.AlterModelTable(name="historicaluser", table=None),
        migrations.AlterModelTable(name="historicaluser_groups", table=None),
        migrations.AlterModelTable(name="locationaccesslog", table=None),
        migrations.RunPython(forwards, backwards),
    ]
