"""A database of the registry from before the accounts app keeps its rows when migrated.

Accounts, API tokens, the exact-location log and the change histories were
the app "traps.security" (label "security"). The test puts the database
back as that release left it (its migration recorded, its tables, content
types and rows), migrates forward and finds every row, and the content
types that the admin log and the roles' permissions point to, in place.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from accounts.models import ApiToken, LocationAccessLog
from accounts.roles import Role, roles_ensure
from traps.models import Park, ParkMembership

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS_FIRST = ("accounts", "0001_initial")
SECURITY_FIRST = ("security", "0001_initial")
MOVED = {
    "apitoken": "accounts",
    "locationaccesslog": "accounts",
    "historicaluser": "accounts",
    "historicaluser_groups": "accounts",
    "historicalpark": "traps",
    "historicalparkmembership": "traps",
}


def as_before_the_move() -> MigrationExecutor:
    """Migrate back to the schema of "security" 0001 and record it as that release did."""
    executor = MigrationExecutor(connection)
    executor.migrate([ACCOUNTS_FIRST])
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied(*ACCOUNTS_FIRST)
    recorder.record_applied(*SECURITY_FIRST)
    for model, app_label in MOVED.items():
        ContentType.objects.filter(app_label=app_label, model=model).update(app_label="security")
    ContentType.objects.clear_cache()
    return executor


@pytest.fixture
def old_database():
    roles_ensure()
    executor = as_before_the_move()
    try:
        yield executor.loader.project_state(ACCOUNTS_FIRST).apps
    finally:
        # Whatever the test did, leave the database as the other tests expect it.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        ContentType.objects.clear_cache()


def test_rows_content_types_and_permissions_survive(old_database):
    old = old_database
    now = timezone.now()
    user = old.get_model("auth", "User").objects.create(username="olga", password="!")
    park = old.get_model("traps", "Park").objects.create(
        code="lotl", name="Land of the Leopard", country="RU", area_km2=Decimal("2800")
    )
    old_token = old.get_model("accounts", "ApiToken").objects.create(
        user_id=user.pk,
        name="script",
        prefix="abcdefgh",
        digest="d" * 64,
        created_at=now,
        expires_at=now + timedelta(days=30),
    )
    old.get_model("accounts", "LocationAccessLog").objects.create(
        user_id=user.pk, username="olga", park_id=park.pk, park_code="lotl", what="page"
    )
    historical_user = old.get_model("accounts", "HistoricalUser").objects.create(
        id=user.pk, username="olga", history_date=now, history_type="+", date_joined=now
    )
    old.get_model("accounts", "HistoricalUser_groups").objects.create(
        id=1,
        history_id=historical_user.pk,
        user_id=user.pk,
        group_id=Group.objects.get(name="admin").pk,
    )
    old.get_model("accounts", "HistoricalPark").objects.create(
        id=park.pk,
        code="lotl",
        name="Land of the Leopard",
        country="RU",
        area_km2=Decimal("2800"),
        history_date=now,
        history_type="+",
    )
    old.get_model("accounts", "HistoricalParkMembership").objects.create(
        id=1, user_id=user.pk, park_id=park.pk, created_at=now, history_date=now, history_type="+"
    )
    token_type = ContentType.objects.get(app_label="security", model="apitoken")
    LogEntry.objects.create(
        user_id=user.pk,
        content_type=token_type,
        # The token's own id: PostgreSQL's sequences go on from earlier tests.
        object_id=str(old_token.pk),
        object_repr="token",
        action_flag=ADDITION,
    )

    executor = MigrationExecutor(connection)
    assert ACCOUNTS_FIRST in executor.loader.applied_migrations
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert ACCOUNTS_FIRST in MigrationRecorder(connection).applied_migrations()

    user = User.objects.get(username="olga")
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.digest) == (user, "script", "d" * 64)
    assert LocationAccessLog.objects.get().park == Park.objects.get(code="lotl")
    assert [h.history_type for h in user.history.all()] == ["+"]
    assert [g.group.name for g in user.history.get().groups.all()] == [Role.ADMIN]
    assert Park.objects.get().history.get().name == "Land of the Leopard"
    assert ParkMembership.history.get().park_id == park.pk

    assert not ContentType.objects.filter(app_label="security").exists()
    for model, app_label in MOVED.items():
        assert ContentType.objects.filter(app_label=app_label, model=model).count() == 1
    # The same content type, so the admin log and the roles' permissions kept theirs.
    assert ContentType.objects.get_for_model(ApiToken).pk == token_type.pk
    assert LogEntry.objects.get().get_edited_object() == token
    admin_permissions = Group.objects.get(name=Role.ADMIN).permissions
    assert admin_permissions.filter(content_type=token_type, codename="delete_apitoken").exists()


def test_a_new_database_names_the_tables_after_their_apps():
    tables = set(connection.introspection.table_names())
    assert {
        "accounts_apitoken",
        "accounts_locationaccesslog",
        "accounts_historicaluser",
        "accounts_historicaluser_groups",
        "traps_historicalpark",
        "traps_historicalparkmembership",
    } <= tables
    assert not {table for table in tables if table.startswith("security_")}
