"""Number formatting for the ROI page: money with the shop's currency code, percentages, intervals."""

from decimal import Decimal

from django import template

register = template.Library()
DASH = "—"


def _number(value) -> float | None:
    """None for what the template could not resolve (it passes "" for a missing attribute)."""
    return None if value is None or value == "" else float(value)


@register.filter
def money(value, currency: str = "") -> str:
    value = _number(value)
    if value is None:
        return DASH
    amount = f"{abs(value):,.2f}"
    sign = "−" if value < 0 else ""
    return f"{sign}{currency} {amount}".strip() if currency else f"{sign}{amount}"


@register.filter
def signed_money(value, currency: str = "") -> str:
    value = _number(value)
    if value is None:
        return DASH
    return ("+" if value > 0 else "") + money(value, currency)


@register.filter
def pct(value, digits: int = 1) -> str:
    value = _number(value)
    if value is None:
        return DASH
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def signed_pct(value, digits: int = 1) -> str:
    """A difference of two rates, in percentage points."""
    value = _number(value)
    if value is None:
        return DASH
    return f"{'+' if value > 0 else '−' if value < 0 else ''}{abs(value) * 100:.{int(digits)}f} pp"


@register.filter
def num(value) -> str:
    """A plain number for machine-readable attributes (data-value): dot decimals, no grouping."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)
