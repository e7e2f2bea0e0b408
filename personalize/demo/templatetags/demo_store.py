"""Template helpers of the demo store."""

import json
from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}
# The same escapes as Django's json_script: the JSON cannot end the <script> element early.
_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.filter
def money(price, currency: str = "") -> str:
    if price is None or price == "":
        return ""
    amount = f"{Decimal(price):,.2f}"
    symbol = _SYMBOLS.get(currency or "")
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}".strip()


@register.filter
def image_src(product) -> str:
    return product.image_url or reverse("demo:image", args=[product.product_id])


@register.simple_tag
def ld_json(data: dict) -> str:
    """A <script type="application/ld+json"> element; its text is JSON-escaped, never raw HTML."""
    text = json.dumps(data, ensure_ascii=False, default=str).translate(_JSON_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(text))
