"""The catalog page: feed upload or URL, recent imports with progress and row errors, the progress JSON."""

import functools
import http.server
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from personalize.catalog.models import FeedImport, Product
from tests.factories import make_product

CSV_FEED = (
    b"product_id,title,url,price,currency,categories\n"
    b"sku-1,Red Dress,https://alice-shop.example/p/1,49.90,GBP,Women > Dresses\n"
    b"sku-2,,https://alice-shop.example/p/2,10,GBP,Women\n"
    b"sku-3,Blue Scarf,https://alice-shop.example/p/3,not-a-price,GBP,Women > Scarves\n"
    b"sku-4,Green Hat,https://alice-shop.example/p/4,15,GBP,Women > Hats\n"
)
XML_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel><title>Feed</title>
<item><g:id>mug-1</g:id><g:title>Mug</g:title><g:link>https://alice-shop.example/p/mug</g:link>
<g:price>12.50 GBP</g:price></item>
<item><g:title>No id</g:title><g:price>5.00 GBP</g:price></item>
</channel></rss>
"""


def catalog_url(shop, rest=""):
    return f"/dashboard/shops/{shop.id}/catalog/{rest}"


def test_it_shows_the_product_count_and_an_upload_form(alice_client, shop, other_shop):
    make_product(shop, "a")
    make_product(other_shop, "b")
    response = alice_client.get(catalog_url(shop))
    assert response.status_code == 200
    assert response.context["product_count"] == 1
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert '<label for="id_file">' in html and '<label for="id_url">' in html
    assert "No imports yet" in html


def test_a_member_can_import(bob_client, bob, shop, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("feed.csv", CSV_FEED, content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = bob_client.post(catalog_url(shop), {"file": upload})
    assert response.status_code == 302
    assert FeedImport.objects.for_shop(shop).get().created_by == bob


def test_it_imports_an_uploaded_csv_and_shows_row_errors_with_line_numbers(
    alice_client, alice, shop, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("feed.csv", CSV_FEED, content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(catalog_url(shop), {"file": upload})
    assert response.status_code == 302 and response["Location"] == catalog_url(shop)
    feed_import = FeedImport.objects.for_shop(shop).get()
    assert feed_import.created_by == alice and feed_import.source == "feed.csv"
    assert feed_import.status == FeedImport.DONE
    assert sorted(Product.objects.for_shop(shop).values_list("product_id", flat=True)) == ["sku-1", "sku-4"]

    page = alice_client.get(catalog_url(shop))
    assert page.context["product_count"] == 2
    [shown] = page.context["imports"]
    assert shown["status"] == "done" and shown["percent"] == 100
    assert (shown["rows_read"], shown["created"], shown["updated"], shown["rejected"]) == (4, 2, 0, 2)
    assert [row["where"] for row in shown["errors"]] == ["Line 3", "Line 4"]
    assert shown["errors"][0]["product_id"] == "sku-2"
    assert any(m.startswith("title:") for m in shown["errors"][0]["messages"])
    assert any(m.startswith("price:") for m in shown["errors"][1]["messages"])
    html = page.content.decode()
    assert "Line 3 (sku-2): title:" in html and "Line 4 (sku-3): price:" in html
    assert '<progress id="progress-' in html and 'value="100"' in html
    assert f'data-import-url="{catalog_url(shop)}imports/{feed_import.id}.json"' in html
    assert "/static/dashboard/imports.js" in html

    # Importing the same file again updates instead of duplicating.
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(catalog_url(shop), {"file": SimpleUploadedFile("feed.csv", CSV_FEED)})
    latest = alice_client.get(catalog_url(shop)).context["imports"][0]
    assert (latest["created"], latest["updated"]) == (0, 2)
    assert Product.objects.for_shop(shop).count() == 2


def test_it_numbers_xml_errors_by_item(alice_client, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(catalog_url(shop), {"file": SimpleUploadedFile("feed.xml", XML_FEED)})
    [shown] = alice_client.get(catalog_url(shop)).context["imports"]
    assert shown["format"] == "xml" and shown["created"] == 1
    assert [row["where"] for row in shown["errors"]] == ["Item 2"]


def test_the_progress_json_follows_an_import(alice_client, shop, django_capture_on_commit_callbacks):
    # Without running the on-commit queue the import stays queued: what the page sees first.
    alice_client.post(catalog_url(shop), {"file": SimpleUploadedFile("feed.csv", CSV_FEED)})
    feed_import = FeedImport.objects.for_shop(shop).get()
    url = catalog_url(shop, f"imports/{feed_import.id}.json")
    response = alice_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["status"] == "queued" and data["finished"] is False and data["percent"] == 0
    assert data["id"] == feed_import.id and data["source"] == "feed.csv"

    from personalize.catalog.tasks import import_feed_task

    import_feed_task(feed_import.id)
    data = alice_client.get(url).json()
    assert data["status"] == "done" and data["finished"] is True
    assert data["progress"] == 1.0 and data["percent"] == 100
    assert (data["rows_read"], data["created"], data["rejected"]) == (4, 2, 2)
    assert data["errors"][0] == {
        "line": 3,
        "item": None,
        "where": "Line 3",
        "product_id": "sku-2",
        "messages": data["errors"][0]["messages"],
    }
    assert data["finished_at"] is not None
    assert data["product_count"] == 2


def test_it_imports_from_a_url(alice_client, shop, settings, tmp_path, django_capture_on_commit_callbacks):
    (tmp_path / "feed.csv").write_bytes(CSV_FEED)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.PZ_FEED_ALLOW_PRIVATE_HOSTS = True  # the test server is on loopback
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/feed.csv"
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_client.post(catalog_url(shop), {"url": url})
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 302
    feed_import = FeedImport.objects.for_shop(shop).get()
    assert feed_import.source == url and feed_import.status == FeedImport.DONE
    assert Product.objects.for_shop(shop).count() == 2


def test_a_failed_import_shows_why(alice_client, shop, settings, django_capture_on_commit_callbacks):
    settings.PZ_FEED_ALLOW_PRIVATE_HOSTS = False
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(catalog_url(shop), {"url": "http://127.0.0.1:9/feed.csv"})
    [shown] = alice_client.get(catalog_url(shop)).context["imports"]
    assert shown["status"] == "failed" and shown["finished"] is True
    assert "private or local address" in shown["failure"]
    assert "private or local address" in alice_client.get(catalog_url(shop)).content.decode()


@pytest.mark.parametrize(
    "data, field",
    [
        ({}, None),
        ({"url": "ftp://alice-shop.example/feed.csv"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://alice-shop.example/feed.csv", "file": "FILE"}, None),
    ],
)
def test_it_needs_exactly_one_file_or_http_url(alice_client, shop, data, field):
    if data.get("file") == "FILE":
        data["file"] = SimpleUploadedFile("feed.csv", CSV_FEED)
    response = alice_client.post(catalog_url(shop), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == [field or "__all__"]
    assert not FeedImport.objects.exists()


def test_it_lists_only_this_shops_imports(alice_client, shop, other_shop):
    FeedImport.objects.create(shop=other_shop, source="charlie.csv")
    mine = FeedImport.objects.create(shop=shop, source="alice.csv")
    shown = alice_client.get(catalog_url(shop)).context["imports"]
    assert [i["id"] for i in shown] == [mine.id]
