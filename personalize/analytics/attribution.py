"""Which click, if any, earned a purchase line. Plain Python over plain rows, so it is easy to test.

The rule (last click wins, so a line is credited once and the sources add up to the total):
a line of an order is attributed to the visitor's latest click, at most `window` before the order
(both ends included), that was either on that very product (a `rec_click` in a widget, or a
`campaign_click` that names the product) or on a campaign without a product (a call-to-action such
as a coupon pop-up, which leads to the whole order). At the same instant a click on the product
beats a campaign's call-to-action.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from personalize.campaigns.variants import ORIGINAL

WIDGET, CAMPAIGN = "widget", "campaign"
UNKNOWN_WIDGET = "unknown"


@dataclass(frozen=True)
class Click:
    ts: datetime
    kind: str  # WIDGET or CAMPAIGN
    key: str  # the widget type, or the campaign id
    product_id: str  # "" for a campaign's call-to-action
    variant: str = ""  # a campaign click's A/B variant key ("A" the original); "" for a widget


@dataclass(frozen=True)
class Line:
    product_id: str
    value: Decimal  # price x quantity


def variant_key(value) -> str:
    """A campaign event's `properties.variant` as the rollups store it: without one, the original."""
    return ("" if value is None else str(value).strip())[:2] or ORIGINAL


def click_from_event(
    *,
    type: str,
    ts: datetime,
    product_id: str,
    campaign_id: str,
    widget: str | None,
    variant: str | None = None,
) -> Click:
    """A stored rec_click / campaign_click event as a Click."""
    if type == "rec_click":
        return Click(ts, WIDGET, (widget or UNKNOWN_WIDGET)[:64], product_id)
    return Click(ts, CAMPAIGN, campaign_id[:64], product_id, variant_key(variant))


def attribute_order(
    *, ts: datetime, lines: list[Line], clicks: list[Click], window: timedelta
) -> list[Click | None]:
    """For each line of an order placed at `ts`, the click it is attributed to, or None.

    `clicks` are the same visitor's clicks sorted by time (any range: those outside the window are
    skipped)."""
    candidates = clicks[: bisect_right([c.ts for c in clicks], ts)]
    earliest = ts - window
    out: list[Click | None] = []
    for line in lines:
        best: Click | None = None
        for click in reversed(candidates):
            if click.ts < earliest:
                break
            if best is not None and click.ts < best.ts:
                break
            if click.product_id == line.product_id or (click.kind == CAMPAIGN and not click.product_id):
                if best is None or (click.product_id and not best.product_id):
                    best = click
        out.append(best)
    return out
