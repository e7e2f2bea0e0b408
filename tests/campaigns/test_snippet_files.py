"""GET /p.js and /p/<name>.js: the snippet build served to merchants' pages.

The build itself is tested in widgets_js/; here a small stand-in dist directory is enough.
"""

import logging

import pytest
from django.test import Client

LOADER = b"(()=>{window.pz=window.pz||function(){};})();\n"
CAMPAIGNS = b"export const campaigns=1;\n"


@pytest.fixture
def dist(settings, tmp_path):
    directory = tmp_path / "dist"
    directory.mkdir()
    (directory / "p.js").write_bytes(LOADER)
    (directory / "pz-blocks.js").write_bytes(b"export const blocks=1;\n")
    (directory / "pz-campaigns.js").write_bytes(CAMPAIGNS)
    (directory / "notes.txt").write_text("not javascript")
    (tmp_path / "secret.js").write_text("const secret = 1;")
    settings.SNIPPET_DIR = directory
    return directory


def assert_served_to_any_page(response):
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_it_serves_the_loader_to_any_page(dist):
    response = Client().get("/p.js", HTTP_ORIGIN="https://any-merchant.example")

    assert response.status_code == 200
    assert response.content == LOADER
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert response["Last-Modified"]
    assert_served_to_any_page(response)


def test_it_serves_the_chunks(dist):
    response = Client().get("/p/pz-campaigns.js")
    assert response.status_code == 200
    assert response.content == CAMPAIGNS
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=300"
    assert_served_to_any_page(response)
    assert Client().get("/p/pz-blocks.js").status_code == 200


def test_an_unchanged_file_is_not_sent_again(dist):
    client = Client()
    etag = client.get("/p.js")["ETag"]

    response = client.get("/p.js", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, max-age=300"
    assert_served_to_any_page(response)


def test_a_new_build_gets_a_new_etag(dist):
    client = Client()
    old = client.get("/p.js")["ETag"]
    (dist / "p.js").write_bytes(LOADER + b"// rebuilt, a little longer\n")

    response = client.get("/p.js", HTTP_IF_NONE_MATCH=old)

    assert response.status_code == 200
    assert response["ETag"] != old
    assert response.content.endswith(b"// rebuilt, a little longer\n")


def test_head_answers_the_headers(dist):
    response = Client().head("/p.js")
    assert response.status_code == 200
    assert response.content == b""
    assert response["ETag"]


def test_it_does_not_take_writes(dist):
    assert Client().post("/p.js").status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/p/missing.js",
        "/p/notes.js",
        "/p/notes.txt",
        "/p/PZ-Blocks.js",
        "/p/pz_blocks.js",
        "/p/../secret.js",
        "/p/..%2Fsecret.js",
        "/p/%2e%2e/secret.js",
        "/p/sub/pz-blocks.js",
        "/p/.js",
        "/p/p.js.map",
    ],
)
def test_other_names_are_not_found(dist, path):
    response = Client().get(path)
    assert response.status_code == 404
    assert b"secret" not in response.content


def test_a_missing_build_answers_503_with_how_to_build_it(settings, tmp_path, caplog):
    settings.SNIPPET_DIR = tmp_path / "not-built"
    with caplog.at_level(logging.WARNING, logger="personalize.campaigns.snippet"):
        for path in ("/p.js", "/p/pz-campaigns.js"):
            response = Client().get(path)
            assert response.status_code == 503
            assert response["Content-Type"] == "text/javascript; charset=utf-8"
            assert response["Cache-Control"] == "no-store"
            body = response.content.decode()
            assert body.startswith("/*") and body.rstrip().endswith("*/")
            assert "make install" in body
    assert "make install" in caplog.text
