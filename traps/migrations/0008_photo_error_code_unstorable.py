"""Add the code for results the database refuses, and take database errors off photos.

Photos that failed because PostgreSQL refused a NUL in their EXIF kept the
database's message as their error detail, shown to rangers. EXIF text is now
cleaned before it is stored, so those photos go back to "received" and the
periodic sweep processes them again.
"""

from django.db import migrations, models
from django.db.models import Q

# Words that only a database driver's or PostgreSQL's message contains.
DATABASE_MESSAGE_MARKERS = (
    "LINE 1:",
    "DETAIL:",
    "CONTEXT:",
    "psycopg",
    "connection to server",
    "server closed the connection",
    "cannot contain NUL",
)


def requeue_database_failures(apps, schema_editor):
    Photo = apps.get_model("traps", "Photo")
    database_message = Q()
    for marker in DATABASE_MESSAGE_MARKERS:
        database_message |= Q(error__contains=marker)
    Photo.objects.filter(database_message, status="failed", error_code="gave_up").update(
        status="received", error_code="", error=""
    )


class Migration(migrations.Migration):
    dependencies = [("traps", "0007_station_coordinate_precision_from_notes")]

    operations = [
        migrations.AlterField(
            model_name="photo",
            name="error_code",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "None"),
                    ("too_many_pixels", "The image has more pixels than the limit."),
                    ("undecodable", "The image data is damaged and cannot be decoded."),
                    ("gave_up", "Processing stopped after several attempts."),
                    (
                        "unstorable",
                        "The photo's camera data could not be saved. Retry it; if it fails "
                        "again, send the photo to an administrator.",
                    ),
                ],
                default="",
                max_length=20,
                verbose_name="processing error",
            ),
        ),
        migrations.RunPython(requeue_database_failures, migrations.RunPython.noop),
    ]
