"""The Celery application, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery, states
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections, connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes every database connection before and after each
# task, whatever CONN_MAX_AGE says, so a worker opened a PostgreSQL connection
# a task: 8 ms of PostgreSQL's CPU for each of a card's tasks, most of which
# find their photo already done by a batch (bench/README.md, "Worker hosts").
# Its reason is a task stopped in the middle of a query (a time limit), which
# can leave a connection Django still takes for usable. Here the fixup never
# closes them; connections live as they do between Django's requests
# (CONN_MAX_AGE, CONN_HEALTH_CHECKS), and a task that did not succeed closes
# them, whatever stopped it.
app.conf.CELERY_DB_REUSE_MAX = 2**62


@task_prerun.connect
def _database_before_task(sender=None, **kwargs) -> None:
    if not getattr(sender.request, "is_eager", False):
        close_old_connections()


@task_postrun.connect
def _database_after_task(sender=None, state=None, **kwargs) -> None:
    if getattr(sender.request, "is_eager", False):
        return
    if state == states.SUCCESS:
        close_old_connections()
        return
    for connection in connections.all(initialized_only=True):
        connection.close()
