"""Multi-row INSERT … ON CONFLICT for PostgreSQL and SQLite, returning what was really inserted.

Django's bulk_create(ignore_conflicts=True) cannot tell which rows were new; the collect path must,
to report duplicates honestly when the same batch arrives twice at once.
"""

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson
from django.db import connection, models


@dataclass(frozen=True)
class Then:
    """A second upsert in the same statement as insert_rows' (a CTE on PostgreSQL): `rows` of
    `model`, written only for the values of `link` (an attname of both models) that rows really
    inserted by the first carry. `on_conflict_set` as in insert_rows."""

    model: type
    rows: list[dict]
    conflict: tuple[str, ...]
    link: str
    on_conflict_set: str = ""


def insert_rows(
    model,
    rows: list[dict],
    *,
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
    on_conflict_set: str = "",
    then: Then | None = None,
    relaxed_commit: bool = False,
) -> list[tuple]:
    """Insert `rows` (dicts keyed by attname, all with the same keys); rows that clash on `conflict`
    are skipped, or updated with `on_conflict_set` (SQL after DO UPDATE SET; `t.` is the stored row,
    `excluded.` the new one; rows must then be unique on `conflict`). Returns the `returning` columns
    of the rows inserted or updated, as Python values.

    One statement on PostgreSQL, `then` included; `relaxed_commit` makes the transaction it runs in
    commit with `synchronous_commit = off` (set inside the statement, so an autocommit write is still
    one round trip). SQLite runs `then` as a second statement and ignores `relaxed_commit`."""
    if not rows:
        return []
    postgres = connection.vendor == "postgresql"
    if then is not None and not then.rows:
        then = None
    link = (then.link,) if then is not None and then.link not in returning else ()
    fields, returned, statement = _statement(
        model,
        tuple(rows[0]),
        conflict,
        returning + link,
        on_conflict_set,
        connection.vendor,
        relaxed_commit and postgres,
    )
    values: list[tuple] = []
    if postgres:
        params = [_pg_rows(rows)]
        if then is not None:
            then_fields, then_sql = _then_statement(
                then.model, tuple(then.rows[0]), then.conflict, then.link, then.on_conflict_set
            )
            params.append(_pg_rows(then.rows))
            returned = returned[: len(returning)]
            names = ", ".join(connection.ops.quote_name(f.column) for f in returned)
            statement = f"WITH new AS ({statement}), follow AS ({then_sql}) SELECT {names} FROM new"
            link = ()  # the statement itself filters; nothing to strip
        with _array_cursor() as cursor:
            cursor.execute(statement, params)
            values.extend(cursor.fetchall())  # psycopg loads the columns' Python types
    else:
        text: list[tuple] = []
        with connection.cursor() as cursor:
            head, tail, converters = statement
            row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
            names = [f.attname for f in fields]
            step = max(1, 32_000 // len(fields))  # SQLite takes at most 32,766 parameters a statement
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                params = [
                    convert(row[name])
                    for row in chunk
                    for name, convert in zip(names, converters, strict=True)
                ]
                cursor.execute(head + "VALUES " + ", ".join([row_sql] * len(chunk)) + tail, params)
                if returned:
                    text.extend(cursor.fetchall())
        # SQLite hands back UUIDs, datetimes and decimals as text.
        values = [tuple(f.to_python(v) for f, v in zip(returned, r, strict=True)) for r in text]
    if then is not None and not postgres:
        position = (returning + link).index(then.link)
        inserted = {r[position] for r in values}
        follow = [row for row in then.rows if row[then.link] in inserted]
        insert_rows(
            then.model, follow, conflict=then.conflict, returning=(), on_conflict_set=then.on_conflict_set
        )
    if link:
        values = [r[: len(returning)] for r in values]
    return values


@functools.lru_cache(maxsize=64)
def _statement(
    model,
    names: tuple,
    conflict: tuple,
    returning: tuple,
    on_conflict_set: str,
    vendor: str,
    relaxed_commit: bool = False,
):
    """The statement for one shape of insert, built once: on the collect path this is per request."""
    qn = connection.ops.quote_name
    fields = _fields(model, names)
    returned = _fields(model, returning)
    head = f"INSERT INTO {qn(model._meta.db_table)} AS t ({', '.join(qn(f.column) for f in fields)}) "
    action = f"DO UPDATE SET {on_conflict_set}" if on_conflict_set else "DO NOTHING"
    tail = f" ON CONFLICT ({', '.join(qn(f.column) for f in _fields(model, conflict))}) {action}"
    if returned:
        tail += f" RETURNING {', '.join(qn(f.column) for f in returned)}"
    if vendor == "postgresql":
        # The rows as one JSON array parameter, read back by json_to_recordset: the statement text
        # is the same for any batch size, a row costs no placeholder or quoting work, and orjson
        # writes the whole batch in one call (one binary array per column cost psycopg 25 µs a
        # column in Python, half a millisecond for a single event). As json, not jsonb: PostgreSQL
        # then reads each row straight from the text instead of first building (and key-sorting)
        # a jsonb value of the whole batch (15 % of its CPU for a batch of 50 measured alone).
        source = f"SELECT u.* FROM json_to_recordset(%s::json) AS u({_record_columns(fields)})"
        if relaxed_commit:
            # set_config(…, true) lasts until the end of the transaction, the statement's own in
            # autocommit: its commit then does not wait for the disk. One row, so evaluated once.
            source += " CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
        return fields, returned, head + source + tail
    return fields, returned, (head, tail, [_sqlite_value(f) for f in fields])


@functools.lru_cache(maxsize=16)
def _then_statement(model, names: tuple, conflict: tuple, link: str, on_conflict_set: str):
    """The CTE of a `Then`: its rows, kept when `link` is among the ones the first insert returned."""
    qn = connection.ops.quote_name
    fields = _fields(model, names)
    columns = ", ".join(qn(f.column) for f in fields)
    (link_field,) = _fields(model, (link,))
    action = f"DO UPDATE SET {on_conflict_set}" if on_conflict_set else "DO NOTHING"
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} AS t ({columns}) "
        f"SELECT u.* FROM json_to_recordset(%s::json) AS u({_record_columns(fields)}) "
        f"WHERE u.{qn(link_field.column)} IN (SELECT {qn(link_field.column)} FROM new) "
        f"ON CONFLICT ({', '.join(qn(f.column) for f in _fields(model, conflict))}) {action}"
    )
    return fields, sql


def _array_cursor():
    """A psycopg cursor with server-side binding (Django's default binds on the client, which
    renders arrays as quoted text), wrapped by Django so it is still logged and counted."""
    import psycopg

    connection.ensure_connection()
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))


# Fields whose Python value sqlite3 stores as it is: their get_db_prep_save (about 10 µs a value,
# most of a history import on SQLite) would only hand it back.
_SQLITE_PLAIN = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.FloatField,
)


def _sqlite_value(field: models.Field):
    """A function preparing one value of `field` for SQLite, cheaper than get_db_prep_save where
    that does nothing or one known conversion; get_db_prep_save itself otherwise."""
    generic = functools.partial(field.get_db_prep_save, connection=connection)
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if isinstance(target, _SQLITE_PLAIN) and not isinstance(target, models.DecimalField):
        return _plain
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        return lambda v: adapt(v) if isinstance(v, datetime) and v.tzinfo is not None else generic(v)
    if isinstance(field, models.UUIDField):
        return lambda v: v.hex if isinstance(v, uuid.UUID) else generic(v)
    return generic


def _plain(value):
    return value


def _fields(model, names) -> list[models.Field]:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [by_attname[name] for name in names]


def _record_columns(fields: list[models.Field]) -> str:
    """json_to_recordset's column list: a JSON row's keys are the attnames, which must then be the
    column names (true of the models written here)."""
    for f in fields:
        if f.attname != f.column:
            raise ValueError(f"{f.model.__name__}.{f.attname} is stored as {f.column}: not supported")
    return ", ".join(f"{connection.ops.quote_name(f.column)} {f.db_type(connection)}" for f in fields)


def _pg_rows(rows: list[dict]) -> str:
    """The rows as one JSON array (UUIDs and datetimes as orjson writes them, ISO 8601 with the
    offset; Decimals as their exact text; JSON fields nested as they are)."""
    return orjson.dumps(rows, default=_json_default).decode()


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "item") and hasattr(value, "dtype"):  # a numpy scalar (benchmark generators)
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be written")
