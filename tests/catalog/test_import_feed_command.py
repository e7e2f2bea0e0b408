"""python manage.py import_feed --shop ID FILE_OR_URL."""

import gzip
import io
import json

import pytest
from django.core.management import CommandError, call_command

from personalize.catalog.models import FeedImport, Product
from tests.catalog.test_feed_import import CSV_ERRORS, XML_ERRORS


def run(*args) -> tuple[dict, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("import_feed", *args, stdout=stdout, stderr=stderr)
    return json.loads(stdout.getvalue()), stderr.getvalue()


def test_it_imports_a_file_and_prints_a_json_summary(shop, feed_dir):
    summary, stderr = run("--shop", str(shop.id), str(feed_dir / "products.csv"))

    feed_import = FeedImport.objects.get()
    assert summary == {
        "feed_import_id": feed_import.id,
        "status": "done",
        "format": "csv",
        "rows": 7,
        "created": 4,
        "updated": 0,
        "rejected": 3,
        "errors": CSV_ERRORS,
    }
    assert "import" in stderr and "100%" in stderr  # the progress bar
    assert Product.objects.filter(shop=shop).count() == 4
    assert feed_import.source == str(feed_dir / "products.csv")


def test_it_imports_gzipped_xml_without_a_progress_bar(shop, feed_dir):
    path = feed_dir / "feed.xml.gz"
    path.write_bytes(gzip.compress((feed_dir / "google_shopping.xml").read_bytes()))

    summary, stderr = run("--shop", str(shop.id), "--no-progress", str(path))

    assert (summary["status"], summary["format"], summary["created"], summary["errors"]) == (
        "done",
        "xml",
        3,
        XML_ERRORS,
    )
    assert stderr == ""


def test_a_second_run_updates_the_same_products(shop, feed_dir):
    run("--shop", str(shop.id), str(feed_dir / "products.csv"))

    summary, _ = run("--shop", str(shop.id), str(feed_dir / "products.csv"))

    assert (summary["created"], summary["updated"], summary["rejected"]) == (0, 4, 3)


def test_it_imports_from_a_url(shop, feed_server):
    summary, _ = run("--shop", str(shop.id), f"{feed_server}/products.csv")

    assert (summary["status"], summary["created"]) == ("done", 4)
    assert FeedImport.objects.get().source == f"{feed_server}/products.csv"


def test_it_prints_only_the_first_20_errors(shop, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("product_id,title\n" + "".join(f"p{i},\n" for i in range(30)))

    summary, _ = run("--shop", str(shop.id), str(path))

    assert summary["rejected"] == 30
    assert [e["line"] for e in summary["errors"]] == list(range(2, 22))


def test_an_unknown_shop_is_an_error(shop, feed_dir):
    with pytest.raises(CommandError, match="No shop with id 999999"):
        run("--shop", "999999", str(feed_dir / "products.csv"))

    assert not FeedImport.objects.exists()


def test_a_missing_file_is_an_error(shop, tmp_path):
    with pytest.raises(CommandError, match="Cannot read .*nope.csv: No such file or directory"):
        run("--shop", str(shop.id), str(tmp_path / "nope.csv"))

    assert not FeedImport.objects.exists()


def test_other_url_schemes_are_refused(shop):
    with pytest.raises(CommandError, match="Only http and https URLs"):
        run("--shop", str(shop.id), "file:///etc/passwd")


def test_an_unreadable_feed_prints_the_summary_and_fails(shop, tmp_path, capsys):
    path = tmp_path / "broken.xml"
    path.write_bytes(b"<rss><channel><item><g:id>1</g:id>")
    stdout = io.StringIO()

    with pytest.raises(CommandError, match="The XML is malformed"):
        call_command("import_feed", "--shop", str(shop.id), "--no-progress", str(path), stdout=stdout)

    summary = json.loads(stdout.getvalue())
    assert summary["status"] == "failed" and summary["failure"].startswith("The XML is malformed")
    assert FeedImport.objects.get().status == FeedImport.FAILED


def test_an_unreachable_url_fails(shop, feed_server):
    with pytest.raises(CommandError, match="HTTP 404"):
        run("--shop", str(shop.id), "--no-progress", f"{feed_server}/missing.csv")
