"""Validation of one incoming event, field by field, with reasons a developer can act on.

Plain Python on purpose: it runs for every event on the collect path and for every row of a
history import, so it must be cheap. Output keys are the Event model's column names.
"""

import math
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from personalize.lib.fields import Invalid, check_text, json_object

EVENT_TYPES = frozenset(
    (
        "page_view",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "purchase",
        "search",
        "identify",
        "rec_impression",
        "rec_click",
        "campaign_impression",
        "campaign_click",
        "campaign_close",
        "custom",
    )
)
NEEDS_PRODUCT = frozenset(("product_view", "add_to_cart", "remove_from_cart", "rec_click"))
NEEDS_REC = frozenset(("rec_impression", "rec_click"))
NEEDS_CAMPAIGN = frozenset(("campaign_impression", "campaign_click", "campaign_close"))

MAX_ITEMS = 500
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = Decimal("1e11")
# Epoch-ms values below this are almost surely seconds sent by mistake (it is 2001-09-09 in ms).
MIN_EPOCH_MS = 1_000_000_000_000
OLDEST_TS = datetime(2000, 1, 1, tzinfo=UTC)

Errors = dict[str, list[str]]


def _text(value, max_len: int, allow_number: bool = False) -> str:
    if allow_number and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("must be a string")
    if len(value) > max_len:
        raise Invalid(f"must be at most {max_len} characters")
    return check_text(value)


def _amount(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid("must be a finite number")
    if value < 0:
        raise Invalid("must not be negative")
    amount = Decimal(str(value))
    if amount >= MAX_AMOUNT:
        raise Invalid("is too large")
    return amount


def _quantity(value) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("must be an integer")
    if not 0 < value <= MAX_QUANTITY:
        raise Invalid(f"must be between 1 and {MAX_QUANTITY}")
    return value


def parse_ts(value, now: datetime, max_skew: timedelta) -> datetime:
    """ISO 8601 (naive means UTC) or epoch milliseconds -> an aware datetime."""
    if isinstance(value, bool):
        raise Invalid("must be ISO 8601 text or epoch milliseconds")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise Invalid("must be a finite number")
        if value < MIN_EPOCH_MS:
            raise Invalid("is too small for epoch milliseconds (seconds sent?)")
        try:
            ts = datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise Invalid("is out of range") from None
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Invalid("must be ISO 8601 text or epoch milliseconds") from None
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
    else:
        raise Invalid("must be ISO 8601 text or epoch milliseconds")
    if ts > now + max_skew:
        raise Invalid(f"is too far in the future (more than {int(max_skew.total_seconds() // 3600)} h ahead)")
    if ts < OLDEST_TS:
        raise Invalid("is before the year 2000")
    return ts


def _items(value) -> list[dict]:
    if not isinstance(value, list):
        raise Invalid("must be a list of {product_id, quantity, price}")
    if not value or len(value) > MAX_ITEMS:
        raise Invalid(f"must hold between 1 and {MAX_ITEMS} items")
    clean = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise Invalid(f"item {i} must be an object")
        try:
            line = {"product_id": _text(item.get("product_id"), 128, True)}
            line["quantity"] = _quantity(item["quantity"]) if item.get("quantity") is not None else 1
            line["price"] = float(_amount(item["price"])) if item.get("price") is not None else None
        except Invalid as exc:
            raise Invalid(f"item {i}: {exc.reason}") from None
        clean.append(line)
    return clean


def _properties(value, max_bytes: int) -> dict:
    return json_object(value, max_bytes)


# (field, max length, whether a JSON number is accepted and kept as text)
_TEXT_FIELDS = (
    ("visitor_id", 64, False),
    ("session_id", 64, False),
    ("customer_id", 128, True),
    ("url", 2048, False),
    ("referrer", 2048, False),
    ("product_id", 128, True),
    ("order_id", 128, True),
    ("query", 512, False),
    ("rec_id", 64, False),
    ("campaign_id", 64, True),
)


def _checker(raw: dict, errors: Errors):
    """check(field, parse, *args): the parsed value of an optional field, or None with its reason noted."""

    def check(field, parse, *args):
        value = raw.get(field)
        if value is None:
            return None
        try:
            return parse(value, *args)
        except Invalid as exc:
            errors[field] = [exc.reason]
            return None

    return check


_TEXT_SPECS = {name: (max_len, allow_number) for name, max_len, allow_number in _TEXT_FIELDS}
_NUMBER_FIELDS = {"quantity": _quantity, "price": _amount, "revenue": _amount, "items": _items}
# A clean event before its fields are read: every output key, in a fixed order (rows of one batch
# must share their keys and order: they are one INSERT).
_CLEAN_EVENT = {
    "event_id": None,
    "type": None,
    **{name: "" for name, _, _ in _TEXT_FIELDS},
    "ts": None,
    "quantity": None,
    "price": None,
    "revenue": None,
    "currency": "",
    "items": None,
    "properties": None,
}
# Where each field's reason goes in `errors` (the order of the fields above).
_ERROR_ORDER = {name: i for i, name in enumerate(("event", *_CLEAN_EVENT))}
_UUID = uuid.UUID


def validate_event(
    raw, *, now: datetime, max_skew: timedelta, properties_max_bytes: int
) -> tuple[dict | None, Errors]:
    """(clean event, {}) or (None, {field: [reason]}). `now` is the server's receive time.

    It runs for every collected event, so it reads only the fields the event has (one pass over
    its keys) and takes plain ASCII text without further checks; anything else goes through the
    field's full check, whose reason is the one reported."""
    if not isinstance(raw, dict):
        return None, {"event": ["must be an object"]}
    errors: Errors = {}
    clean = _CLEAN_EVENT.copy()

    for name, value in raw.items():
        if value is None:
            continue
        spec = _TEXT_SPECS.get(name)
        if spec is not None:
            if value.__class__ is str and len(value) <= spec[0] and value.isascii() and "\x00" not in value:
                clean[name] = value
                continue
            try:
                clean[name] = _text(value, spec[0], spec[1])
            except Invalid as exc:
                errors[name] = [exc.reason]
            continue
        try:
            if name == "ts":
                clean["ts"] = parse_ts(value, now, max_skew)
            elif name in _NUMBER_FIELDS:
                clean[name] = _NUMBER_FIELDS[name](value)
            elif name == "currency":
                currency = _text(value, 3)
                if currency and not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
                    raise Invalid("must be a 3-letter ISO 4217 code")
                clean["currency"] = currency.upper()
            elif name == "properties":
                clean["properties"] = json_object(value, properties_max_bytes)
        except Invalid as exc:
            errors[name] = [exc.reason]

    event_id = raw.get("event_id")
    if event_id is None:
        errors["event_id"] = ["is required"]
    else:
        try:
            clean["event_id"] = _UUID(event_id) if event_id.__class__ is str else None
        except ValueError:
            clean["event_id"] = None
        if clean["event_id"] is None:
            errors["event_id"] = ["must be a UUID"]

    event_type = raw.get("type")
    if event_type is None:
        errors["type"] = ["is required"]
    elif event_type.__class__ is not str or event_type not in EVENT_TYPES:
        errors["type"] = [f"must be one of: {', '.join(sorted(EVENT_TYPES))}"]
    clean["type"] = event_type

    if not clean["visitor_id"] and "visitor_id" not in errors:
        errors["visitor_id"] = ["is required"]
    if len(errors) > 1:  # the fields' order, whatever the order of the event's keys
        errors = dict(sorted(errors.items(), key=lambda item: _ERROR_ORDER[item[0]]))

    if "type" in errors:  # a type that is none of ours needs nothing more
        return None, errors

    def require(field):
        if not clean[field] and field not in errors:
            errors[field] = [f"is required for {event_type}"]

    if event_type in NEEDS_PRODUCT:
        require("product_id")
    if event_type in NEEDS_REC:
        require("rec_id")
    if event_type in NEEDS_CAMPAIGN:
        require("campaign_id")
    if event_type == "search":
        require("query")
    if event_type == "identify":
        require("customer_id")
    if event_type == "purchase":
        require("order_id")
        if clean["items"] is None and "items" not in errors:
            errors["items"] = ["is required for purchase"]
        elif clean["revenue"] is None and clean["items"]:
            clean["revenue"] = _lines_total(clean["items"])

    return (None, errors) if errors else (clean, {})


def validate_order(raw, *, now: datetime, max_skew: timedelta) -> tuple[dict | None, Errors]:
    """A server-side order (POST /api/v1/orders): the purchase fields without the event envelope."""
    if not isinstance(raw, dict):
        return None, {"order": ["must be an object"]}
    errors: Errors = {}
    clean: dict = {}
    check = _checker(raw, errors)

    clean["order_id"] = check("order_id", _text, 128, True) or ""
    if not clean["order_id"] and "order_id" not in errors:
        errors["order_id"] = ["is required"]
    clean["visitor_id"] = check("visitor_id", _text, 64, False) or ""
    clean["customer_id"] = check("customer_id", _text, 128, True) or ""
    if (
        not (clean["visitor_id"] or clean["customer_id"])
        and not {"visitor_id", "customer_id"} & errors.keys()
    ):
        errors["visitor_id"] = ["visitor_id or customer_id is required"]
    clean["items"] = check("items", _items)
    if clean["items"] is None and "items" not in errors:
        errors["items"] = ["is required"]
    clean["revenue"] = check("revenue", _amount)
    currency = check("currency", _text, 3)
    if currency and not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
        errors["currency"] = ["must be a 3-letter ISO 4217 code"]
    clean["currency"] = (currency or "").upper()
    clean["ts"] = check("ts", parse_ts, now, max_skew) or now
    if errors:
        return None, errors
    if clean["revenue"] is None:
        clean["revenue"] = _lines_total(clean["items"])
    return clean, {}


def _lines_total(items: list[dict]) -> Decimal:
    return sum(
        (Decimal(str(i["price"])) * i["quantity"] for i in items if i["price"] is not None), Decimal(0)
    )
