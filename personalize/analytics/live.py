"""The live feed of a shop: a snapshot of the last minutes (events per minute, the latest events,
revenue today) and a nudge from the collect path when events arrive.

Collect only nudges while a dashboard watches the shop (a cache flag the websocket consumer keeps
fresh), so a shop nobody watches pays one cache read per batch. The consumer answers a nudge by
sending a fresh snapshot, at most once a second; pages without websockets poll the same snapshot.
"""

import logging
from datetime import UTC, datetime, time, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db.models import Count, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from personalize.events.models import Event, Order
from personalize.shops.models import Shop

log = logging.getLogger(__name__)

MINUTES = 30
LATEST = 10
WATCH_SECONDS = 90  # the consumer refreshes the flag every TICK_SECONDS
TICK_SECONDS = 15


def group_name(shop_id: int) -> str:
    return f"live.shop.{shop_id}"


def watch_key(shop_id: int) -> str:
    return f"live:watch:{shop_id}"


def watch(shop_id: int) -> None:
    cache.set(watch_key(shop_id), 1, timeout=WATCH_SECONDS)


def snapshot(*, shop: Shop, now: datetime | None = None) -> dict:
    """What the live card shows; five small indexed queries, however many events the shop has."""
    now = now or timezone.now()
    since = now - timedelta(minutes=MINUTES)
    events = Event.objects.for_shop(shop)
    per_minute = [0] * MINUTES
    start = since.replace(second=0, microsecond=0) + timedelta(minutes=1)
    counted = (
        events.filter(ts__gte=start, ts__lte=now)
        .annotate(minute=TruncMinute("ts"))
        .values_list("minute")
        .annotate(n=Count("id"))
        .order_by()
    )
    for minute, n in counted:  # the database groups: a busy shop's rows never leave it
        per_minute[min(MINUTES - 1, max(0, int((minute - start).total_seconds() // 60)))] += n
    latest = [
        {
            "type": e["type"],
            "ts": e["ts"].isoformat(),
            "visitor": e["visitor_id"][:8],
            "product_id": e["product_id"],
            "revenue": f"{e['revenue']:.2f}" if e["revenue"] is not None else None,
        }
        for e in events.order_by("-ts", "-id").values("type", "ts", "visitor_id", "product_id", "revenue")[
            :LATEST
        ]
    ]
    midnight = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    today = (
        Order.objects.for_shop(shop).filter(ts__gte=midnight).aggregate(n=Count("id"), revenue=Sum("revenue"))
    )
    return {
        "installed": bool(latest),
        # the last 60 s, not the clock's current minute (which has barely begun at hh:mm:01)
        "events_last_minute": events.filter(ts__gt=now - timedelta(minutes=1), ts__lte=now).count(),
        "per_minute": per_minute,
        "latest": latest,
        "orders_today": today["n"],
        "revenue_today": f"{today['revenue'] or 0:.2f}",
        "currency": shop.currency,
        "at": now.isoformat(),
    }


def notify_collected(*, shop: Shop, count: int, watched: bool | None = None) -> None:
    """Tell watching dashboards that `count` new events were stored. Never raises: the live feed
    must not fail or slow collect. `watched`: the watch flag, when collect read it already."""
    try:
        if watched is None:
            watched = bool(cache.get(watch_key(shop.id)))
        if not count or not watched:
            return
        async_to_sync(get_channel_layer().group_send)(
            group_name(shop.id), {"type": "feed.events", "count": count}
        )
    except Exception:  # noqa: BLE001 (collect goes on whatever the channel layer does)
        log.warning("live feed notification failed for shop %s", shop.id, exc_info=True)
