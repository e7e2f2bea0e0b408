"""The rules a campaign must follow, as Django validators: the model runs them in `full_clean`, which
the admin form, the services and (later) the dashboard editors all go through.

Targeting is a JSON object with a fixed set of optional keys. `clean_targeting` checks it and drops
what is not set (null, empty lists and texts), so the snippet only ever receives the rules in force.
"""

import math
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

DEVICES = ("desktop", "mobile")
VISITORS = ("any", "new", "returning")
CUSTOMERS = ("any", "known", "anonymous")
MAX_URL_PATTERNS = 20
MAX_CART_PRODUCTS = 50
MAX_MONEY = 1_000_000_000

# Whitespace and control characters are refused anywhere in a URL: browsers drop tabs and newlines
# while parsing, so "java\tscript:" would otherwise slip past the scheme check.
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def validate_safe_url(value: str) -> None:
    """An http(s) URL or a relative one: never javascript:, data: or any other scheme."""
    if not value:
        return
    if _UNSAFE_URL_CHARS.search(value):
        raise ValidationError("must not contain spaces, control characters or backslashes")
    parts = urlsplit(value)
    if parts.scheme:
        if parts.scheme not in ("http", "https"):
            raise ValidationError("must be an http(s) URL or a relative one such as /sale")
        if not parts.netloc:
            raise ValidationError("must name a host, e.g. https://shop.example/sale")


def validate_coupon_code(value: str) -> None:
    if value and (_UNSAFE_URL_CHARS.search(value) or not value.isprintable()):
        raise ValidationError("must not contain spaces or control characters")


def validate_targeting(value) -> None:
    _cleaned, errors = clean_targeting(value)
    if errors:
        raise ValidationError(errors)


def clean_targeting(value) -> tuple[dict, list[str]]:
    """(the rules that are set, ["key: reason", …]); unknown keys are errors, not ignored."""
    if not isinstance(value, dict):
        return {}, ["must be a JSON object of targeting rules"]
    cleaned: dict = {}
    errors: list[str] = []
    for key, raw in value.items():
        check = _CHECKS.get(key)
        if check is None:
            errors.append(f"{key}: is not a targeting rule; known rules are {', '.join(_CHECKS)}")
            continue
        if raw is None:
            continue
        try:
            result = check(raw)
        except ValueError as exc:
            errors.append(f"{key}: {exc}")
            continue
        if result not in ("", []):
            cleaned[key] = result
    if not errors:
        low, high = cleaned.get("min_cart_value"), cleaned.get("max_cart_value")
        if low is not None and high is not None and low > high:
            errors.append("max_cart_value: must not be below min_cart_value")
    return cleaned, errors


def _texts(max_items: int, max_length: int):
    def check(raw) -> list[str]:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ValueError("must be a list of texts")
        items = [item.strip() for item in raw if item.strip()]
        if len(items) > max_items:
            raise ValueError(f"must list at most {max_items} entries")
        for item in items:
            if len(item) > max_length:
                raise ValueError(f"entries must be at most {max_length} characters")
            if _CONTROL_CHARS.search(item):
                raise ValueError("entries must not contain control characters")
        return list(dict.fromkeys(items))

    return check


def _one_of(choices: tuple[str, ...]):
    def check(raw) -> str:
        if raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return raw

    return check


def _devices(raw) -> list[str]:
    if not isinstance(raw, list) or any(item not in DEVICES for item in raw):
        raise ValueError(f"must be a list of {' and/or '.join(DEVICES)}")
    return [d for d in DEVICES if d in raw]


def _whole(low: int, high: int):
    def check(raw) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return raw

    return check


def _money(raw) -> int | float:
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | float)
        or not math.isfinite(raw)
        or not 0 <= raw <= MAX_MONEY
    ):
        raise ValueError("must be a number of 0 or more, or null")
    return raw


def _category(raw) -> str:
    if not isinstance(raw, str):
        raise ValueError('must be a category path such as "Home/Candles", or null')
    raw = raw.strip()
    if len(raw) > 1000:
        raise ValueError("must be at most 1000 characters")
    if _CONTROL_CHARS.search(raw):
        raise ValueError("must not contain control characters")
    return raw


_CHECKS = {
    "url_contains": _texts(MAX_URL_PATTERNS, 200),
    "devices": _devices,
    "visitor": _one_of(VISITORS),
    "min_page_views": _whole(0, 10_000),
    "min_seconds_on_page": _whole(0, 86_400),
    "min_scroll_percent": _whole(0, 100),
    "min_cart_value": _money,
    "max_cart_value": _money,
    "cart_contains": _texts(MAX_CART_PRODUCTS, 128),
    "viewed_category": _category,
    "customer": _one_of(CUSTOMERS),
}
TARGETING_KEYS = tuple(_CHECKS)
