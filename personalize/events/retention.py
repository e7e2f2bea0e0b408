"""How long a shop keeps what shoppers did: the events, the visitor profiles and the analytics
days made from them. Orders (the merchant's sales) and the dashboard's daily totals stay, so
revenue figures hold; a model trained on deleted events is replaced by the next training.

Deletion runs in chunks, each its own short transaction, so a first run over years of history
never holds a lock on millions of rows or one huge transaction.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from personalize.analytics.models import RangeStats, VisitorDay
from personalize.events.models import Event, Visitor
from personalize.shops.models import Shop

CHUNK = 10_000


@dataclass(frozen=True)
class Cutoff:
    """Events before `moment` go; analytics days before `first_kept_day` (the first whose events
    are all still there) lose their per-visitor rows and are never rebuilt again."""

    moment: datetime
    first_kept_day: date


def cutoff(shop: Shop, now: datetime | None = None) -> Cutoff | None:
    """None when the shop keeps everything."""
    if not shop.event_retention_days:
        return None
    moment = (now or timezone.now()) - timedelta(days=shop.event_retention_days)
    return Cutoff(moment=moment, first_kept_day=moment.date() + timedelta(days=1))


def apply_retention(*, shop: Shop, now: datetime | None = None, chunk: int = CHUNK) -> dict:
    """Delete what the shop's retention period no longer covers; returns what went."""
    limit = cutoff(shop, now)
    if limit is None:
        return {"events_deleted": 0, "visitors_deleted": 0, "analytics_days_deleted": 0}
    events = Event.objects.for_shop(shop).filter(ts__lt=limit.moment)  # along the (shop, ts) index
    visitors = Visitor.objects.for_shop(shop).filter(last_seen__lt=limit.moment)
    days = VisitorDay.objects.for_shop(shop).filter(day__lt=limit.first_kept_day)
    gone = {
        "events_deleted": _delete_in_chunks(events, chunk),
        "visitors_deleted": _delete_in_chunks(visitors, chunk),
        "analytics_days_deleted": _delete_in_chunks(days, chunk),
    }
    if gone["analytics_days_deleted"]:  # snapshots of ranges reaching back there summed them in
        RangeStats.objects.for_shop(shop).filter(start__lt=limit.first_kept_day).delete()
    return gone


def _delete_in_chunks(rows, chunk: int) -> int:
    deleted = 0
    while ids := list(rows.values_list("id", flat=True)[:chunk]):
        deleted += rows.filter(id__in=ids).delete()[0]
    return deleted
