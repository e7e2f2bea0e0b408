"""Rebuilding the daily rollups from the raw events and orders.

A day is rebuilt whole (delete its rows, insert fresh ones, in one transaction), so rebuilding is
idempotent and a late event only needs its day rebuilt. Celery beat rebuilds today and yesterday
every few minutes (`tasks.refresh_recent_rollups`); `manage.py rebuild_analytics` rebuilds any range
(after a history import, or a change of the attribution window, which applies to the days rebuilt).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count
from django.db.models.fields.json import KT

from personalize.analytics.attribution import (
    CAMPAIGN,
    UNKNOWN_WIDGET,
    WIDGET,
    Click,
    Line,
    attribute_order,
    click_from_event,
    variant_key,
)
from personalize.analytics.models import DayTotals, RangeStats, SourceDay, VisitorDay
from personalize.events import retention
from personalize.events.models import Event, Order, OrderLine
from personalize.recommend.rules import holdout_bucket
from personalize.shops.models import Shop

VARIANT = SourceDay.VARIANT
SOURCE_EVENTS = {
    "rec_impression": (WIDGET, "impressions"),
    "rec_click": (WIDGET, "clicks"),
    "campaign_impression": (CAMPAIGN, "impressions"),
    "campaign_click": (CAMPAIGN, "clicks"),
}
CLICKS = ("rec_click", "campaign_click")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@dataclass
class _Visitor:
    events: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)
    order_revenue_sq: float = 0.0


@dataclass
class _Source:
    impressions: int = 0
    clicks: int = 0
    orders: set = field(default_factory=set)
    revenue: Decimal = Decimal(0)


def rebuild_days(*, shop: Shop, days: Iterable[date]) -> int:
    """Rebuild the rollups of each day; returns how many days were rebuilt. Days whose events the
    shop's retention deleted keep the totals they had: rebuilt, they would count nothing."""
    limit = retention.cutoff(shop)
    done = 0
    for day in days:
        if limit is not None and day < limit.first_kept_day:
            continue
        totals, sources, visitors = compute_day(shop=shop, day=day)
        with transaction.atomic():
            for model in (DayTotals, SourceDay, VisitorDay):
                model.objects.for_shop(shop).filter(day=day).delete()
            # a range snapshot that covers this day would now be stale
            RangeStats.objects.for_shop(shop).filter(start__lte=day, end__gte=day).delete()
            if totals.events or totals.orders:
                totals.save()
                SourceDay.objects.bulk_create(sources)
                VisitorDay.objects.bulk_create(visitors, batch_size=5000)
        done += 1
    return done


def compute_day(*, shop: Shop, day: date) -> tuple[DayTotals, list[SourceDay], list[VisitorDay]]:
    """The rollup rows of one UTC day, from the raw events and orders (nothing is written)."""
    start, end = day_bounds(day)
    window = timedelta(hours=shop.attribution_window_hours)
    events = Event.objects.for_shop(shop).filter(ts__gte=start, ts__lt=end)

    visitors: dict[str, _Visitor] = defaultdict(_Visitor)
    for visitor_id, n in events.values_list("visitor_id").annotate(n=Count("id")).order_by():
        visitors[visitor_id].events = n

    # (kind, key, variant): a campaign's events count in its campaign row and in its variant's row
    sources: dict[tuple[str, str, str], _Source] = defaultdict(_Source)
    rows = (
        events.filter(type__in=list(SOURCE_EVENTS))
        .values_list("type", "campaign_id", KT("properties__widget"), KT("properties__variant"))
        .annotate(n=Count("id"))
        .order_by()
    )
    for type_, campaign_id, widget, variant, n in rows:
        kind, counter = SOURCE_EVENTS[type_]
        if kind == WIDGET:
            keys = [(WIDGET, (widget or UNKNOWN_WIDGET)[:64], "")]
        else:
            keys = [(CAMPAIGN, campaign_id[:64], ""), (VARIANT, campaign_id[:64], variant_key(variant))]
        for key in keys:
            setattr(sources[key], counter, getattr(sources[key], counter) + n)

    orders = list(
        Order.objects.for_shop(shop)
        .filter(ts__gte=start, ts__lt=end)
        .values_list("id", "visitor_id", "revenue", "ts")
    )
    lines: dict[int, list[Line]] = defaultdict(list)
    for order_pk, product_id, quantity, price in (
        OrderLine.objects.for_shop(shop)
        .filter(order__ts__gte=start, order__ts__lt=end, order__shop=shop)
        .values_list("order_id", "product_id", "quantity", "price")
    ):
        lines[order_pk].append(Line(product_id, (price or Decimal(0)) * (quantity or 0)))
    clicks = _clicks_by_visitor(shop, {v for _, v, _, _ in orders if v}, start - window, end)

    revenue = attributed_revenue = Decimal(0)
    attributed_orders = 0
    for order_pk, visitor_id, order_revenue, ts in orders:
        revenue += order_revenue
        if visitor_id:
            visitor = visitors[visitor_id]
            visitor.orders += 1
            visitor.revenue += order_revenue
            visitor.order_revenue_sq += float(order_revenue) ** 2
        order_lines = lines.get(order_pk, [])
        credited = attribute_order(ts=ts, lines=order_lines, clicks=clicks.get(visitor_id, []), window=window)
        earned = False
        for line, click in zip(order_lines, credited, strict=True):
            if click is None:
                continue
            earned = True
            keys = [(click.kind, click.key, "")]
            if click.kind == CAMPAIGN:
                keys.append((VARIANT, click.key, click.variant))
            for key in keys:
                sources[key].orders.add(order_pk)
                sources[key].revenue += line.value
            attributed_revenue += line.value
        attributed_orders += earned

    totals = DayTotals(
        shop=shop,
        day=day,
        events=sum(v.events for v in visitors.values()),
        visitors=len(visitors),
        orders=len(orders),
        revenue=revenue,
        attributed_orders=attributed_orders,
        attributed_revenue=attributed_revenue,
    )
    source_rows = [
        SourceDay(
            shop=shop,
            day=day,
            kind=kind,
            key=key,
            variant=variant,
            impressions=s.impressions,
            clicks=s.clicks,
            conversions=len(s.orders),
            attributed_revenue=s.revenue,
        )
        for (kind, key, variant), s in sorted(sources.items())
    ]
    visitor_rows = [
        VisitorDay(
            shop=shop,
            day=day,
            visitor_id=visitor_id,
            bucket=holdout_bucket(shop.id, visitor_id),
            events=v.events,
            orders=v.orders,
            revenue=v.revenue,
            order_revenue_sq=v.order_revenue_sq,
        )
        for visitor_id, v in sorted(visitors.items())
    ]
    return totals, source_rows, visitor_rows


def _clicks_by_visitor(
    shop: Shop, visitor_ids: set[str], since: datetime, until: datetime
) -> dict[str, list[Click]]:
    """The buyers' widget and campaign clicks in [since, until), each visitor's sorted by time."""
    if not visitor_ids:
        return {}
    out: dict[str, list[Click]] = defaultdict(list)
    rows = (
        Event.objects.for_shop(shop)
        .filter(ts__gte=since, ts__lt=until, type__in=CLICKS)
        .values_list(
            "visitor_id",
            "type",
            "ts",
            "product_id",
            "campaign_id",
            KT("properties__widget"),
            KT("properties__variant"),
        )
        .order_by("ts", "id")
    )
    for visitor_id, type_, ts, product_id, campaign_id, widget, variant in rows.iterator(chunk_size=5000):
        if visitor_id in visitor_ids:
            out[visitor_id].append(
                click_from_event(
                    type=type_,
                    ts=ts,
                    product_id=product_id,
                    campaign_id=campaign_id,
                    widget=widget,
                    variant=variant,
                )
            )
    return out
