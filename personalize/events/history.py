"""Bulk history import: a merchant's past events from a CSV file, streamed chunk by chunk.

Columns `ts,visitor_id,type,product_id,quantity,price,order_id` (API.md, "Bulk history"). Each row
gets a deterministic event_id (uuid5 of its line number and content), so importing the same file
again stores nothing new. Purchase rows that share an order_id are the lines of one order; an order
line is stored only with its newly stored purchase event, so re-imports never double revenue.

Two write paths that store identical rows: PostgreSQL streams each chunk with binary COPY into a
temp table and moves it with one INSERT … SELECT … ON CONFLICT statement (events, orders, lines,
visitors); other databases go through insert_rows and record_orders.
"""

import csv
import gzip
import hashlib
import io
import itertools
import math
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import IO

from django.conf import settings
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from personalize.events.bulk import insert_rows
from personalize.events.models import Event, Order, Visitor
from personalize.events.services import OrderIn, record_orders
from personalize.events.validation import (
    MAX_AMOUNT,
    MAX_QUANTITY,
    MIN_EPOCH_MS,
    NEEDS_PRODUCT,
    OLDEST_TS,
    validate_event,
)
from personalize.shops.models import Shop

COLUMNS = ("ts", "visitor_id", "type", "product_id", "quantity", "price", "order_id")
REQUIRED_COLUMNS = ("ts", "visitor_id", "type")
CHUNK_ROWS = 50_000
# Chunks stored at once on PostgreSQL at most; more than the cores only adds lock waits.
MAX_WRITERS = 4
DEADLOCK_ATTEMPTS = 3
MAX_REPORTED_REJECTIONS = 100
# Never change: event ids of re-imported files must stay the same across releases.
_NAMESPACE = uuid.UUID("8f0a3a52-3c39-5d3c-9a4e-2f5c1a1d6b70")
# Types whose required fields all have a CSV column; the others need rec_id, query, … and so are
# always rejected by validate_event, with its reason.
_FAST_TYPES = frozenset(
    ("page_view", "product_view", "add_to_cart", "remove_from_cart", "purchase", "custom")
)
_TEMP_TABLE = "pz_history_rows"

# One stored row, in the temp table's column order:
# (event_id as 16 bytes, type, visitor_id, ts, product_id, quantity, price, order_id, revenue)
Row = tuple


class HistoryImportError(ValueError):
    """The file as a whole cannot be imported (not CSV, missing columns, broken gzip)."""


@dataclass
class ImportSummary:
    rows_read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    orders_created: int = 0
    first_rejected: list[dict] = field(default_factory=list)  # [{"line": N, "errors": {field: [reason]}}]

    def reject(self, line: int, errors: dict[str, list[str]]) -> None:
        self.rejected += 1
        if len(self.first_rejected) < MAX_REPORTED_REJECTIONS:
            self.first_rejected.append({"line": line, "errors": errors})

    def add(self, stored: int, duplicates: int, orders_created: int) -> None:
        self.stored += stored
        self.duplicates += duplicates
        self.orders_created += orders_created

    def as_json(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "orders_created": self.orders_created,
            "first_rejected": self.first_rejected,
        }


def import_history(
    *,
    shop: Shop,
    stream: IO[bytes],
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    use_copy: bool | None = None,
    writers: int | None = None,
) -> ImportSummary:
    """Import a history CSV (plain or gzip, detected from its first bytes) read from a binary stream.

    Memory stays bounded by a few chunks whatever the file's size. Each chunk is its own
    transaction, so an interrupted import keeps what it stored and a rerun completes it. `progress`
    is called with the number of bytes of `stream` stored since its last call. `use_copy` picks the
    write path (default: COPY on PostgreSQL); both store the same rows. `writers`: chunks stored at
    once, each on its own database connection (default: one per core on PostgreSQL, up to
    MAX_WRITERS; always one inside the caller's transaction, whose rows other connections cannot see).
    """
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    elif use_copy and connection.vendor != "postgresql":
        raise ValueError("the COPY path needs PostgreSQL")
    if connection.in_atomic_block or connection.vendor != "postgresql":
        writers = 1
    elif writers is None:
        writers = min(os.cpu_count() or 1, MAX_WRITERS)
    counter = _CountingReader(stream)
    summary = ImportSummary()
    now = timezone.now()
    write = _copy_chunk if use_copy else _insert_chunk
    # A second thread parses the next chunks while the database stores earlier ones: on two cores the
    # import then takes about as long as the slower of the two, not their sum. PostgreSQL spends
    # three quarters of the time, so with several writers its backends share the cores too.
    chunks: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    parser = threading.Thread(
        target=_produce,
        args=(counter, now, summary, chunk_rows, chunks, stop),
        name="history-parser",
        daemon=True,
    )
    parser.start()
    try:
        if writers == 1:
            _write_here(write, shop, now, summary, chunks, progress)
        else:
            _write_in_threads(write, shop, now, summary, chunks, progress, writers, stop)
    except (OSError, EOFError) as exc:
        raise HistoryImportError(f"cannot read the file: {exc}") from exc
    except csv.Error as exc:
        raise HistoryImportError(f"not a CSV file: {exc}") from exc
    finally:
        stop.set()
        parser.join()
    return summary


def _write_here(
    write, shop: Shop, now: datetime, summary: ImportSummary, chunks: queue.Queue, progress
) -> None:
    """Store the chunks one after the other on this thread's connection."""
    reported = 0
    while (item := chunks.get()) is not _DONE:
        if isinstance(item, BaseException):
            raise item
        chunk, consumed = item
        if chunk:
            summary.add(*_store(write, shop, chunk, now))
            if settings.DEBUG:
                connection.queries_log.clear()  # DEBUG keeps every statement: memory would grow with the file
        if progress is not None and consumed > reported:
            progress(consumed - reported)
            reported = consumed


def _write_in_threads(
    write,
    shop: Shop,
    now: datetime,
    summary: ImportSummary,
    chunks: queue.Queue,
    progress,
    writers: int,
    stop,
) -> None:
    """Store chunks on `writers` threads, each with its own connection; progress and the summary are
    kept here, progress only up to the last chunk all of whose predecessors are stored."""
    done: queue.Queue = queue.Queue()
    order = itertools.count()
    order_lock = threading.Lock()

    def take():
        with order_lock:  # chunks are numbered in file order, as they are taken
            while not stop.is_set():
                try:
                    return chunks.get(timeout=0.1), next(order)
                except queue.Empty:
                    continue
        return _DONE, None

    def work() -> None:
        try:
            while not stop.is_set():
                item, number = take()
                if item is _DONE or isinstance(item, BaseException):
                    chunks.put(item)  # for the other writers
                    if item is not _DONE:
                        done.put(item)
                    return
                chunk, consumed = item
                done.put((number, consumed, _store(write, shop, chunk, now) if chunk else (0, 0, 0)))
        except BaseException as exc:  # handed to the caller's thread, which raises it
            stop.set()
            done.put(exc)
        finally:
            connections.close_all()  # this thread's connections only
            done.put(_DONE)

    threads = [threading.Thread(target=work, name=f"history-writer-{i}", daemon=True) for i in range(writers)]
    for thread in threads:
        thread.start()
    stored_up_to: dict[int, int] = {}
    next_number, reported, running, failure = 0, 0, writers, None
    try:
        while running:
            item = done.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                failure = failure or item
            else:
                number, consumed, counts = item
                summary.add(*counts)
                stored_up_to[number] = consumed
                while next_number in stored_up_to:
                    consumed = stored_up_to.pop(next_number)
                    next_number += 1
                    if progress is not None and consumed > reported:
                        progress(consumed - reported)
                        reported = consumed
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if failure is not None:
        raise failure


_DONE = object()


def _produce(
    counter: "_CountingReader",
    now: datetime,
    summary: ImportSummary,
    chunk_rows: int,
    chunks: queue.Queue,
    stop: threading.Event,
) -> None:
    """The parser thread: read and check rows, hand over chunks of clean rows (or the error)."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        buffered = io.BufferedReader(counter, buffer_size=1 << 16)
        raw = gzip.GzipFile(fileobj=buffered, mode="rb") if buffered.peek(2)[:2] == b"\x1f\x8b" else buffered
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        chunk: list[Row] = []
        for row in _parse(csv.reader(text), now, summary):
            chunk.append(row)
            if len(chunk) >= chunk_rows:
                if not put((chunk, counter.count)):
                    return
                chunk = []
        if put((chunk, counter.count)):
            put(_DONE)
    except BaseException as exc:  # handed to the caller's thread, which raises it
        put(exc)


def event_id_for(line: int, values: tuple[str, ...]) -> uuid.UUID:
    """The event id of the row at `line` with `values` in COLUMNS order (what the import computes)."""
    return uuid.UUID(bytes=_event_id_bytes(line, values))


def _event_id_bytes(line: int, values) -> bytes:
    # uuid5 by hand: the same bytes as uuid.uuid5(_NAMESPACE, name), at a third of its cost.
    digest = bytearray(_SHA1_NS.copy_update(f"{line}\x1f" + "\x1f".join(values)))
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return bytes(digest)


class _Sha1Prefix:
    def __init__(self, prefix: bytes):
        self._base = hashlib.sha1(prefix)

    def copy_update(self, name: str) -> bytes:
        h = self._base.copy()
        h.update(name.encode("utf-8", "surrogateescape"))
        return h.digest()[:16]


_SHA1_NS = _Sha1Prefix(_NAMESPACE.bytes)


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the underlying stream, for the progress bar."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


def _store(write, shop: Shop, chunk: list[Row], now: datetime) -> tuple[int, int, int]:
    """Store one chunk in its own transaction: (stored, duplicates, orders created).

    Chunks stored at once can wait on each other's visitor and order rows; should PostgreSQL still
    find them deadlocked, the chunk it cancelled runs again (the transaction left nothing behind)."""
    attempt = 1
    while True:
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        # History is replayable from its file: not waiting for the disk at commit is safe here.
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                stored, orders_created = write(shop, chunk, now)
            return stored, len(chunk) - stored, orders_created
        except OperationalError as exc:
            if attempt == DEADLOCK_ATTEMPTS or not _is_deadlock(exc):
                raise
            attempt += 1


def _is_deadlock(exc: OperationalError) -> bool:
    import psycopg

    return isinstance(exc.__cause__, psycopg.errors.DeadlockDetected)


# --- parsing ------------------------------------------------------------------------------


def _parse(reader, now: datetime, summary: ImportSummary) -> Iterator[Row]:
    """Yield a clean Row per good CSV row and record the bad ones in `summary`.

    The common row goes through a fast check written for this loop; any row it is unsure of goes
    through validate_event, whose verdict and reasons are the ones that count. The fast check
    accepts a subset of what validate_event accepts and builds the same values (a test compares).
    """
    try:
        header = next(reader)
    except StopIteration:
        raise HistoryImportError("the file is empty; expected a header row: " + ",".join(COLUMNS)) from None
    names = [name.strip().lower() for name in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise HistoryImportError(
            f"missing column(s) {', '.join(missing)}; expected a header row: {','.join(COLUMNS)}"
        )
    width = len(names)
    # Absent optional columns read as "" (index `width` of the padded row).
    index = [names.index(c) if c in names else width for c in COLUMNS]
    i_ts, i_vis, i_type, i_pid, i_qty, i_price, i_oid = index
    max_ts = now + timedelta(seconds=settings.PZ_MAX_CLOCK_SKEW_SECONDS)
    event_id_bytes = _event_id_bytes
    fast_types = _FAST_TYPES
    needs_product = NEEDS_PRODUCT
    dec = Decimal
    isfinite = math.isfinite
    max_amount = float(MAX_AMOUNT)
    last_ts_text, last_ts = None, None

    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(); the reader goes on after it
            summary.rows_read += 1
            summary.reject(reader.line_num, {"row": [f"is not valid CSV: {exc}"]})
            continue
        if not fields:
            continue  # a blank line
        line = reader.line_num
        summary.rows_read += 1
        if len(fields) != width:
            summary.reject(line, {"row": [f"has {len(fields)} fields; the header has {width}"]})
            continue
        fields.append("")
        ts_text, vis, typ, pid, qty_text, price_text, oid = (
            fields[i_ts],
            fields[i_vis],
            fields[i_type],
            fields[i_pid],
            fields[i_qty],
            fields[i_price],
            fields[i_oid],
        )
        values = (ts_text, vis, typ, pid, qty_text, price_text, oid)

        # Fast path: plain ASCII, the usual types, numbers that parse; anything else falls through.
        if typ in fast_types and vis and len(vis) <= 64 and len(pid) <= 128 and len(oid) <= 128:
            ok = True
            if ts_text == last_ts_text:
                ts = last_ts
            else:
                ts = _fast_ts(ts_text, max_ts)
                if ts is None:
                    ok = False
                else:
                    last_ts_text, last_ts = ts_text, ts
            purchase = typ == "purchase"
            if not qty_text:
                quantity = 1 if purchase else None
            elif qty_text.isdecimal() and 0 < (quantity := int(qty_text)) <= MAX_QUANTITY:
                pass
            else:
                ok = False
            if not price_text:
                price = None
            elif "_" in price_text:
                ok = False  # float() takes "1_0"; validate_event's reading of the cell does not
            else:
                try:
                    price_float = float(price_text)
                except ValueError:
                    ok = False
                else:
                    if isfinite(price_float) and 0 <= price_float < max_amount:
                        price = dec(repr(price_float))
                    else:
                        ok = False
            if purchase:
                ok = ok and pid and oid
            elif typ in needs_product:
                ok = ok and pid
            ids = vis + pid + oid
            if ok and ids.isascii() and "\x00" not in ids:
                if purchase:
                    revenue = price * quantity if price is not None else dec(0)
                else:
                    revenue = None
                yield (event_id_bytes(line, values), typ, vis, ts, pid, quantity, price, oid, revenue)
                continue

        row, errors = _slow_row(line, values, now)
        if errors:
            summary.reject(line, errors)
        else:
            yield row


def _fast_ts(text: str, max_ts: datetime) -> datetime | None:
    try:
        if text.isdecimal():
            ms = int(text)
            if ms < MIN_EPOCH_MS:
                return None
            ts = datetime.fromtimestamp(ms / 1000, tz=UTC)
        else:
            ts = datetime.fromisoformat(text)
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return ts if OLDEST_TS <= ts <= max_ts else None


def _number(text: str):
    """A CSV cell as JSON would carry it: int, float, or the text itself when it is no number."""
    if "_" in text:
        return text  # int() and float() take "1_000"; a CSV number does not
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _slow_row(line: int, values: tuple[str, ...], now: datetime) -> tuple[Row | None, dict]:
    """Validate one row with validate_event; (row, {}) or (None, {field: [reasons]})."""
    ts_text, vis, typ, pid, qty_text, price_text, oid = values
    errors: dict[str, list[str]] = {}
    raw: dict = {
        "event_id": str(uuid.UUID(bytes=_event_id_bytes(line, values))),
        "type": typ or None,
        "visitor_id": vis or None,
        "product_id": pid or None,
        "order_id": oid or None,
    }
    if not ts_text.strip():
        errors["ts"] = ["is required in a history import"]
    else:
        ts = _number(ts_text.strip())
        raw["ts"] = ts_text if isinstance(ts, str) else ts
    for name, text in (("quantity", qty_text), ("price", price_text)):
        if text.strip():
            number = _number(text.strip())
            if isinstance(number, str):
                errors[name] = ["must be a number"]
            else:
                raw[name] = number
    if typ == "purchase":
        raw.setdefault("quantity", None if "quantity" in errors else 1)
        if not pid:
            errors["product_id"] = ["is required for purchase"]
        else:
            raw["items"] = [{"product_id": pid, "quantity": raw["quantity"], "price": raw.get("price")}]
    clean, event_errors = validate_event(
        raw,
        now=now,
        max_skew=timedelta(seconds=settings.PZ_MAX_CLOCK_SKEW_SECONDS),
        properties_max_bytes=settings.PZ_PROPERTIES_MAX_BYTES,
    )
    for name, reasons in event_errors.items():
        errors.setdefault(name, reasons)
    if typ == "purchase" and len(errors) > 1:
        # items is built from this row's own columns; their errors already say what is wrong
        errors.pop("items", None)
    if errors or clean is None:
        return None, errors
    return (
        clean["event_id"].bytes,
        clean["type"],
        clean["visitor_id"],
        clean["ts"],
        clean["product_id"],
        clean["quantity"],
        clean["price"],
        clean["order_id"],
        clean["revenue"],
    ), {}


# --- writing: PostgreSQL ------------------------------------------------------------------

_COPY_TYPES = ["bytea", "text", "text", "timestamptz", "text", "int4", "numeric", "text", "numeric"]
_CREATE_TEMP = f"""
CREATE TEMP TABLE IF NOT EXISTS {_TEMP_TABLE} (
    event_id bytea, type text, visitor_id text, ts timestamptz, product_id text,
    quantity integer, price numeric, order_id text, revenue numeric
)"""
# One statement per chunk: store the new events, then the orders, lines and visitors of exactly
# those (RETURNING only yields rows really inserted, so a re-import adds no lines and no revenue).
_MOVE_SQL = f"""
WITH new AS (
    INSERT INTO events_event AS e (
        shop_id, event_id, type, visitor_id, session_id, customer_id, ts, received_at, url, referrer,
        product_id, quantity, price, currency, order_id, revenue, items, query, rec_id, campaign_id,
        properties)
    SELECT %(shop)s, encode(r.event_id, 'hex')::uuid, r.type, r.visitor_id, '', '', r.ts, %(now)s, '', '',
        r.product_id, r.quantity, r.price, '', r.order_id, r.revenue,
        CASE WHEN r.type = 'purchase' THEN jsonb_build_array(jsonb_build_object(
            'product_id', r.product_id, 'quantity', r.quantity, 'price', r.price)) END,
        '', '', '', NULL
    FROM {_TEMP_TABLE} r
    ON CONFLICT (shop_id, event_id) DO NOTHING
    RETURNING e.type, e.visitor_id, e.ts, e.product_id, e.quantity, e.price, e.order_id, e.revenue
), purchases AS (
    SELECT * FROM new WHERE type = 'purchase'
), orders AS (
    INSERT INTO events_order AS t (
        shop_id, order_id, visitor_id, customer_id, revenue, currency, ts, source, created_at)
    SELECT %(shop)s, order_id, min(visitor_id), '', sum(revenue), '', min(ts), 'import', %(now)s
    FROM purchases GROUP BY order_id ORDER BY order_id
    ON CONFLICT (shop_id, order_id) DO UPDATE SET revenue = t.revenue + excluded.revenue
    RETURNING t.id, t.order_id, (t.xmax = 0) AS created
), lines AS (
    INSERT INTO events_orderline (shop_id, order_id, product_id, quantity, price)
    SELECT %(shop)s, o.id, p.product_id, p.quantity, p.price
    FROM purchases p JOIN orders o ON o.order_id = p.order_id
    ORDER BY o.id
), visitors AS (
    INSERT INTO events_visitor AS v (shop_id, visitor_id, customer_id, first_seen, last_seen)
    SELECT %(shop)s, visitor_id, '', min(ts), max(ts) FROM new GROUP BY visitor_id ORDER BY visitor_id
    ON CONFLICT (shop_id, visitor_id) DO UPDATE SET
        first_seen = LEAST(v.first_seen, excluded.first_seen),
        last_seen = GREATEST(v.last_seen, excluded.last_seen)
)
SELECT (SELECT count(*) FROM new), (SELECT count(*) FROM orders WHERE created)
"""


def _copy_chunk(shop: Shop, chunk: list[Row], now: datetime) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_TEMP)
        cursor.execute(f"TRUNCATE {_TEMP_TABLE}")
        raw_cursor = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        with raw_cursor.copy(f"COPY {_TEMP_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_COPY_TYPES)
            write_row = copy.write_row
            for row in chunk:
                write_row(row)
        cursor.execute(_MOVE_SQL, {"shop": shop.id, "now": now})
        stored, orders_created = cursor.fetchone()
    return stored, orders_created


# --- writing: other databases -------------------------------------------------------------


def _insert_chunk(shop: Shop, chunk: list[Row], now: datetime) -> tuple[int, int]:
    rows = []
    for event_id, typ, vis, ts, pid, quantity, price, oid, revenue in chunk:
        rows.append(
            {
                "shop_id": shop.id,
                "event_id": uuid.UUID(bytes=event_id),
                "type": typ,
                "visitor_id": vis,
                "session_id": "",
                "customer_id": "",
                "ts": ts,
                "received_at": now,
                "url": "",
                "referrer": "",
                "product_id": pid,
                "quantity": quantity,
                "price": price,
                "currency": "",
                "order_id": oid,
                "revenue": revenue,
                "items": [
                    {
                        "product_id": pid,
                        "quantity": quantity,
                        "price": float(price) if price is not None else None,
                    }
                ]
                if typ == "purchase"
                else None,
                "query": "",
                "rec_id": "",
                "campaign_id": "",
                "properties": None,
            }
        )
    stored = {
        event_id
        for (event_id,) in insert_rows(Event, rows, conflict=("shop_id", "event_id"), returning=("event_id",))
    }
    new = [row for row in rows if row["event_id"] in stored]

    orders: dict[str, OrderIn] = {}
    for row in new:
        if row["type"] != "purchase":
            continue
        order = orders.get(row["order_id"])
        if order is None:
            orders[row["order_id"]] = order = OrderIn(
                order_id=row["order_id"],
                revenue=Decimal(0),
                ts=row["ts"],
                lines=[],
                visitor_id=row["visitor_id"],
            )
        # The same aggregates as the PostgreSQL statement: min visitor and time, summed revenue.
        order.ts = min(order.ts, row["ts"])
        order.visitor_id = min(order.visitor_id, row["visitor_id"])
        order.revenue += row["revenue"]
        order.lines.append(
            {"product_id": row["product_id"], "quantity": row["quantity"], "price": row["price"]}
        )
    orders_created = 0
    if orders:
        known = set(
            Order.objects.for_shop(shop).filter(order_id__in=list(orders)).values_list("order_id", flat=True)
        )
        orders_created = len(orders.keys() - known)
        record_orders(shop=shop, orders=list(orders.values()), source="import", merge_lines=True)

    seen: dict[str, list[datetime]] = {}
    for row in new:
        span = seen.setdefault(row["visitor_id"], [row["ts"], row["ts"]])
        span[0] = min(span[0], row["ts"])
        span[1] = max(span[1], row["ts"])
    if seen:
        insert_rows(
            Visitor,
            [
                {
                    "shop_id": shop.id,
                    "visitor_id": v,
                    "customer_id": "",
                    "first_seen": first,
                    "last_seen": last,
                }
                for v, (first, last) in sorted(seen.items())
            ],
            conflict=("shop_id", "visitor_id"),
            returning=("id",),
            on_conflict_set=(
                "first_seen = CASE WHEN excluded.first_seen < t.first_seen THEN excluded.first_seen ELSE t.first_seen END, "
                "last_seen = CASE WHEN excluded.last_seen > t.last_seen THEN excluded.last_seen ELSE t.last_seen END"
            ),
        )
    return len(stored), orders_created
