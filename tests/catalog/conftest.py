"""Fixtures for the catalog tests: sample feeds, a private media folder and a local feed server."""

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


@pytest.fixture
def feed_dir(tmp_path) -> Path:
    """A folder with copies of the sample feeds; tests may add more."""
    folder = tmp_path / "feeds"
    shutil.copytree(FEEDS, folder)
    return folder


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def feed_server(feed_dir):
    """Serves feed_dir over HTTP on 127.0.0.1 (this machine has no internet); yields its base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(feed_dir))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
