"""Analytics fixtures: events sent through the collect service at chosen times, and rollup rebuilds."""

import random
import uuid
from datetime import UTC, datetime, timedelta

from personalize.analytics.rollups import days_between, rebuild_days
from personalize.events.services import record_events
from personalize.recommend.models import RecommenderConfig
from personalize.recommend.rules import is_holdout

# A fixed past noon, so every test's days are the same whatever the clock says.
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def ev(type_: str, visitor: str, ts: datetime, **fields) -> dict:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "visitor_id": visitor,
        "session_id": "s-" + visitor,
    }
    event["ts"] = ts.isoformat()
    event.update(fields)
    return event


def click(visitor: str, ts: datetime, product: str, widget: str = "similar") -> dict:
    return ev(
        "rec_click",
        visitor,
        ts,
        product_id=product,
        rec_id="r1",
        properties={"widget": widget, "position": 0},
    )


def impression(visitor: str, ts: datetime, widget: str = "similar") -> dict:
    return ev(
        "rec_impression", visitor, ts, rec_id="r1", properties={"widget": widget, "product_ids": ["p1"]}
    )


def purchase(
    visitor: str, ts: datetime, items: list[tuple[str, int, float]], order_id: str | None = None
) -> dict:
    lines = [{"product_id": p, "quantity": q, "price": price} for p, q, price in items]
    return ev(
        "purchase",
        visitor,
        ts,
        order_id=order_id or "o-" + uuid.uuid4().hex[:10],
        items=lines,
        revenue=round(sum(q * price for _, q, price in items), 2),
        currency="GBP",
    )


def send(shop, events: list[dict]) -> None:
    for start in range(0, len(events), 100):
        result = record_events(
            shop=shop, batch=events[start : start + 100], received_at=T0 + timedelta(days=5)
        )
        assert not result.rejected, result.rejected


def rebuild(shop, start=None, end=None) -> None:
    rebuild_days(
        shop=shop,
        days=days_between(start or (T0 - timedelta(days=3)).date(), end or (T0 + timedelta(days=3)).date()),
    )


def set_holdout_share(shop, share: float) -> None:
    RecommenderConfig.objects.update_or_create(shop=shop, defaults={"holdout_share": share})


def visitor_id(rng: random.Random) -> str:
    """A visitor id as the snippet makes them (a UUID), drawn from `rng` so tests repeat."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def split_visitors(shop, count: int, share: float, seed: int = 0) -> tuple[list[str], list[str]]:
    """`count` visitor ids, split as the product splits them: (personalized, hold-out)."""
    rng = random.Random(seed)
    ids = [visitor_id(rng) for _ in range(count)]
    held = [v for v in ids if is_holdout(shop_id=shop.id, visitor_id=v, share=share)]
    return [v for v in ids if v not in set(held)], held
