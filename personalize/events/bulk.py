"""Multi-row INSERT … ON CONFLICT for PostgreSQL and SQLite, returning what was really inserted.

Django's bulk_create(ignore_conflicts=True) cannot tell which rows were new; the collect path must,
to report duplicates honestly when the same batch arrives twice at once.
"""

import functools
import json

from django.db import connection, models


def insert_rows(
    model,
    rows: list[dict],
    *,
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
    on_conflict_set: str = "",
) -> list[tuple]:
    """Insert `rows` (dicts keyed by attname, all with the same keys); rows that clash on `conflict`
    are skipped, or updated with `on_conflict_set` (SQL after DO UPDATE SET; `t.` is the stored row,
    `excluded.` the new one; rows must then be unique on `conflict`). Returns the `returning` columns
    of the rows inserted or updated, as Python values."""
    if not rows:
        return []
    fields, returned, statement = _statement(
        model, tuple(rows[0]), conflict, returning, on_conflict_set, connection.vendor
    )
    out: list[tuple] = []
    with _array_cursor() if connection.vendor == "postgresql" else connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            params = [[_pg_value(f, row[f.attname]) for row in rows] for f in fields]
            cursor.execute(statement, params)
            out.extend(cursor.fetchall())
        else:
            head, tail = statement
            row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
            step = max(1, 32_000 // len(fields))  # SQLite takes at most 32,766 parameters a statement
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                params = [f.get_db_prep_save(row[f.attname], connection) for row in chunk for f in fields]
                cursor.execute(head + "VALUES " + ", ".join([row_sql] * len(chunk)) + tail, params)
                out.extend(cursor.fetchall())
    return [tuple(f.to_python(v) for f, v in zip(returned, r, strict=True)) for r in out]


@functools.lru_cache(maxsize=64)
def _statement(model, names: tuple, conflict: tuple, returning: tuple, on_conflict_set: str, vendor: str):
    """The statement for one shape of insert, built once: on the collect path this is per request."""
    qn = connection.ops.quote_name
    fields = _fields(model, names)
    returned = _fields(model, returning)
    head = f"INSERT INTO {qn(model._meta.db_table)} AS t ({', '.join(qn(f.column) for f in fields)}) "
    action = f"DO UPDATE SET {on_conflict_set}" if on_conflict_set else "DO NOTHING"
    tail = (
        f" ON CONFLICT ({', '.join(qn(f.column) for f in _fields(model, conflict))}) {action}"
        f" RETURNING {', '.join(qn(f.column) for f in returned)}"
    )
    if vendor == "postgresql":
        # One binary array parameter per column: the statement text is the same for any batch
        # size, and a row costs no placeholder or quoting work.
        source = "SELECT * FROM unnest(" + ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields) + ")"
        return fields, returned, head + source + tail
    return fields, returned, (head, tail)


def _array_cursor():
    """A psycopg cursor with server-side binding (Django's default binds on the client, which
    renders arrays as quoted text), wrapped by Django so it is still logged and counted."""
    import psycopg

    connection.ensure_connection()
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))


def _fields(model, names) -> list[models.Field]:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [by_attname[name] for name in names]


def _pg_value(field: models.Field, value):
    if isinstance(field, models.JSONField):
        return None if value is None else json.dumps(value)
    return value
