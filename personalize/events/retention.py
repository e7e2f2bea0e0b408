"""How long a shop keeps what shoppers did: the events, the visitor profiles and the analytics
days made from them. Orders (the merchant's sales) and the dashboard's daily totals stay, so
revenue figures hold; a model trained on deleted events is replaced by the next training.

Deletion runs in chunks, each its own short transaction, so a first run over years of history
never holds a lock on millions of rows or one huge transaction.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
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
    events = 0
    old_events = Event.objects.for_shop(shop).filter(ts__lt=limit.moment)  # the (shop, ts) index
    while ids := list(old_events.values_list("id", flat=True)[:chunk]):
        events += Event.objects.for_shop(shop).filter(id__in=ids).delete()[0]
    visitors, _ = Visitor.objects.for_shop(shop).filter(last_seen__lt=limit.moment).delete()
    with transaction.atomic():
        days, _ = VisitorDay.objects.for_shop(shop).filter(day__lt=limit.first_kept_day).delete()
        if days:  # snapshots of ranges reaching back there summed the deleted rows in
            RangeStats.objects.for_shop(shop).filter(start__lt=limit.first_kept_day).delete()
    return {"events_deleted": events, "visitors_deleted": visitors, "analytics_days_deleted": days}
