"""The overview computed straight from the raw events and orders over the whole range, in one pass and
without the rollups, to check them against. Written independently of personalize.analytics.rollups:
per-visitor totals over the range, order by order, and scipy's own Welch test."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from scipy import stats

from personalize.analytics.attribution import Line, attribute_order, click_from_event
from personalize.analytics.rollups import day_bounds
from personalize.events.models import Event, Order
from personalize.recommend.rules import is_holdout


def direct_overview(shop, start: date, end: date, share: float) -> dict:
    since, _ = day_bounds(start)
    _, until = day_bounds(end)
    window = timedelta(hours=shop.attribution_window_hours)
    events = list(Event.objects.for_shop(shop).filter(ts__gte=since, ts__lt=until))
    orders = list(Order.objects.for_shop(shop).filter(ts__gte=since, ts__lt=until).prefetch_related("lines"))

    sources = defaultdict(lambda: {"impressions": 0, "clicks": 0, "orders": set(), "revenue": Decimal(0)})
    for e in events:
        widget = (e.properties or {}).get("widget") or "unknown"
        if e.type in ("rec_impression", "rec_click"):
            sources[("widget", widget)]["impressions" if e.type == "rec_impression" else "clicks"] += 1
        elif e.type in ("campaign_impression", "campaign_click"):
            sources[("campaign", e.campaign_id)][
                "impressions" if e.type == "campaign_impression" else "clicks"
            ] += 1

    attributed = Decimal(0)
    attributed_orders = 0
    for order in orders:
        clicks = (
            [
                click_from_event(
                    type=e.type,
                    ts=e.ts,
                    product_id=e.product_id,
                    campaign_id=e.campaign_id,
                    widget=(e.properties or {}).get("widget"),
                )
                for e in Event.objects.for_shop(shop)
                .filter(
                    visitor_id=order.visitor_id, type__in=["rec_click", "campaign_click"], ts__lte=order.ts
                )
                .order_by("ts", "id")
            ]
            if order.visitor_id
            else []
        )
        lines = [Line(li.product_id, (li.price or 0) * li.quantity) for li in order.lines.all()]
        credited = attribute_order(ts=order.ts, lines=lines, clicks=clicks, window=window)
        hit = [(line, c) for line, c in zip(lines, credited, strict=True) if c]
        for line, c in hit:
            sources[(c.kind, c.key)]["orders"].add(order.order_id)
            sources[(c.kind, c.key)]["revenue"] += line.value
            attributed += line.value
        attributed_orders += bool(hit)

    per_visitor = defaultdict(lambda: [0, 0.0])  # orders, revenue over the whole range
    for e in events:
        per_visitor[e.visitor_id]
    order_values = {True: [], False: []}
    for order in orders:
        if order.visitor_id:
            per_visitor[order.visitor_id][0] += 1
            per_visitor[order.visitor_id][1] += float(order.revenue)
            order_values[is_holdout(shop_id=shop.id, visitor_id=order.visitor_id, share=share)].append(
                float(order.revenue)
            )
    groups = {True: [], False: []}
    for visitor_id, (n_orders, revenue) in per_visitor.items():
        groups[is_holdout(shop_id=shop.id, visitor_id=visitor_id, share=share)].append((n_orders, revenue))

    def summary(rows):
        revenue = np.array([r for _, r in rows])
        return {
            "visitors": len(rows),
            "buyers": sum(1 for n, _ in rows if n),
            "orders": sum(n for n, _ in rows),
            "revenue_per_visitor": revenue.mean() if len(rows) else None,
        }

    a, b = np.array([r for _, r in groups[False]]), np.array([r for _, r in groups[True]])
    ci = (
        stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
        if len(a) > 1 and len(b) > 1
        else None
    )
    oa, ob = np.array(order_values[False]), np.array(order_values[True])
    aov_ci = (
        stats.ttest_ind(oa, ob, equal_var=False).confidence_interval(0.95)
        if len(oa) > 1 and len(ob) > 1
        else None
    )
    return {
        "events": len(events),
        "visitors": len(per_visitor),
        "orders": len(orders),
        "revenue": sum((o.revenue for o in orders), Decimal(0)),
        "attributed_revenue": attributed,
        "attributed_orders": attributed_orders,
        "sources": {
            key: {
                "impressions": s["impressions"],
                "clicks": s["clicks"],
                "conversions": len(s["orders"]),
                "attributed_revenue": s["revenue"],
            }
            for key, s in sources.items()
        },
        "personalized": summary(groups[False]),
        "holdout": summary(groups[True]),
        "per_visitor_ci": (float(ci.low), float(ci.high)) if ci else None,
        "aov_ci": (float(aov_ci.low), float(aov_ci.high)) if aov_ci else None,
    }
