"""Writes on the catalog: the product upsert behind the API and feed imports, and feed import runs.

Row validation is plain Python on purpose: it runs for every row of a 1,000-product API call and of a
feed with millions of rows, so it must be cheap. Reasons follow the collect endpoint's style.
"""

import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from itertools import islice
from typing import BinaryIO
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import URLValidator
from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from personalize.catalog import feeds
from personalize.catalog.models import CATEGORY_SEPARATOR, FeedImport, Product
from personalize.lib.fields import Invalid, check_text, json_object
from personalize.shops.models import Shop
from personalize.shops.tenancy import get_for_shop_or_404

logger = logging.getLogger(__name__)

Errors = dict[str, list[str]]

FEED_CHUNK_ROWS = 500
# Feeds list at most this many row errors in the summary the command prints.
SUMMARY_ERRORS = 20

MAX_PRICE = Decimal("1e10")  # Product.price: 14 digits, 4 of them decimals.
PRICE_QUANTUM = Decimal("0.0001")
MAX_CATEGORY_DEPTH = 20
MAX_CATEGORY_NAME = 200
MAX_TAGS = 100
MAX_TAG_LENGTH = 100
MAX_ATTRIBUTES_BYTES = 32 * 1024
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_TAG_SPLIT = re.compile(r"[,|]")
_url_validator = URLValidator(schemes=["http", "https"])

TRUE_WORDS = frozenset(
    (
        "true",
        "1",
        "yes",
        "y",
        "in stock",
        "in_stock",
        "instock",
        "available",
        "available for order",
        "preorder",
        "backorder",
    )
)
FALSE_WORDS = frozenset(
    ("false", "0", "no", "n", "out of stock", "out_of_stock", "outofstock", "sold out", "discontinued")
)

# Columns an upsert overwrites; created_at is kept from the first insert.
_UPSERT_FIELDS = [
    "title",
    "url",
    "image_url",
    "price",
    "currency",
    "categories",
    "category_path",
    "brand",
    "tags",
    "in_stock",
    "attributes",
    "updated_at",
]


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    # [{"index", "product_id", "errors": {FIELD: [REASON]}}], index into the rows given.
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "rejected": self.rejected}


class FeedSourceError(ValueError):
    """start_feed_import was given no usable file or URL; `field` names the bad input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# --- validation ---------------------------------------------------------------------------------


def _text(value, max_len: int) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    value = value.strip()
    if len(value) > max_len:
        raise Invalid(f"must be at most {max_len} characters")
    return check_text(value)


def _product_id(value) -> str:
    # Many shops number their products; a JSON number is taken as its text.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    value = _text(value, 128)
    if not value:
        raise Invalid("is required")
    return value


def _url(value) -> str:
    value = _text(value, 2048)
    if value.startswith("//"):
        # Protocol-relative links are common in feeds; the store is served over https.
        value = "https:" + value
    try:
        _url_validator(value)
    except ValidationError:
        raise Invalid("must be an absolute http(s) URL") from None
    return value


def _price(value) -> Decimal:
    if isinstance(value, bool):
        raise Invalid("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid("must be a finite number")
    if isinstance(value, int | float):
        value = str(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise Invalid("must be a number") from None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise Invalid("must be a number")
    if value < 0:
        raise Invalid("must not be negative")
    if value >= MAX_PRICE:
        raise Invalid("is too large")
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


def _currency(value) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value.strip()):
        raise Invalid("must be a 3-letter currency code")
    return value.strip().upper()


def split_category_path(value: str) -> list[str]:
    """'Women > Dresses' (or 'Women>Dresses') -> ['Women', 'Dresses']."""
    return [part.strip() for part in value.split(">") if part.strip()]


def _categories(value) -> list[str]:
    if isinstance(value, str):
        value = split_category_path(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("must be a list of strings (a path) or text like 'Women > Dresses'")
    path = [v.strip() for v in value if v.strip()]
    if len(path) > MAX_CATEGORY_DEPTH:
        raise Invalid(f"must have at most {MAX_CATEGORY_DEPTH} levels")
    for name in path:
        if ">" in name:
            raise Invalid("names in a list must not contain '>'")
        if len(name) > MAX_CATEGORY_NAME:
            raise Invalid(f"names must be at most {MAX_CATEGORY_NAME} characters")
        check_text(name)
    if len(CATEGORY_SEPARATOR.join(path)) > 1000:
        raise Invalid("the joined path must be at most 1000 characters")
    return path


def _tags(value) -> list[str]:
    if isinstance(value, str):
        # Feeds carry tags as one cell: "summer, linen" or "summer|linen".
        value = _TAG_SPLIT.split(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("must be a list of strings")
    tags = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(tags) > MAX_TAGS:
        raise Invalid(f"must have at most {MAX_TAGS} tags")
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise Invalid(f"tags must be at most {MAX_TAG_LENGTH} characters")
        check_text(tag)
    return tags


def parse_bool(value) -> bool:
    """A JSON boolean, or the words feeds use: true/false, 1/0, yes/no, 'in stock'/'out of stock'."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise Invalid("must be true or false (or 1/0, yes/no, 'in stock'/'out of stock')")


def _attributes(value) -> dict:
    return json_object(value, MAX_ATTRIBUTES_BYTES)


_FIELDS: list[tuple[str, Callable, bool]] = [
    ("product_id", _product_id, True),
    ("title", lambda v: _text(v, 500), True),
    ("url", _url, False),
    ("image_url", _url, False),
    ("price", _price, False),
    ("currency", _currency, False),
    ("categories", _categories, False),
    ("brand", lambda v: _text(v, 200), False),
    ("tags", _tags, False),
    ("in_stock", parse_bool, False),
    ("attributes", _attributes, False),
]
_DEFAULTS = {
    "url": "",
    "image_url": "",
    "price": None,
    "categories": [],
    "brand": "",
    "tags": [],
    "in_stock": True,
    "attributes": {},
}


def clean_product(raw, *, default_currency: str) -> tuple[dict | None, Errors]:
    """One product row -> (Product field values, {}) or (None, {FIELD: [REASON]}).

    A row is the whole product: fields it leaves out (or sends as null or "") get their defaults.
    Unknown keys are ignored.
    """
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["must be an object"]}
    clean: dict = {}
    errors: Errors = {}
    for name, check, required in _FIELDS:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                errors[name] = ["is required"]
            continue
        try:
            clean[name] = check(value)
        except Invalid as exc:
            errors[name] = [exc.reason]
    if errors:
        return None, errors
    for name, default in _DEFAULTS.items():
        clean.setdefault(name, default)
    clean.setdefault("currency", default_currency)
    clean["category_path"] = CATEGORY_SEPARATOR.join(clean["categories"])
    return clean, {}


def _raw_product_id(raw) -> str | None:
    value = raw.get("product_id") if isinstance(raw, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


# --- products ----------------------------------------------------------------------------------


def upsert_products(*, shop: Shop, rows: list[dict]) -> UpsertResult:
    """Validate rows and insert-or-replace the good ones by product_id, in two queries whatever the count
    (on SQLite Django splits the insert to stay under 999 parameters a statement).

    Bad rows are reported one by one and the rest are stored. When a product_id repeats in `rows`,
    the last valid row wins and the product is counted once.
    """
    result = UpsertResult()
    products: dict[str, Product] = {}
    for index, raw in enumerate(rows):
        clean, errors = clean_product(raw, default_currency=shop.currency)
        if errors:
            result.rejected.append({"index": index, "product_id": _raw_product_id(raw), "errors": errors})
            continue
        products[clean["product_id"]] = Product(shop=shop, **clean)
    if not products:
        return result
    with transaction.atomic():
        existing = set(
            Product.objects.for_shop(shop)
            .filter(product_id__in=list(products))
            .values_list("product_id", flat=True)
        )
        Product.objects.bulk_create(
            # In id order, so two overlapping upserts lock rows in the same order and cannot deadlock.
            [products[product_id] for product_id in sorted(products)],
            update_conflicts=True,
            unique_fields=["shop", "product_id"],
            update_fields=_UPSERT_FIELDS,
        )
    _catalog_changed(shop, deleted=False)
    result.updated = len(existing)
    result.created = len(products) - len(existing)
    return result


def normalize_category(value: str) -> str:
    """A category filter as merchants type it ('Women>Dresses') -> the stored path form."""
    return CATEGORY_SEPARATOR.join(split_category_path(value))


def filter_products(*, shop: Shop, category: str | None = None, in_stock: bool | None = None) -> QuerySet:
    """The shop's products; `category` matches that path and every path below it."""
    products = Product.objects.for_shop(shop)
    if category:
        path = normalize_category(category)
        products = products.filter(
            Q(category_path=path) | Q(category_path__startswith=path + CATEGORY_SEPARATOR)
        )
    if in_stock is not None:
        products = products.filter(in_stock=in_stock)
    return products


def delete_product(*, shop: Shop, product_id: str) -> None:
    """Delete one product; a missing or foreign product_id raises Http404."""
    get_for_shop_or_404(Product, shop, product_id=product_id).delete()
    _catalog_changed(shop, deleted=True)


def _catalog_changed(shop: Shop, *, deleted: bool) -> None:
    """Serving holds a snapshot of the catalog in memory: tell it to reload (once this commits)."""
    from personalize.recommend.store import catalog_changed  # numpy-heavy; only needed after a write

    catalog_changed(shop.id, deleted=deleted)


# --- feed imports ------------------------------------------------------------------------------


def _feed_max_bytes() -> int:
    return settings.PZ_FEED_MAX_BYTES


def _allow_private_hosts() -> bool:
    # Off in production: a merchant's URL must not reach the operator's internal network.
    return settings.PZ_FEED_ALLOW_PRIVATE_HOSTS


def check_feed_url(url: str) -> str:
    """The URL, stripped, if it is an absolute http(s) URL; else FeedSourceError."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise FeedSourceError("url", "must be an http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise FeedSourceError("url", "must be an http:// or https:// URL")
    if len(url) > 2048:
        raise FeedSourceError("url", "must be at most 2048 characters")
    return url


def start_feed_import(
    *, shop: Shop, uploaded_file=None, url: str | None = None, created_by: AbstractBaseUser | None = None
) -> FeedImport:
    """Record an import of an uploaded file or a URL and queue it once this transaction commits."""
    from personalize.catalog.tasks import import_feed_task  # tasks imports this module

    if (uploaded_file is None) == (not url):
        raise FeedSourceError("file", "give either a file or a URL")
    feed_import = FeedImport(shop=shop, created_by=created_by)
    if url:
        feed_import.source = check_feed_url(url)
    else:
        if not isinstance(uploaded_file, File):
            uploaded_file = File(uploaded_file)
        name = os.path.basename(uploaded_file.name or "") or "feed"
        feed_import.source = name[-2048:]
        feed_import.file.save(name, uploaded_file, save=False)
        feed_import.total_bytes = feed_import.file.size
    feed_import.save()
    transaction.on_commit(partial(import_feed_task.delay, feed_import.id))
    return feed_import


_PROGRESS_FIELDS = [
    "format",
    "total_bytes",
    "bytes_read",
    "rows_read",
    "created",
    "updated",
    "rejected",
    "errors",
]


def _batches(rows: Iterable, size: int) -> Iterator[list]:
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        yield batch


def _open_feed_source(
    stack: ExitStack, feed_import: FeedImport, fileobj: BinaryIO | None, allow_private_hosts: bool
) -> tuple[BinaryIO, int]:
    """The feed's raw bytes and their size (0 when unknown)."""
    if fileobj is not None:
        try:
            size = os.fstat(fileobj.fileno()).st_size
        except (AttributeError, OSError, ValueError):
            size = getattr(fileobj, "size", 0) or 0
        return fileobj, size
    if feed_import.file:
        try:
            stack.enter_context(feed_import.file.open("rb"))
            return feed_import.file, feed_import.file.size
        except OSError as exc:
            raise feeds.FeedError(f"Could not read the uploaded file: {exc.strerror or exc}") from exc
    if urlsplit(feed_import.source).scheme in ("http", "https"):
        response, size = feeds.open_url(
            feed_import.source,
            timeout=settings.PZ_FEED_FETCH_TIMEOUT,
            allow_private_hosts=allow_private_hosts,
        )
        stack.enter_context(response)
        return response, size or 0
    raise feeds.FeedError("This import has neither a file nor an http(s) URL")


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, feeds.FeedError):
        return str(exc)
    if isinstance(exc, Exception):
        return f"The import stopped on an internal error ({type(exc).__name__}); the server log has details"
    return f"The import was interrupted ({type(exc).__name__})"


def import_feed(
    *,
    shop: Shop,
    feed_import: FeedImport,
    fileobj: BinaryIO | None = None,
    on_progress: Callable[[FeedImport], None] | None = None,
    allow_private_hosts: bool | None = None,
) -> FeedImport:
    """Run one feed import to the end, in chunks of FEED_CHUNK_ROWS rows through upsert_products.

    Reads `fileobj` when given (the command's local file), else the import's stored file or URL.
    Progress and the first FeedImport.MAX_STORED_ERRORS row errors are saved after each chunk, so a
    watcher sees them; each chunk is committed on its own. Ends "done" or "failed" (with `failure`),
    never "running": a broken feed is reported on the row, not raised.
    """
    if feed_import.shop_id != shop.id:
        raise ValueError("feed_import belongs to another shop")
    if allow_private_hosts is None:
        allow_private_hosts = _allow_private_hosts()
    feed_import.status = FeedImport.RUNNING
    feed_import.started_at = timezone.now()
    feed_import.finished_at = None
    feed_import.failure = ""
    feed_import.bytes_read = feed_import.rows_read = 0
    feed_import.created = feed_import.updated = feed_import.rejected = 0
    feed_import.errors = []
    feed_import.save(update_fields=["status", "started_at", "finished_at", "failure", *_PROGRESS_FIELDS])
    try:
        with ExitStack() as stack:
            raw, size = _open_feed_source(stack, feed_import, fileobj, allow_private_hosts)
            reader = feeds.FeedReader(raw, max_bytes=_feed_max_bytes())
            feed_import.total_bytes = size
            feed_import.format = reader.format
            number_key = "item" if reader.format == FeedImport.XML else "line"
            for chunk in _batches(reader.rows(), FEED_CHUNK_ROWS):
                _import_chunk(shop, feed_import, chunk, number_key)
                feed_import.bytes_read = reader.bytes_read
                feed_import.save(update_fields=_PROGRESS_FIELDS)
                if on_progress is not None:
                    on_progress(feed_import)
            feed_import.bytes_read = reader.bytes_read
            feed_import.total_bytes = max(feed_import.total_bytes, reader.bytes_read)
        feed_import.status = FeedImport.DONE
    except BaseException as exc:
        if isinstance(exc, Exception) and not isinstance(exc, feeds.FeedError):
            logger.exception("Feed import %s of shop %s failed", feed_import.id, shop.id)
        feed_import.status = FeedImport.FAILED
        feed_import.failure = _describe_failure(exc)
        feed_import.finished_at = timezone.now()
        _save_failure(feed_import)
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit: recorded, then let them stop the process
        return feed_import
    feed_import.finished_at = timezone.now()
    feed_import.save(update_fields=["status", "finished_at", *_PROGRESS_FIELDS])
    if on_progress is not None:
        on_progress(feed_import)
    return feed_import


def _save_failure(feed_import: FeedImport) -> None:
    fields = ["status", "failure", "finished_at", *_PROGRESS_FIELDS]
    try:
        feed_import.save(update_fields=fields)
    except DatabaseError:
        if connection.in_atomic_block:
            raise
        # The failure may have been the connection itself; a fresh one can still record it.
        connection.close()
        feed_import.save(update_fields=fields)


def _import_chunk(shop: Shop, feed_import: FeedImport, chunk: list[feeds.FeedRow], number_key: str) -> None:
    good = [row for row in chunk if not row.errors]
    result = upsert_products(shop=shop, rows=[row.data for row in good])
    rejected = [(row, row.errors) for row in chunk if row.errors]
    rejected += [(good[r["index"]], r["errors"]) for r in result.rejected]
    rejected.sort(key=lambda pair: pair[0].number)
    feed_import.rows_read += len(chunk)
    feed_import.created += result.created
    feed_import.updated += result.updated
    feed_import.rejected += len(rejected)
    room = FeedImport.MAX_STORED_ERRORS - len(feed_import.errors)
    for row, errors in rejected[: max(room, 0)]:
        feed_import.errors.append(
            {number_key: row.number, "product_id": _raw_product_id(row.data), "errors": errors}
        )


def feed_import_summary(feed_import: FeedImport, *, max_errors: int = SUMMARY_ERRORS) -> dict:
    """What the import_feed command prints: counts and the first row errors."""
    summary = {
        "feed_import_id": feed_import.id,
        "status": feed_import.status,
        "format": feed_import.format,
        "rows": feed_import.rows_read,
        "created": feed_import.created,
        "updated": feed_import.updated,
        "rejected": feed_import.rejected,
        "errors": feed_import.errors[:max_errors],
    }
    if feed_import.failure:
        summary["failure"] = feed_import.failure
    return summary
