"""Field checks shared by every endpoint that takes merchant or shopper input. Django-free."""

import json


class Invalid(Exception):
    """A field's value was refused; `reason` completes the sentence "<field> …"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_text(value: str) -> str:
    """Text PostgreSQL can store: no NUL, no lone surrogates (bytes that were not UTF-8)."""
    if "\x00" in value:
        raise Invalid("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid("is not valid UTF-8 text") from None
    return value


def json_object(value, max_bytes: int) -> dict:
    """A JSON object of at most `max_bytes` that PostgreSQL's jsonb accepts (no NaN, no NUL)."""
    if not isinstance(value, dict):
        raise Invalid("must be an object")
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8"
        )
    except UnicodeEncodeError:
        raise Invalid("is not valid UTF-8 text") from None
    except (TypeError, ValueError):
        raise Invalid("must be plain JSON") from None
    if len(encoded) > max_bytes:
        raise Invalid(f"must be at most {max_bytes // 1024} KB of JSON")
    if b"\\u0000" in encoded:
        raise Invalid("must not contain NUL characters")
    return value
