"""Feed imports: CSV and Google Shopping XML, gzip, URLs, the Celery path, errors and big feeds."""

import gzip
import io
import tracemalloc
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from personalize.catalog import feeds
from personalize.catalog.models import FeedImport, Product
from personalize.catalog.services import FeedSourceError, import_feed, start_feed_import
from personalize.catalog.tasks import import_feed_task
from tests.catalog.conftest import FEEDS
from tests.factories import make_product

CSV_ERRORS = [
    {"line": 4, "product_id": "sku-3", "errors": {"title": ["is required"]}},
    {
        "line": 5,
        "product_id": "sku-4",
        "errors": {
            "price": ["must not be negative"],
            "in_stock": ["must be true or false (or 1/0, yes/no, 'in stock'/'out of stock')"],
        },
    },
    {"line": 9, "product_id": "sku-6", "errors": {"url": ["must be an absolute http(s) URL"]}},
]
XML_ERRORS = [
    {"item": 3, "product_id": None, "errors": {"product_id": ["is required"]}},
    {"item": 4, "product_id": "card-4", "errors": {"price": ["must be a number"]}},
]


def run_import(shop, data: bytes, name: str = "feed") -> FeedImport:
    feed_import = FeedImport.objects.create(shop=shop, source=name)
    return import_feed(shop=shop, feed_import=feed_import, fileobj=io.BytesIO(data))


def ids(shop) -> list[str]:
    return sorted(Product.objects.filter(shop=shop).values_list("product_id", flat=True))


# --- CSV ----------------------------------------------------------------------------------------


def test_it_imports_a_csv_feed_and_reports_bad_rows_by_line(shop):
    data = (FEEDS / "products.csv").read_bytes()

    result = run_import(shop, data, "products.csv")

    assert result.status == FeedImport.DONE
    assert (result.format, result.rows_read, result.created, result.updated, result.rejected) == (
        "csv",
        7,
        4,
        0,
        3,
    )
    assert result.errors == CSV_ERRORS
    assert (result.total_bytes, result.bytes_read, result.progress) == (len(data), len(data), 1.0)
    assert result.failure == "" and result.started_at <= result.finished_at
    assert ids(shop) == ["sku-1", "sku-2", "sku-7", "sku/5 x.y"]

    dress = Product.objects.get(shop=shop, product_id="sku-1")
    assert (dress.title, dress.price, dress.currency, dress.category_path) == (
        "Linen Dress",
        Decimal("49.90"),
        "GBP",
        "Women > Dresses",
    )
    assert (dress.brand, dress.tags, dress.in_stock) == ("Acme", ["summer", "linen"], True)
    assert dress.attributes == {"color": "blue"}
    assert dress.image_url == "https://cdn.alice-shop.example/sku-1.jpg"
    coat = Product.objects.get(shop=shop, product_id="sku-2")
    assert (coat.price, coat.currency, coat.tags, coat.in_stock) == (
        Decimal("120"),
        "EUR",
        ["winter", "wool"],
        False,
    )
    scarf = Product.objects.get(shop=shop, product_id="sku/5 x.y")
    assert (scarf.title, scarf.url, scarf.in_stock) == (
        "Scarf\nwith fringe",
        "https://alice-shop.example/p/sku-5",
        True,
    )
    train = Product.objects.get(shop=shop, product_id="sku-7")
    assert (train.categories, train.in_stock) == (["Kids", "Toys"], False)


def test_importing_the_same_feed_again_updates_instead_of_adding(shop):
    data = (FEEDS / "products.csv").read_bytes()
    run_import(shop, data)

    again = run_import(shop, data)

    assert (again.created, again.updated, again.rejected) == (0, 4, 3)
    assert Product.objects.filter(shop=shop).count() == 4


def test_it_reads_other_column_names_delimiters_and_a_bom(shop):
    data = (
        "\ufeffID;Name;Link;Price;Product Type;Availability;Tags;Attributes;Material\n"
        'a-1;Mug;https://x.example/a;3.50 USD;Home > Mugs;out_of_stock;x|y;{"size": "L"};clay\n'
        "a-2;Cup;https://x.example/b;2;Home;in stock;;[1];\n"
        "a-3;Bowl;https://x.example/c;2;Home;in stock;;;;extra\n"
    ).encode()

    result = run_import(shop, data, "feed.txt")

    assert (result.created, result.rejected) == (1, 2)
    assert result.errors == [
        {"line": 3, "product_id": "a-2", "errors": {"attributes": ["must be a JSON object"]}},
        {
            "line": 4,
            "product_id": "a-3",
            "errors": {"non_field_errors": ["has 10 cells but the header has 9 columns"]},
        },
    ]
    mug = Product.objects.get(shop=shop, product_id="a-1")
    assert (mug.title, mug.price, mug.currency, mug.categories, mug.in_stock, mug.tags) == (
        "Mug",
        Decimal("3.5"),
        "USD",
        ["Home", "Mugs"],
        False,
        ["x", "y"],
    )
    assert mug.attributes == {"size": "L", "material": "clay"}


def test_a_csv_without_the_required_columns_fails_with_a_reason(shop):
    result = run_import(shop, b"sku,price\n1,2\n")

    assert result.status == FeedImport.FAILED
    assert result.failure == "The CSV header has no title column (it has: product_id, price)"
    assert not Product.objects.exists()


def test_an_unclosed_quote_fails_naming_its_line(shop):
    # The open quote swallows the rest of the file into one cell, until the csv module's cap.
    data = b'product_id,title\na,A\nb,"B\n' + b"c,C\n" * 40_000

    result = run_import(shop, data)

    assert result.status == FeedImport.FAILED
    assert result.failure == "CSV error on line 3: field larger than field limit (131072)"
    assert result.rows_read == 0


def test_an_empty_file_imports_nothing(shop):
    result = run_import(shop, b"")

    assert (result.status, result.rows_read) == (FeedImport.DONE, 0)


# --- Google Shopping XML ------------------------------------------------------------------------


def test_it_imports_google_shopping_xml_and_reports_bad_items_by_number(shop):
    result = run_import(shop, (FEEDS / "google_shopping.xml").read_bytes(), "google_shopping.xml")

    assert result.status == FeedImport.DONE
    assert (result.format, result.rows_read, result.created, result.rejected) == ("xml", 5, 3, 2)
    assert result.errors == XML_ERRORS
    assert ids(shop) == ["lamp/5.v2", "mug-1", "tee-2"]

    mug = Product.objects.get(shop=shop, product_id="mug-1")
    assert (mug.title, mug.url, mug.image_url) == (
        "Stoneware Mug",
        "https://alice-shop.example/p/mug-1",
        "https://cdn.alice-shop.example/mug-1.jpg",
    )
    # The sale price is what shoppers pay; product_type wins over google_product_category.
    assert (mug.price, mug.currency, mug.in_stock, mug.brand) == (Decimal("10"), "GBP", True, "Potter & Co")
    assert mug.categories == ["Home", "Kitchen", "Mugs"]
    assert mug.attributes == {"list_price": "12.50", "custom_label_0": "bestseller", "color": "blue"}
    tee = Product.objects.get(shop=shop, product_id="tee-2")
    assert (tee.title, tee.url, tee.price, tee.currency, tee.in_stock) == (
        "Cotton T-shirt",
        "https://alice-shop.example/p/tee-2",
        Decimal("25"),
        "USD",
        False,
    )
    assert tee.category_path == "Apparel & Accessories > Clothing"
    lamp = Product.objects.get(shop=shop, product_id="lamp/5.v2")
    assert (lamp.title, lamp.in_stock, lamp.attributes) == (
        "Desk Lamp <LED>",
        True,
        {"availability": "preorder"},
    )


def test_it_reads_an_atom_feed(shop):
    data = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">
  <title>Shop</title>
  <entry><g:id>a</g:id><title>Atom Item</title><link href="https://x.example/a"/><g:price>1.00 GBP</g:price></entry>
</feed>"""

    result = run_import(shop, data)

    assert (result.status, result.created) == (FeedImport.DONE, 1)
    item = Product.objects.get(shop=shop, product_id="a")
    assert (item.title, item.url) == ("Atom Item", "https://x.example/a")


@pytest.mark.parametrize(
    "data",
    [
        # Billion laughs.
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<rss><channel><item><g:id xmlns:g='http://base.google.com/ns/1.0'>&b;</g:id><title>x</title></item>"
        b"</channel></rss>",
        # External entity (XXE).
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<rss><channel><item><title>&e;</title></item></channel></rss>",
    ],
)
def test_it_refuses_xml_entities(shop, data):
    result = run_import(shop, data)

    assert result.status == FeedImport.FAILED
    assert result.failure == "The XML declares entities or a DTD, which feeds may not use"
    assert not Product.objects.exists()


def test_malformed_xml_fails_but_keeps_the_chunks_already_imported(shop):
    items = "".join(f"<item><g:id>p{i}</g:id><title>Item {i}</title></item>" for i in range(600))
    data = f'<rss xmlns:g="http://base.google.com/ns/1.0"><channel>{items}<item><oops></item>'.encode()

    result = run_import(shop, data)

    assert result.status == FeedImport.FAILED
    assert result.failure.startswith("The XML is malformed after item 600: mismatched tag")
    assert result.finished_at is not None
    # The first full chunk of 500 was committed before the error was met.
    assert (result.rows_read, result.created) == (500, 500)
    assert Product.objects.filter(shop=shop).count() == 500


def test_an_html_page_is_not_taken_for_a_feed(shop):
    result = run_import(shop, b"\n<!DOCTYPE html><html><body>Log in</body></html>")

    assert result.status == FeedImport.FAILED
    assert result.failure == "This is an HTML page, not a feed"


def test_xml_that_is_not_a_feed_fails_with_a_reason(shop):
    result = run_import(shop, b"<?xml version='1.0'?><products><product>1</product></products>")

    assert result.status == FeedImport.FAILED
    assert result.failure == "This XML is not an RSS or Atom feed (it starts with <products>)"


# --- gzip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "created", "errors"),
    [
        ("products.csv", 4, CSV_ERRORS),
        ("google_shopping.xml", 3, XML_ERRORS),
    ],
)
def test_it_reads_gzipped_feeds(shop, name, created, errors):
    raw = (FEEDS / name).read_bytes()
    data = gzip.compress(raw)

    result = run_import(shop, data, name + ".gz")

    assert (result.status, result.created, result.errors) == (FeedImport.DONE, created, errors)
    assert result.bytes_read == result.total_bytes == len(data)


def test_a_truncated_gzip_fails_with_a_reason(shop):
    data = gzip.compress((FEEDS / "products.csv").read_bytes() * 50)[:-200]

    result = run_import(shop, data)

    assert result.status == FeedImport.FAILED
    assert result.failure.startswith("The gzip data is corrupt or cut short")


# --- big feeds ----------------------------------------------------------------------------------


def big_csv(rows: int) -> bytes:
    lines = ["product_id,title,price,categories,in_stock,color"]
    lines += [
        f"p{i:06d},Item {i},{i % 100}.99,Cat {i % 7} > Sub {i % 3},{'yes' if i % 5 else 'no'},c{i % 9}"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_large_feed_imports_in_chunks_with_progress(shop, tmp_path):
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(big_csv(20_000)))
    feed_import = FeedImport.objects.create(shop=shop, source=path.name)
    seen = []

    with path.open("rb") as fileobj:
        result = import_feed(
            shop=shop,
            feed_import=feed_import,
            fileobj=fileobj,
            on_progress=lambda progress: seen.append((progress.rows_read, progress.bytes_read)),
        )

    assert (result.status, result.rows_read, result.created, result.rejected) == (
        FeedImport.DONE,
        20_000,
        20_000,
        0,
    )
    assert result.total_bytes == path.stat().st_size
    # One progress report per chunk of 500 rows, then the final one.
    assert [rows for rows, _ in seen] == [*range(500, 20_001, 500), 20_000]
    assert [b for _, b in seen] == sorted(b for _, b in seen)
    assert Product.objects.filter(shop=shop).count() == 20_000
    sample = Product.objects.get(shop=shop, product_id="p012345")
    assert (sample.title, sample.price, sample.category_path, sample.in_stock, sample.attributes) == (
        "Item 12345",
        Decimal("45.99"),
        "Cat 4 > Sub 0",
        False,
        {"color": "c6"},
    )
    feed_import.refresh_from_db()
    assert (feed_import.status, feed_import.rows_read, feed_import.progress) == (FeedImport.DONE, 20_000, 1.0)


def test_reading_a_large_xml_feed_keeps_memory_flat():
    item = (
        "<item><g:id>p{i}</g:id><g:title>Item number {i} with a longer title</g:title>"
        "<g:link>https://x.example/p/{i}</g:link><g:price>{i}.00 GBP</g:price>"
        "<g:description>" + "Lorem ipsum dolor sit amet. " * 10 + "</g:description></item>"
    )
    body = "".join(item.format(i=i) for i in range(20_000))
    data = f'<rss xmlns:g="http://base.google.com/ns/1.0"><channel>{body}</channel></rss>'.encode()
    assert len(data) > 9_000_000

    tracemalloc.start()
    try:
        reader = feeds.FeedReader(io.BytesIO(data))
        last = None
        for count, last in enumerate(reader.rows(), 1):  # noqa: B007
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 20_000 and last.number == 20_000 and last.data["product_id"] == "p19999"
    # Keeping the parsed items would take tens of MB; streaming needs a few buffers.
    assert peak < 3_000_000


def test_it_keeps_only_the_first_200_row_errors(shop):
    data = ("product_id,title\n" + "".join(f"p{i},\n" for i in range(300)) + "ok,Fine\n").encode()

    result = run_import(shop, data)

    assert (result.rows_read, result.created, result.rejected) == (301, 1, 300)
    assert len(result.errors) == 200
    assert result.errors[0] == {"line": 2, "product_id": "p0", "errors": {"title": ["is required"]}}
    assert result.errors[-1]["line"] == 201


# --- start_feed_import, the task, URLs ----------------------------------------------------------


def test_an_uploaded_feed_is_stored_and_imported_by_the_task_after_commit(
    shop, alice, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("my feed.csv", (FEEDS / "products.csv").read_bytes(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        feed_import = start_feed_import(shop=shop, uploaded_file=upload, created_by=alice)
        assert FeedImport.objects.get(id=feed_import.id).status == FeedImport.QUEUED

    assert len(callbacks) == 1
    feed_import.refresh_from_db()
    assert (feed_import.status, feed_import.source, feed_import.created_by) == (
        FeedImport.DONE,
        "my feed.csv",
        alice,
    )
    assert (feed_import.created, feed_import.rejected, feed_import.errors) == (4, 3, CSV_ERRORS)
    assert feed_import.file.name.startswith("feeds/")
    with feed_import.file.open("rb") as stored:
        assert stored.read() == (FEEDS / "products.csv").read_bytes()
    assert ids(shop) == ["sku-1", "sku-2", "sku-7", "sku/5 x.y"]


def test_nothing_is_queued_when_the_transaction_rolls_back(shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        start_feed_import(shop=shop, url="https://feeds.example/products.xml")

    assert len(callbacks) == 1  # queued for commit only, not run inline
    assert FeedImport.objects.get().status == FeedImport.QUEUED


def test_it_imports_a_feed_url(shop, settings, feed_server, feed_dir, django_capture_on_commit_callbacks):
    settings.PZ_FEED_ALLOW_PRIVATE_HOSTS = True  # the test server is on 127.0.0.1
    (feed_dir / "google_shopping.xml.gz").write_bytes(
        gzip.compress((FEEDS / "google_shopping.xml").read_bytes())
    )

    with django_capture_on_commit_callbacks(execute=True):
        feed_import = start_feed_import(shop=shop, url=f"  {feed_server}/google_shopping.xml.gz ")

    feed_import.refresh_from_db()
    assert feed_import.source == f"{feed_server}/google_shopping.xml.gz"
    assert (feed_import.status, feed_import.format, feed_import.created, feed_import.errors) == (
        FeedImport.DONE,
        "xml",
        3,
        XML_ERRORS,
    )
    assert feed_import.total_bytes == (feed_dir / "google_shopping.xml.gz").stat().st_size
    assert not feed_import.file


def test_a_missing_url_fails_with_the_http_status(
    shop, settings, feed_server, django_capture_on_commit_callbacks
):
    settings.PZ_FEED_ALLOW_PRIVATE_HOSTS = True

    with django_capture_on_commit_callbacks(execute=True):
        feed_import = start_feed_import(shop=shop, url=f"{feed_server}/nope.csv")

    feed_import.refresh_from_db()
    assert (feed_import.status, feed_import.failure) == (
        FeedImport.FAILED,
        "Could not fetch the feed: HTTP 404 File not found",
    )


def test_urls_on_private_addresses_are_refused_by_default(
    shop, settings, feed_server, django_capture_on_commit_callbacks
):
    settings.PZ_FEED_ALLOW_PRIVATE_HOSTS = False

    with django_capture_on_commit_callbacks(execute=True):
        feed_import = start_feed_import(shop=shop, url=f"{feed_server}/products.csv")

    feed_import.refresh_from_db()
    assert feed_import.status == FeedImport.FAILED
    assert feed_import.failure == "Could not fetch the feed: 127.0.0.1 is a private or local address"
    assert not Product.objects.exists()


def test_a_feed_over_the_size_limit_fails(shop, settings):
    settings.PZ_FEED_MAX_BYTES = 100

    result = run_import(shop, (FEEDS / "products.csv").read_bytes())

    assert (result.status, result.failure) == (
        FeedImport.FAILED,
        "The feed is larger than the limit of 100 bytes",
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "file"),
        ({"url": "https://x.example/f.csv", "uploaded_file": SimpleUploadedFile("f.csv", b"x")}, "file"),
        ({"url": "ftp://x.example/f.csv"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "http://[::1/feed.csv"}, "url"),
    ],
)
def test_start_feed_import_needs_one_http_url_or_a_file(shop, kwargs, field):
    with pytest.raises(FeedSourceError) as error:
        start_feed_import(shop=shop, **kwargs)

    assert error.value.field == field
    assert not FeedImport.objects.exists()


def test_the_task_skips_finished_imports(shop):
    feed_import = FeedImport.objects.create(
        shop=shop, source="https://x.example/f.csv", status=FeedImport.DONE
    )

    import_feed_task(feed_import.id)
    import_feed_task(999_999)

    feed_import.refresh_from_db()
    assert (feed_import.status, feed_import.started_at) == (FeedImport.DONE, None)


def test_a_stored_file_that_went_missing_fails_the_import(shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        feed_import = start_feed_import(
            shop=shop, uploaded_file=SimpleUploadedFile("f.csv", b"product_id,title\n")
        )
    feed_import.file.storage.delete(feed_import.file.name)

    callbacks[0]()

    feed_import.refresh_from_db()
    assert feed_import.status == FeedImport.FAILED
    assert feed_import.failure.startswith("Could not read the uploaded file")


# --- tenancy --------------------------------------------------------------------------------------


def test_an_import_touches_only_its_own_shop(shop, other_shop):
    theirs = make_product(other_shop, "sku-1", title="Charlie's")

    run_import(shop, (FEEDS / "products.csv").read_bytes())

    theirs.refresh_from_db()
    assert theirs.title == "Charlie's"
    assert Product.objects.filter(shop=other_shop).count() == 1


def test_import_feed_refuses_another_shops_import(shop, other_shop):
    feed_import = FeedImport.objects.create(shop=other_shop, source="f.csv")

    with pytest.raises(ValueError):
        import_feed(shop=shop, feed_import=feed_import, fileobj=io.BytesIO(b"product_id,title\na,A\n"))

    feed_import.refresh_from_db()
    assert feed_import.status == FeedImport.QUEUED
    assert not Product.objects.exists()
