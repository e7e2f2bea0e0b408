"""Bulk history import: `manage.py import_events` and the import_history service."""

import csv
import gzip
import io
import json
import tracemalloc
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from personalize.events import history
from personalize.events.history import COLUMNS, event_id_for, import_history
from personalize.events.models import Event, Order, OrderLine, Visitor

HEADER = ",".join(COLUMNS)


def write_csv(path, rows, header=HEADER, compress=False):
    text = header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def run_import(shop, path) -> dict:
    out = io.StringIO()
    call_command("import_events", "--shop", str(shop.id), str(path), "--no-progress", stdout=out)
    return json.loads(out.getvalue())


SAMPLE = [
    # ts, visitor_id, type, product_id, quantity, price, order_id
    ("2024-03-01T10:00:00Z", "v1", "page_view", "", "", "", ""),
    ("2024-03-01T10:01:00Z", "v1", "product_view", "sku-1", "", "", ""),
    ("2024-03-01T10:02:00Z", "v1", "add_to_cart", "sku-1", "2", "3.50", ""),
    ("2024-03-01T10:05:00Z", "v1", "purchase", "sku-1", "2", "3.50", "o-1"),
    ("2024-03-01T10:05:00Z", "v1", "purchase", "sku-2", "1", "10", "o-1"),
    ("2024-03-02T09:00:00+01:00", "v2", "purchase", "sku-2", "", "10.25", "o-2"),
]


def test_it_imports_every_row_and_groups_purchase_lines_into_orders(shop, tmp_path):
    summary = run_import(shop, write_csv(tmp_path / "h.csv", SAMPLE))

    assert summary | {"seconds": 0, "rows_per_second": 0} == {
        "rows_read": 6,
        "stored": 6,
        "duplicates": 0,
        "rejected": 0,
        "orders_created": 2,
        "first_rejected": [],
        "seconds": 0,
        "rows_per_second": 0,
    }
    events = Event.objects.for_shop(shop)
    assert sorted(events.values_list("type", flat=True)) == [
        "add_to_cart",
        "page_view",
        "product_view",
        "purchase",
        "purchase",
        "purchase",
    ]
    line = events.get(type="purchase", product_id="sku-1")
    assert line.order_id == "o-1"
    assert (line.quantity, line.price, line.revenue) == (2, Decimal("3.5"), Decimal("7"))
    assert line.items == [{"product_id": "sku-1", "quantity": 2, "price": 3.5}]
    assert line.ts == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    assert (
        line.event_id
        == event_id_for(5, SAMPLE[3])
        == uuid.uuid5(history._NAMESPACE, "5\x1f" + "\x1f".join(SAMPLE[3]))
    )

    o1 = Order.objects.for_shop(shop).get(order_id="o-1")
    assert (o1.revenue, o1.visitor_id, o1.source) == (Decimal("17"), "v1", "import")
    assert sorted(o1.lines.values_list("product_id", "quantity", "price")) == [
        ("sku-1", 2, Decimal("3.5")),
        ("sku-2", 1, Decimal("10")),
    ]
    o2 = Order.objects.for_shop(shop).get(order_id="o-2")
    assert o2.ts == datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
    # No quantity on a purchase line means one unit.
    assert list(o2.lines.values_list("quantity", "price")) == [(1, Decimal("10.25"))]
    assert o2.revenue == Decimal("10.25")

    v1 = Visitor.objects.for_shop(shop).get(visitor_id="v1")
    assert (v1.first_seen, v1.last_seen) == (
        datetime(2024, 3, 1, 10, 0, tzinfo=UTC),
        datetime(2024, 3, 1, 10, 5, tzinfo=UTC),
    )


def test_importing_the_same_file_twice_adds_nothing(shop, tmp_path):
    path = write_csv(tmp_path / "h.csv", SAMPLE)
    run_import(shop, path)

    again = run_import(shop, path)

    assert (again["stored"], again["duplicates"], again["orders_created"]) == (0, 6, 0)
    assert Event.objects.for_shop(shop).count() == 6
    assert OrderLine.objects.for_shop(shop).count() == 3
    assert Order.objects.for_shop(shop).get(order_id="o-1").revenue == Decimal("17")


def test_a_grown_file_adds_only_its_new_rows_and_their_order_lines(shop, tmp_path):
    run_import(shop, write_csv(tmp_path / "a.csv", SAMPLE[:4]))

    summary = run_import(shop, write_csv(tmp_path / "b.csv", SAMPLE))

    assert (summary["stored"], summary["duplicates"], summary["orders_created"]) == (2, 4, 1)
    o1 = Order.objects.for_shop(shop).get(order_id="o-1")
    assert o1.revenue == Decimal("17")
    assert o1.lines.count() == 2


def test_it_rejects_bad_rows_one_by_one_with_line_numbers_and_reasons(shop, tmp_path):
    rows = [
        ("2024-03-01T10:00:00Z", "v1", "page_view", "", "", "", ""),  # line 2, good
        ("yesterday", "v1", "page_view", "", "", "", ""),  # 3
        ("2024-03-01T10:00:00Z", "v1", "teleport", "", "", "", ""),  # 4
        ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "abc", "1.00", "o-9"),  # 5
        ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "0", "1.00", "o-9"),  # 6
        ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "1", "-2", "o-9"),  # 7
        ("2024-03-01T10:00:00Z", "", "page_view", "", "", "", ""),  # 8
        ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "1", "1.00", ""),  # 9
        ("2024-03-01T10:00:00Z", "v1", "product_view", "", "", "", ""),  # 10
        ("", "v1", "page_view", "", "", "", ""),  # 11
        ("2999-01-01T00:00:00Z", "v1", "page_view", "", "", "", ""),  # 12
        ("2024-03-01T10:00:00Z", "v1", "page_view", "", "", "", "", "extra"),  # 13
        ("1700000000000", "v1", "purchase", "sku-1", "1", "1.00", "o-ok"),  # 14, good
    ]

    summary = run_import(shop, write_csv(tmp_path / "h.csv", rows))

    assert (summary["rows_read"], summary["stored"], summary["rejected"]) == (13, 2, 11)
    reasons = {r["line"]: r["errors"] for r in summary["first_rejected"]}
    assert list(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert reasons[3] == {"ts": ["must be ISO 8601 text or epoch milliseconds"]}
    assert list(reasons[4]) == ["type"] and reasons[4]["type"][0].startswith("must be one of")
    assert reasons[5] == {"quantity": ["must be a number"]}
    assert reasons[6] == {"quantity": ["must be between 1 and 1000000"]}
    assert reasons[7] == {"price": ["must not be negative"]}
    assert reasons[8] == {"visitor_id": ["is required"]}
    assert reasons[9] == {"order_id": ["is required for purchase"]}
    assert reasons[10] == {"product_id": ["is required for product_view"]}
    assert reasons[11] == {"ts": ["is required in a history import"]}
    assert list(reasons[12]) == ["ts"] and "future" in reasons[12]["ts"][0]
    assert reasons[13] == {"row": ["has 8 fields; the header has 7"]}
    assert not Order.objects.for_shop(shop).filter(order_id="o-9").exists()
    assert Order.objects.for_shop(shop).filter(order_id="o-ok").exists()


def test_it_reads_gzip_files(shop, tmp_path):
    summary = run_import(shop, write_csv(tmp_path / "h.csv.gz", SAMPLE, compress=True))

    assert summary["stored"] == 6
    assert Order.objects.for_shop(shop).count() == 2


def test_it_takes_epoch_milliseconds_and_any_column_order(shop, tmp_path):
    header = "type,visitor_id,ts,product_id"
    path = tmp_path / "h.csv"
    path.write_text(f"{header}\nproduct_view,v9,1709287200000,sku-3\n")

    summary = run_import(shop, path)

    assert summary["stored"] == 1
    event = Event.objects.for_shop(shop).get()
    assert (event.ts, event.product_id) == (datetime(2024, 3, 1, 10, 0, tzinfo=UTC), "sku-3")


def test_it_keeps_non_ascii_text_and_rejects_broken_utf8(shop, tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(
        (HEADER + "\n2024-03-01T10:00:00Z,vé,product_view,tasse-café,,,\n").encode()
        + b"2024-03-01T10:00:00Z,v\xff,page_view,,,,\n"
    )

    summary = run_import(shop, path)

    assert summary["stored"] == 1
    assert Event.objects.for_shop(shop).get().product_id == "tasse-café"
    assert summary["first_rejected"] == [{"line": 3, "errors": {"visitor_id": ["is not valid UTF-8 text"]}}]


def test_an_order_split_across_chunks_keeps_all_its_lines(shop):
    rows = [("2024-03-01T10:00:00Z", "v1", "purchase", f"sku-{i}", "1", "2.00", "o-big") for i in range(7)]
    stream = io.BytesIO((HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows)).encode())

    summary = import_history(shop=shop, stream=stream, chunk_rows=3)

    assert (summary.stored, summary.orders_created) == (7, 1)
    order = Order.objects.for_shop(shop).get(order_id="o-big")
    assert (order.revenue, order.lines.count()) == (Decimal("14"), 7)


def test_it_reports_progress_in_bytes(shop):
    data = (HEADER + "\n" + "".join(",".join(r) + "\n" for r in SAMPLE)).encode()
    seen = []

    import_history(shop=shop, stream=io.BytesIO(data), progress=seen.append, chunk_rows=2)

    assert sum(seen) == len(data)


def test_it_refuses_a_file_without_the_needed_columns(shop, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("when,who\n2024-03-01,v1\n")

    with pytest.raises(CommandError, match="missing column"):
        run_import(shop, path)


def test_it_refuses_an_unknown_shop(db, tmp_path):
    with pytest.raises(CommandError, match="no shop"):
        run_import(type("S", (), {"id": 999_999})(), write_csv(tmp_path / "h.csv", SAMPLE))


def test_an_import_stays_inside_its_shop(shop, other_shop, tmp_path):
    path = write_csv(tmp_path / "h.csv", SAMPLE)
    run_import(other_shop, path)

    summary = run_import(shop, path)

    # The same file in another shop is new here: event ids are unique per shop, not globally.
    assert summary["stored"] == 6
    assert Event.objects.for_shop(other_shop).count() == 6
    assert Order.objects.for_shop(other_shop).get(order_id="o-1").revenue == Decimal("17")


# The fast check must accept only what validate_event accepts, and build the same values.
EDGE_ROWS = [
    ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "2", "3.50", "o-1"),
    ("2024-03-01 10:00:00", "v1", "purchase", "sku-1", "", "3", "o-1"),
    ("2024-03-01T10:00:00+02:00", "v1", "purchase", "sku-1", "1", "", "o-1"),
    ("1709287200000", "v1", "add_to_cart", "sku-1", "6", "0.1", ""),
    ("1709287200000", "v1", "custom", "", "", "1e3", "x"),
    (" 2024-03-01T10:00:00Z", "v1", "page_view", "", "", "", ""),
    ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "6.0", "2.5", "o-1"),
    ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "1_000", "2.5", "o-1"),
    ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "1", "nan", "o-1"),
    ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "1", "1_0", "o-1"),
    ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "1", "1e11", "o-1"),
    ("2024-03-01T10:00:00Z", "v1", "purchase", "sku-1", "1000001", "1", "o-1"),
    ("1500000000", "v1", "page_view", "", "", "", ""),
    ("1999-12-31T23:59:59Z", "v1", "page_view", "", "", "", ""),
    ("2024-03-01T10:00:00Z", "v" * 65, "page_view", "", "", "", ""),
    ("2024-03-01T10:00:00Z", "v1", "search", "", "", "", ""),
    ("2024-03-01T10:00:00Z", "v1", "rec_click", "sku-1", "", "", ""),
    ("2024-03-01T10:00:00Z", "v1", "product_view", "p" * 129, "", "", ""),
    ("2024-03-01T10:00:00Z", "ü", "remove_from_cart", "sku-1", "٣", "1", ""),
]


@pytest.mark.parametrize("values", EDGE_ROWS)
def test_the_fast_check_agrees_with_validate_event(values):
    now = datetime(2025, 1, 1, tzinfo=UTC)
    buffer = io.StringIO()
    csv.writer(buffer).writerows([COLUMNS, values])
    summary = history.ImportSummary()

    parsed = list(history._parse(csv.reader(io.StringIO(buffer.getvalue())), now, summary))
    slow, errors = history._slow_row(2, values, now)

    if slow is None:
        assert parsed == [] and summary.first_rejected == [{"line": 2, "errors": errors}]
    else:
        assert parsed == [slow]


def test_memory_stays_bounded_on_a_large_file(shop, tmp_path):
    # 100k rows on PostgreSQL; the portable path under tracemalloc is ~10x slower, so SQLite gets
    # 30k rows, still about twice what the bound could hold at once.
    rows = 100_000 if connection.vendor == "postgresql" else 30_000
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write(HEADER + "\n")
        for i in range(rows):
            f.write(
                f"2024-03-01T10:{i // 6000 % 60:02d}:00Z,visitor-{i % 5000:08d}-padding-padding,"
                f"product_view,product-{i % 3000:06d}-a-fairly-long-sku,,,\n"
            )

    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            summary = import_history(shop=shop, stream=stream, chunk_rows=2_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert summary.stored == rows
    # 100k rows are ~11 MB of text and ~75 MB as Python objects (30k: 3 and 22): reading it whole cannot pass.
    assert peak < 12 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path exists on PostgreSQL only")
def test_copy_and_insert_rows_store_identical_data(shop, other_shop, tmp_path):
    rows = [*SAMPLE, *EDGE_ROWS]
    data = (HEADER + "\n" + "".join(",".join(f'"{v}"' for v in r) + "\n" for r in rows)).encode()

    copy_summary = import_history(shop=shop, stream=io.BytesIO(data), chunk_rows=4, use_copy=True)
    insert_summary = import_history(shop=other_shop, stream=io.BytesIO(data), chunk_rows=4, use_copy=False)

    assert copy_summary.as_json() == insert_summary.as_json()
    assert copy_summary.stored > 10

    assert stored_data(shop) == stored_data(other_shop)


def stored_data(shop):
    """Everything an import stored in `shop`, comparable across shops."""
    # Every column but the row's own id, its shop and when it was received.
    columns = [
        f.attname for f in Event._meta.concrete_fields if f.attname not in ("id", "shop_id", "received_at")
    ]
    events = list(Event.objects.for_shop(shop).order_by("event_id").values(*columns))
    orders = list(
        Order.objects.for_shop(shop)
        .order_by("order_id")
        .values("order_id", "visitor_id", "customer_id", "revenue", "currency", "ts", "source")
    )
    lines = sorted(
        OrderLine.objects.for_shop(shop).values_list("order__order_id", "product_id", "quantity", "price"),
        key=str,
    )
    visitors = list(
        Visitor.objects.for_shop(shop)
        .order_by("visitor_id")
        .values("visitor_id", "customer_id", "first_seen", "last_seen")
    )
    return events, orders, lines, visitors


def straddling_history(visitors: int = 5, orders: int = 12, lines_per_order: int = 5) -> bytes:
    """Visitors who come back in every chunk and orders whose lines cross chunk boundaries."""
    rows = []
    for o in range(orders):
        visitor = f"v{o % visitors}"
        rows.append((f"2024-03-01T10:{o:02d}:00Z", visitor, "product_view", f"sku-{o}", "", "", ""))
        for line in range(lines_per_order):
            rows.append(
                (f"2024-03-01T10:{o:02d}:30Z", visitor, "purchase", f"sku-{line}", "1", f"{o}.50", f"o-{o}")
            )
    return (HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows)).encode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers are a PostgreSQL path")
@pytest.mark.django_db(transaction=True)
def test_parallel_writers_store_exactly_what_one_writer_stores(shop, other_shop):
    data = straddling_history()
    seen = []

    parallel = import_history(
        shop=shop, stream=io.BytesIO(data), chunk_rows=4, writers=3, progress=seen.append
    )
    serial = import_history(shop=other_shop, stream=io.BytesIO(data), chunk_rows=4, writers=1)

    assert parallel.as_json() == serial.as_json()
    assert (parallel.stored, parallel.orders_created) == (72, 12)
    assert stored_data(shop) == stored_data(other_shop)
    assert Order.objects.for_shop(shop).get(order_id="o-3").revenue == Decimal("17.50")
    assert sum(seen) == len(data)

    before = stored_data(shop)
    again = import_history(shop=shop, stream=io.BytesIO(data), chunk_rows=4, writers=3)

    assert (again.stored, again.duplicates, again.orders_created) == (0, 72, 0)
    assert stored_data(shop) == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers are a PostgreSQL path")
@pytest.mark.django_db(transaction=True)
def test_a_writer_that_fails_stops_the_import_with_its_error(shop):
    from django.db import IntegrityError

    gone = type("Gone", (), {"id": shop.id + 10_000})()  # a shop deleted meanwhile: its rows break the FK

    with pytest.raises(IntegrityError):
        import_history(shop=gone, stream=io.BytesIO(straddling_history()), chunk_rows=4, writers=2)
    assert Event.objects.count() == 0

    # The parser's error reaches the caller through the writers too.
    broken = gzip.compress(straddling_history())[:200]
    with pytest.raises(history.HistoryImportError, match="cannot read the file"):
        import_history(shop=shop, stream=io.BytesIO(broken), chunk_rows=4, writers=2)
