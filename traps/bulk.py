"""Write many rows' fields in two statements, whatever the number of rows.

Django's ``bulk_update`` writes every field as a CASE expression with a branch per
row: building it costs about a millisecond a row in Python (bench/README.md, "Photo
ingest"), more than the database spends on the statement. Here the fields every
row shares are set by one plain UPDATE, and on PostgreSQL the others by one
``UPDATE ... FROM (VALUES ...)``, each value prepared by its model field as the
ORM would prepare it. Other databases take ``bulk_update`` for those.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model


def write_fields(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Save these fields of these saved rows of one model, as ``bulk_update`` would."""
    if not objs:
        return
    model = type(objs[0])
    concrete = [model._meta.get_field(name) for name in fields]
    shared, varying = {}, []
    for field in concrete:
        values = [field.value_from_object(obj) for obj in objs]
        if all(value == values[0] for value in values[1:]):
            shared[field.attname] = values[0]
        else:
            varying.append(field)
    rows = model._default_manager.filter(pk__in=[obj.pk for obj in objs])
    if shared:
        rows.update(**shared)
    if not varying:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, [field.name for field in varying])
        return
    quote = connection.ops.quote_name
    pk = model._meta.pk
    columns = [pk, *varying]
    names = ", ".join(quote(f"v{i}") for i in range(len(columns)))
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    assignments = ", ".join(
        f"{quote(field.column)} = v.{quote(f'v{i}')}::{field.db_type(connection)}"
        for i, field in enumerate(columns)
        if i > 0
    )
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {assignments} "
        f"FROM (VALUES {', '.join([row] * len(objs))}) AS v ({names}) "
        f"WHERE {quote(model._meta.db_table)}.{quote(pk.column)} = v.{quote('v0')}"
        f"::{pk.db_type(connection)}"
    )
    params = [
        field.get_db_prep_save(getattr(obj, field.attname), connection)
        for obj in objs
        for field in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
