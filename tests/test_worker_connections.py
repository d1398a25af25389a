"""A worker keeps its database connection from task to task, as Django's requests do."""

from types import SimpleNamespace

import pytest
from celery import states
from django.db import connection

from config.celery import _database_after_task, _database_before_task
from tests.conftest import require

pytestmark = pytest.mark.django_db(transaction=True)

WORKER_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


def test_a_connection_outlives_a_task_that_succeeded_and_not_one_that_failed():
    require(connection.vendor == "postgresql", "CONN_MAX_AGE keeps PostgreSQL's connections")
    connection.ensure_connection()
    opened = connection.connection
    _database_before_task(sender=WORKER_TASK)
    _database_after_task(sender=WORKER_TASK, state=states.SUCCESS)
    assert connection.connection is opened
    # Stopped mid-query (a time limit), a connection may look usable and not be.
    _database_after_task(sender=WORKER_TASK, state=states.FAILURE)
    assert connection.connection is None


def test_a_task_run_in_process_leaves_the_connection_alone():
    connection.ensure_connection()
    opened = connection.connection
    in_process = SimpleNamespace(request=SimpleNamespace(is_eager=True))
    _database_after_task(sender=in_process, state=states.FAILURE)
    assert connection.connection is opened
