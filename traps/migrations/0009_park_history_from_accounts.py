"""Take up the change histories of parks and park memberships from accounts.

The rows stay where they are: the models become traps' own (accounts 0002
let them go) and their tables are renamed after the app.
"""

import django.core.validators
import django.db.models.deletion
import simple_history.models
import traps.models
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("traps", "0008_photo_error_code_unstorable"),
        ("accounts", "0002_rename_tables_and_park_history_to_traps"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="HistoricalPark",
                    fields=[
                        (
                            "id",
                            models.BigIntegerField(
                                auto_created=True, blank=True, db_index=True, verbose_name="ID"
                            ),
                        ),
                        ("code", models.SlugField(max_length=20, verbose_name="code")),
                        ("name", models.CharField(max_length=200, verbose_name="name")),
                        (
                            "country",
                            models.CharField(
                                choices=[("RU", "Russia"), ("CN", "China"), ("KP", "North Korea")],
                                max_length=2,
                                verbose_name="country",
                            ),
                        ),
                        (
                            "area_km2",
                            models.DecimalField(
                                decimal_places=1,
                                max_digits=10,
                                validators=[
                                    django.core.validators.MinValueValidator(Decimal("0.1"))
                                ],
                                verbose_name="area (km²)",
                            ),
                        ),
                        (
                            "boundary",
                            models.JSONField(
                                blank=True, null=True, verbose_name="boundary (GeoJSON)"
                            ),
                        ),
                        (
                            "time_zone",
                            models.CharField(
                                default="Asia/Vladivostok",
                                max_length=64,
                                validators=[traps.models.validate_time_zone],
                                verbose_name="time zone",
                            ),
                        ),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        (
                            "history_type",
                            models.CharField(
                                choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")],
                                max_length=1,
                            ),
                        ),
                        (
                            "history_user",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "historical park",
                        "verbose_name_plural": "historical parks",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                        "db_table": "security_historicalpark",
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name="HistoricalParkMembership",
                    fields=[
                        (
                            "id",
                            models.BigIntegerField(
                                auto_created=True, blank=True, db_index=True, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(blank=True, editable=False)),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        (
                            "history_type",
                            models.CharField(
                                choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")],
                                max_length=1,
                            ),
                        ),
                        (
                            "history_user",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "park",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="traps.park",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "historical park membership",
                        "verbose_name_plural": "historical park memberships",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                        "db_table": "security_historicalparkmembership",
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
            ],
        ),
        migrations.AlterModelTable(name="historicalpark", table=None),
        migrations.AlterModelTable(name="historicalparkmembership", table=None),
    ]
