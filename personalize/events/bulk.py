"""Multi-row INSERT … ON CONFLICT for PostgreSQL and SQLite, returning what was really inserted.

Django's bulk_create(ignore_conflicts=True) cannot tell which rows were new; the collect path must,
to report duplicates honestly when the same batch arrives twice at once.
"""

from collections.abc import Iterable

from django.db import connection


def _fields(model, names: Iterable[str]):
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [by_attname[name] for name in names]


def _max_rows(columns: int) -> int:
    # PostgreSQL takes at most 65,535 parameters a statement; SQLite (>= 3.32) 32,766.
    limit = 65_000 if connection.vendor == "postgresql" else 32_000
    return max(1, limit // columns)


def insert_rows(model, rows: list[dict], *, conflict: tuple[str, ...], returning: tuple[str, ...],
                on_conflict_set: str = "") -> list[tuple]:
    """Insert `rows` (dicts keyed by attname); rows that clash on `conflict` are skipped, or updated
    with `on_conflict_set` (SQL after DO UPDATE SET; `t.` is the stored row, `excluded.` the new one). Returns the `returning`
    columns of the rows inserted or updated, converted to Python values."""
    if not rows:
        return []
    qn = connection.ops.quote_name
    fields = _fields(model, rows[0].keys())
    returned = _fields(model, returning)
    table = qn(model._meta.db_table)
    action = f"DO UPDATE SET {on_conflict_set}" if on_conflict_set else "DO NOTHING"
    head = f"INSERT INTO {table} AS t ({', '.join(qn(f.column) for f in fields)}) VALUES "
    tail = (
        f" ON CONFLICT ({', '.join(qn(c) for c in _columns(model, conflict))}) {action}"
        f" RETURNING {', '.join(qn(f.column) for f in returned)}"
    )
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    out: list[tuple] = []
    step = _max_rows(len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            params = [f.get_db_prep_save(row[f.attname], connection) for row in chunk for f in fields]
            cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
            out.extend(tuple(f.to_python(v) for f, v in zip(returned, r, strict=True)) for r in cursor.fetchall())
    return out


def _columns(model, names: tuple[str, ...]) -> list[str]:
    return [f.column for f in _fields(model, names)]

