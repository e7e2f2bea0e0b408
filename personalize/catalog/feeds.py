"""Reading product feeds as a stream of rows: CSV and Google Shopping XML, plain or gzipped.

Memory stays flat whatever the feed's size: CSV is read line by line, and XML items are dropped
from the tree as soon as they are turned into a row. Rows come out as raw product dicts (strings,
as the feed had them); catalog.services validates them like API rows. Django-free.
"""

import csv
import gzip
import http.client
import io
import ipaddress
import itertools
import json
import re
import socket
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

CSV, XML = "csv", "xml"
GOOGLE_NS = "{http://base.google.com/ns/1.0}"
ATOM_NS = "{http://www.w3.org/2005/Atom}"
ITEM_TAGS = frozenset(("item", f"{ATOM_NS}entry"))
FEED_ROOTS = frozenset(("rss", "channel", "feed", "rdf"))

PRODUCT_FIELDS = (
    "product_id",
    "title",
    "url",
    "image_url",
    "price",
    "currency",
    "categories",
    "brand",
    "tags",
    "in_stock",
    "attributes",
)
# Other names merchants' exports give the same columns (compared lower-cased, '_' for ' ' and '-').
CSV_ALIASES = {
    "id": "product_id",
    "sku": "product_id",
    "name": "title",
    "link": "url",
    "image": "image_url",
    "image_link": "image_url",
    "category": "categories",
    "product_type": "categories",
    "availability": "in_stock",
    "tag": "tags",
}
CSV_DELIMITERS = (",", "\t", ";", "|")
# Google fields kept in `attributes` (besides custom_label_0..4).
GOOGLE_ATTRIBUTES = (
    "color",
    "size",
    "gender",
    "age_group",
    "material",
    "pattern",
    "condition",
    "gtin",
    "mpn",
    "item_group_id",
)
_PRICE = re.compile(r"^\s*(?:([A-Za-z]{3})\s+)?([0-9][0-9.]*)\s*(?:([A-Za-z]{3}))?\s*$")


class FeedError(Exception):
    """The feed as a whole cannot be read (as opposed to one bad row); the message is for the merchant."""


@dataclass(slots=True)
class FeedRow:
    number: int  # CSV: the line the row starts on (the header is line 1). XML: the item's position, from 1.
    data: dict
    errors: dict[str, list[str]] | None = None  # set when the row could not even be turned into a product


class _CountingReader(io.RawIOBase):
    """Counts the bytes taken from the source (compressed ones, for gzip) and enforces a size cap."""

    def __init__(self, raw: BinaryIO, max_bytes: int | None):
        self._raw = raw
        self._max_bytes = max_bytes
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._raw.read(len(buffer))
        except (OSError, http.client.HTTPException) as exc:
            raise FeedError(f"Could not read the feed: {exc}") from exc
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        if self._max_bytes is not None and self.bytes_read > self._max_bytes:
            raise FeedError(f"The feed is larger than the limit of {self._max_bytes} bytes")
        return n


def detect_format(head: bytes) -> str:
    """XML documents start with '<' (after a BOM or blanks); a CSV never does."""
    return XML if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else CSV


class FeedReader:
    """One pass over a feed: `format`, then `rows()`; `bytes_read` tells how far it got in the source."""

    def __init__(self, raw: BinaryIO, *, max_bytes: int | None = None):
        self._counter = _CountingReader(raw, max_bytes)
        stream: io.BufferedIOBase = io.BufferedReader(self._counter, buffer_size=64 * 1024)
        if stream.peek(2)[:2] == b"\x1f\x8b":
            stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), buffer_size=64 * 1024)
        try:
            head = stream.peek(1024)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise FeedError(f"The gzip data is corrupt or cut short: {exc}") from exc
        if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:14].lower().startswith((b"<!doctype html", b"<html")):
            # What a feed URL answers when it wants a login or has moved.
            raise FeedError("This is an HTML page, not a feed")
        self.format = detect_format(head)
        self._stream = stream

    @property
    def bytes_read(self) -> int:
        return self._counter.bytes_read

    def rows(self) -> Iterator[FeedRow]:
        rows = _csv_rows(self._stream) if self.format == CSV else _xml_rows(self._stream)
        try:
            yield from rows
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise FeedError(f"The gzip data is corrupt or cut short: {exc}") from exc


# --- CSV ----------------------------------------------------------------------------------------


def _column(name: str) -> str:
    name = name.strip().lower().replace(" ", "_").replace("-", "_")
    name = name.removeprefix("g:")
    return CSV_ALIASES.get(name, name)


def split_price(text: str) -> tuple[str, str | None]:
    """'12.50 GBP' -> ('12.50', 'GBP'); text that is not of that form comes back as it was."""
    match = _PRICE.match(text)
    if not match or (match.group(1) and match.group(3)):
        return text, None
    return match.group(2), (match.group(1) or match.group(3) or None)


def _csv_rows(stream: BinaryIO) -> Iterator[FeedRow]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    header_line = text.readline()
    if not header_line.strip():
        return
    delimiter = max(CSV_DELIMITERS, key=header_line.count)
    reader = csv.reader(itertools.chain([header_line], text), delimiter=delimiter)
    columns = [_column(name) for name in next(reader)]
    missing = [name for name in ("product_id", "title") if name not in columns]
    if missing:
        raise FeedError(f"The CSV header has no {' or '.join(missing)} column (it has: {', '.join(columns)})")
    line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FeedError(f"CSV error on line {line + 1}: {exc}") from exc
        number, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        yield _csv_row(number, columns, cells)


def _csv_row(number: int, columns: list[str], cells: list[str]) -> FeedRow:
    data: dict = {}
    attributes: dict = {}
    errors: dict[str, list[str]] = {}
    if len(cells) > len(columns):
        errors["non_field_errors"] = [f"has {len(cells)} cells but the header has {len(columns)} columns"]
    for name, cell in zip(columns, cells, strict=False):
        cell = cell.strip()
        if not cell:
            continue
        if name == "attributes":
            try:
                extra = json.loads(cell)
            except ValueError:
                extra = None
            if not isinstance(extra, dict):
                errors["attributes"] = ["must be a JSON object"]
            else:
                attributes.update(extra)
        elif name == "price":
            data["price"], currency = split_price(cell)
            if currency:
                data.setdefault("currency", currency)
        elif name == "currency":
            data["currency"] = cell
        elif name in PRODUCT_FIELDS:
            data[name] = cell
        else:
            attributes[name] = cell
    if attributes:
        data["attributes"] = attributes
    return FeedRow(number, data, errors or None)


# --- Google Shopping XML ------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _xml_rows(stream: BinaryIO) -> Iterator[FeedRow]:
    stack = []
    number = 0
    try:
        for event, elem in iterparse(stream, events=("start", "end")):
            if event == "start":
                if not stack and _local(elem.tag).lower() not in FEED_ROOTS:
                    raise FeedError(
                        f"This XML is not an RSS or Atom feed (it starts with <{_local(elem.tag)}>)"
                    )
                stack.append(elem)
                continue
            stack.pop()
            if elem.tag in ITEM_TAGS:
                number += 1
                yield FeedRow(number, _xml_item(elem))
                # Drop the finished item so the tree never grows.
                if stack:
                    stack[-1].remove(elem)
                elem.clear()
    except DefusedXmlException as exc:
        raise FeedError("The XML declares entities or a DTD, which feeds may not use") from exc
    except ParseError as exc:
        raise FeedError(f"The XML is malformed after item {number}: {exc}") from exc


def _xml_item(item) -> dict:
    google: dict[str, str] = {}
    plain: dict[str, str] = {}
    for child in item:
        if len(child):
            continue  # nested groups such as g:shipping
        tag = child.tag
        text = (child.text or "").strip()
        if tag == f"{ATOM_NS}link":
            text = (child.get("href") or text).strip()
        if not text:
            continue
        if tag.startswith(GOOGLE_NS):
            google.setdefault(tag[len(GOOGLE_NS) :], text)
        else:
            plain.setdefault(_local(tag), text)

    data: dict = {}
    attributes: dict = {}
    for name, value in (
        ("product_id", google.get("id")),
        ("title", google.get("title") or plain.get("title")),
        ("url", google.get("link") or plain.get("link")),
        ("image_url", google.get("image_link")),
        ("brand", google.get("brand")),
        ("categories", google.get("product_type") or google.get("google_product_category")),
    ):
        if value:
            data[name] = value
    price, currency = split_price(google["price"]) if "price" in google else (None, None)
    sale_price, sale_currency = split_price(google["sale_price"]) if "sale_price" in google else (None, None)
    if sale_price:
        # Shoppers pay the sale price; the regular one stays visible for "was" prices.
        data["price"], currency = sale_price, sale_currency or currency
        if price:
            attributes["list_price"] = price
    elif price:
        data["price"] = price
    if currency:
        data["currency"] = currency
    availability = google.get("availability")
    if availability:
        data["in_stock"] = availability
        if availability.lower().replace("_", " ") not in ("in stock", "out of stock"):
            attributes["availability"] = availability
    for name, value in google.items():
        if name.startswith("custom_label_") or name in GOOGLE_ATTRIBUTES:
            attributes[name] = value
    if attributes:
        data["attributes"] = attributes
    return data


# --- URLs ---------------------------------------------------------------------------------------


def _check_host(host: str | None, allow_private_hosts: bool) -> None:
    if not host:
        raise FeedError("The feed URL has no host")
    if allow_private_hosts:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError) as exc:
        raise FeedError(f"Could not fetch the feed: cannot resolve {host}") from exc
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise FeedError(f"Could not fetch the feed: {host} is a private or local address")


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s), and only to hosts the first URL could have named."""

    def __init__(self, allow_private_hosts: bool):
        self._allow_private_hosts = allow_private_hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        parts = urlsplit(newurl)
        if parts.scheme not in ("http", "https"):
            raise FeedError(f"Could not fetch the feed: redirected to a {parts.scheme or 'relative'} URL")
        _check_host(parts.hostname, self._allow_private_hosts)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_url(
    url: str, *, timeout: float = 30, allow_private_hosts: bool = False
) -> tuple[BinaryIO, int | None]:
    """Open an http(s) feed URL: the response to read (and close) and its Content-Length, if sent.

    Private and loopback hosts are refused unless allowed (the import runs on the operator's
    network). Note the address is checked before connecting, not pinned: good against typos and
    casual probing, not against DNS rebinding.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FeedError("The feed URL must start with http:// or https://")
    _check_host(parts.hostname, allow_private_hosts)
    opener = urllib.request.build_opener(_RedirectHandler(allow_private_hosts))
    request = urllib.request.Request(url, headers={"User-Agent": "personalize-feed-import/1"})
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FeedError(f"Could not fetch the feed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise FeedError(f"Could not fetch the feed: {exc.reason}") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FeedError(f"Could not fetch the feed: {exc}") from exc
    length = response.headers.get("Content-Length")
    return response, int(length) if length and length.isdigit() else None
