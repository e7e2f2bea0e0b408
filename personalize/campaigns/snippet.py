"""GET /p.js and GET /p/<name>.js: the snippet build (widgets_js/dist), loaded from merchants' pages.

Served by Django rather than only as static files so that the URL in the merchant's tag stays the
same for ever (no hashed name), while an ETag makes a revalidation cost a 304.
"""

import hashlib
import logging
import re
import threading
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/javascript; charset=utf-8"
MAX_AGE = 300
LOADER = "p"
NAME = re.compile(r"[a-z0-9-]+")

# path -> (mtime_ns, size, body, etag): each file is read and hashed once per change, not per request.
_files: dict[Path, tuple[int, int, bytes, str]] = {}
_files_lock = threading.Lock()


@require_safe
def loader(request: HttpRequest) -> HttpResponse:
    return _serve(request, LOADER)


@require_safe
def chunk(request: HttpRequest, name: str) -> HttpResponse:
    return _serve(request, name)


def _serve(request: HttpRequest, name: str) -> HttpResponse:
    directory = Path(settings.SNIPPET_DIR)
    if not NAME.fullmatch(name):
        return _answer(404, f"/* no snippet file named {name!r} */\n")
    found = _read(directory / f"{name}.js")
    if found is None:
        if not (directory / f"{LOADER}.js").is_file():
            logger.warning("The snippet is not built: %s is missing; `make install` builds it.", directory)
            return _answer(
                503,
                f"/* The personalization snippet is not built on this server ({LOADER}.js is missing "
                "from SNIPPET_DIR). Run `make install`, which builds widgets_js/dist. */\n",
            )
        return _answer(404, f"/* no snippet file named {name!r} */\n")
    body, etag, mtime = found
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    response["ETag"] = etag
    response["Last-Modified"] = http_date(mtime)
    response = get_conditional_response(request, etag=etag, last_modified=int(mtime), response=response)
    return _cross_origin(response)


def _answer(status: int, comment: str) -> HttpResponse:
    response = HttpResponse(comment, status=status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return _cross_origin(response)


def _cross_origin(response: HttpResponse) -> HttpResponse:
    # Merchants' pages load it with <script src>, some with crossorigin for error reports.
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _read(path: Path) -> tuple[bytes, str, float] | None:
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    hit = _files.get(path)
    if hit is not None and hit[0] == stat.st_mtime_ns and hit[1] == stat.st_size:
        return hit[2], hit[3], stat.st_mtime
    try:
        body = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    with _files_lock:
        if len(_files) > 64:
            _files.clear()
        _files[path] = (stat.st_mtime_ns, stat.st_size, body, etag)
    return body, etag, stat.st_mtime
