"""The ROI overview of a date range, read from the daily rollups only (never the raw events)."""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from personalize.analytics.attribution import CAMPAIGN, WIDGET
from personalize.analytics.models import DayTotals, RangeStats, SourceDay, VisitorDay
from personalize.analytics.rollups import days_between
from personalize.analytics.stats import Interval, Moments, newcombe_interval, welch_interval
from personalize.campaigns.models import Campaign
from personalize.campaigns.variants import ORIGINAL
from personalize.recommend.models import RecommenderConfig
from personalize.shops.models import Shop

ZERO = Decimal(0)
# The overview's quick ranges (days ending today); beat snapshots their hold-out sums.
PRESET_DAYS = (7, 30, 90)
NOT_SIGNIFICANT = "Not significant yet: the difference could still be zero. Keep collecting data."


@dataclass(frozen=True)
class Group:
    """Personalized or hold-out visitors over the range."""

    visitors: int
    buyers: int
    orders: int
    revenue: float
    per_visitor: Moments  # revenue per visitor, non-buyers as zeros
    per_order: Moments  # revenue per order

    @property
    def conversion_rate(self) -> float | None:
        return self.buyers / self.visitors if self.visitors else None

    @property
    def aov(self) -> float | None:
        return self.per_order.mean

    @property
    def revenue_per_visitor(self) -> float | None:
        return self.per_visitor.mean


@dataclass(frozen=True)
class Uplift:
    holdout_share: float
    personalized: Group
    holdout: Group
    conversion: Interval | None
    aov: Interval | None
    per_visitor: Interval | None

    @property
    def incremental_revenue(self) -> Interval | None:
        """Uplift in revenue per visitor x personalized visitors, with the same interval scaled."""
        if self.per_visitor is None:
            return None
        n = self.personalized.visitors
        return Interval(self.per_visitor.difference * n, self.per_visitor.low * n, self.per_visitor.high * n)

    @property
    def verdict(self) -> str:
        if self.holdout_share <= 0:
            return "No hold-out group: set a hold-out share in the shop's settings to measure incremental revenue."
        ci = self.per_visitor
        if ci is None:
            return "Not enough data yet: each group needs at least two visitors."
        if ci.low > 0:
            return "Personalization earns more per visitor than the hold-out group (significant at 95%)."
        if ci.high < 0:
            return (
                "The hold-out group earns more per visitor than personalized visitors (significant at 95%)."
            )
        return NOT_SIGNIFICANT

    @property
    def significant(self) -> bool:
        return self.per_visitor is not None and self.per_visitor.significant


def holdout_share_of(shop: Shop) -> float:
    config = RecommenderConfig.objects.filter(shop=shop).first()
    return config.holdout_share if config else RecommenderConfig._meta.get_field("holdout_share").default


def overview(*, shop: Shop, start: date, end: date, with_uplift: bool = True) -> dict:
    """Everything the overview page shows for [start, end] (both included); `with_uplift=False`
    skips the hold-out comparison (and the distinct visitor count that comes with it)."""
    in_range = {"day__gte": start, "day__lte": end}
    by_day = {row.day: row for row in DayTotals.objects.for_shop(shop).filter(**in_range)}
    days = []
    for day in days_between(start, end):
        row = by_day.get(day)
        days.append(
            {
                "day": day,
                "events": row.events if row else 0,
                "visitors": row.visitors if row else 0,
                "orders": row.orders if row else 0,
                "revenue": row.revenue if row else ZERO,
                "attributed_orders": row.attributed_orders if row else 0,
                "attributed_revenue": row.attributed_revenue if row else ZERO,
            }
        )
    revenue = sum((d["revenue"] for d in days), ZERO)
    attributed = sum((d["attributed_revenue"] for d in days), ZERO)
    uplift = uplift_between(shop=shop, start=start, end=end) if with_uplift else None
    return {
        "start": start,
        "end": end,
        "days": days,
        "totals": {
            "events": sum(d["events"] for d in days),
            "visitors": uplift.personalized.visitors + uplift.holdout.visitors if uplift else None,
            "orders": sum(d["orders"] for d in days),
            "revenue": revenue,
            "attributed_orders": sum(d["attributed_orders"] for d in days),
            "attributed_revenue": attributed,
            "attributed_share": float(attributed / revenue) if revenue else None,
        },
        "widgets": _sources(shop, WIDGET, in_range, revenue),
        "campaigns": _sources(shop, CAMPAIGN, in_range, revenue),
        "uplift": uplift,
    }


def _sources(shop: Shop, kind: str, in_range: dict, revenue: Decimal) -> list[dict]:
    """Per widget or campaign over the range; a campaign's row lists its A/B variants' rows (none
    unless a variant other than the original was seen in the range)."""
    # a campaign's variant rows come in the same query (the page's query count is bounded)
    kinds = [kind, SourceDay.VARIANT] if kind == CAMPAIGN else [kind]
    summed = SourceDay.objects.for_shop(shop).filter(kind__in=kinds, **in_range)
    rows, variant_rows = [], []
    for r in _summed(summed, "kind", "key", "variant"):
        (rows if r["kind"] == kind else variant_rows).append(r)
    names, variants = {}, {}
    if kind == CAMPAIGN:
        ids = [int(r["key"]) for r in rows if r["key"].isdigit()]
        names = {
            str(pk): name
            for pk, name in Campaign.objects.for_shop(shop).filter(id__in=ids).values_list("id", "name")
        }
        variants = _variants(variant_rows, revenue)
    out = []
    for r in rows:
        row = _source_row(
            r, names.get(r["key"], r["key"] if kind == WIDGET else f"campaign {r['key']}"), revenue
        )
        if kind == CAMPAIGN:
            row["variant"] = ""
            row["variants"] = [v | {"name": row["name"]} for v in variants.get(r["key"], [])]
        out.append(row)
    return sorted(out, key=lambda r: (-r["attributed_revenue"], -r["clicks"], r["key"]))


def _summed(rows, *by: str):
    return (
        rows.values(*by)
        .annotate(
            impressions=Sum("impressions"),
            clicks=Sum("clicks"),
            conversions=Sum("conversions"),
            attributed_revenue=Sum("attributed_revenue"),
        )
        .order_by(*by)
    )


def _source_row(r: dict, name: str, revenue: Decimal) -> dict:
    return {
        "key": r["key"],
        "name": name,
        "impressions": r["impressions"],
        "clicks": r["clicks"],
        "ctr": r["clicks"] / r["impressions"] if r["impressions"] else None,
        "conversions": r["conversions"],
        "conversion_rate": r["conversions"] / r["impressions"] if r["impressions"] else None,
        "attributed_revenue": r["attributed_revenue"],
        "revenue_share": float(r["attributed_revenue"] / revenue) if revenue else None,
    }


def _variants(rows: list[dict], revenue: Decimal) -> dict[str, list[dict]]:
    """{campaign id: its variants' rows, A first} for the campaigns A/B tested in the range; each
    variant but A is compared with A on click-through rate."""
    by_campaign = defaultdict(list)
    for r in rows:
        by_campaign[r["key"]].append(_source_row(r, "", revenue) | {"variant": r["variant"]})
    out = {}
    for key, variants in by_campaign.items():
        if all(v["variant"] == ORIGINAL for v in variants):
            continue  # not A/B tested: its one row would repeat the campaign's
        original = next((v for v in variants if v["variant"] == ORIGINAL), None)
        for v in variants:
            v["original"] = v is original
            v["ctr_vs_original"] = None if v is original else ctr_against(v, original)
            v["verdict"] = "" if v is original else ctr_verdict(v["ctr_vs_original"])
        out[key] = variants
    return out


def ctr_against(variant: dict, original: dict | None) -> Interval | None:
    """The variant's CTR minus the original's, with Newcombe's hybrid score interval (95%); None
    when either has no impressions, or more clicks than impressions (lost impression events)."""
    if original is None:
        return None
    pairs = [(variant["clicks"], variant["impressions"]), (original["clicks"], original["impressions"])]
    if any(n == 0 or x > n for x, n in pairs):
        return None
    return newcombe_interval(
        variant["clicks"], variant["impressions"], original["clicks"], original["impressions"]
    )


def ctr_verdict(ci: Interval | None) -> str:
    if ci is None:
        return "Not enough data yet: this variant and A each need impressions."
    if ci.low > 0:
        return "Clicked more often than A (significant at 95%)."
    if ci.high < 0:
        return "Clicked less often than A (significant at 95%)."
    return NOT_SIGNIFICANT


def uplift_between(*, shop: Shop, start: date, end: date) -> Uplift:
    """Personalized against hold-out visitors over the range: each visitor's total over the range is
    one observation. Read from the range's snapshot when beat made one, else summed from VisitorDay."""
    share = holdout_share_of(shop)
    sums = stored_group_sums(shop=shop, start=start, end=end, share=share)
    if sums is None:
        sums = group_sums(shop=shop, start=start, end=end, share=share)
    groups = {}
    for key, (n, buyers, orders, revenue, revenue_sq, order_sq) in sums.items():
        groups[key] = Group(
            visitors=n,
            buyers=buyers,
            orders=orders,
            revenue=revenue,
            per_visitor=Moments(n, revenue, revenue_sq),
            per_order=Moments(orders, revenue, order_sq),
        )
    a, b = groups[0], groups[1]
    return Uplift(
        holdout_share=share,
        personalized=a,
        holdout=b,
        conversion=newcombe_interval(a.buyers, a.visitors, b.buyers, b.visitors),
        aov=welch_interval(a.per_order, b.per_order),
        per_visitor=welch_interval(a.per_visitor, b.per_visitor),
    )


GroupSums = dict[int, tuple[int, int, int, float, float, float]]


def group_sums(*, shop: Shop, start: date, end: date, share: float) -> GroupSums:
    """{0: personalized, 1: hold-out}: (visitors, buyers, orders, revenue, Σ revenue², Σ order revenue²),
    one row per visitor (their total over the range) summed in the database."""
    table = connection.ops.quote_name(VisitorDay._meta.db_table)
    # Scoped to one shop by shop_id; each visitor's bucket is the same on every row of theirs.
    sql = f"""
        SELECT CASE WHEN v.bucket < %s THEN 1 ELSE 0 END AS holdout,
               COUNT(*), SUM(CASE WHEN v.orders > 0 THEN 1 ELSE 0 END), SUM(v.orders),
               SUM(v.revenue), SUM(v.revenue * v.revenue), SUM(v.order_revenue_sq)
        FROM (SELECT visitor_id, MAX(bucket) AS bucket, SUM(orders) AS orders,
                     SUM(revenue) AS revenue, SUM(order_revenue_sq) AS order_revenue_sq
              FROM {table} WHERE shop_id = %s AND day >= %s AND day <= %s
              GROUP BY visitor_id) v
        GROUP BY 1
    """
    sums: GroupSums = {0: (0, 0, 0, 0.0, 0.0, 0.0), 1: (0, 0, 0, 0.0, 0.0, 0.0)}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # a 90-day range groups a few hundred thousand rows: hash them in memory, not on disk
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, [share, shop.id, start, end])
        for holdout, n, buyers, orders, revenue, revenue_sq, order_sq in cursor.fetchall():
            sums[holdout] = (
                n,
                int(buyers or 0),
                int(orders or 0),
                float(revenue or 0),
                float(revenue_sq or 0),
                float(order_sq or 0),
            )
    return sums


def stored_group_sums(*, shop: Shop, start: date, end: date, share: float) -> GroupSums | None:
    row = RangeStats.objects.for_shop(shop).filter(start=start, end=end, holdout_share=share).first()
    return {int(k): tuple(v) for k, v in row.groups.items()} if row else None


def store_preset_ranges(*, shop: Shop, today: date) -> None:
    """Snapshot the group sums of the ranges the overview offers (the last 7, 30 and 90 days)."""
    share = holdout_share_of(shop)
    RangeStats.objects.for_shop(shop).filter(end__lt=today).delete()
    for days in PRESET_DAYS:
        start = today - timedelta(days=days - 1)
        sums = group_sums(shop=shop, start=start, end=today, share=share)
        RangeStats.objects.update_or_create(
            shop=shop,
            start=start,
            end=today,
            defaults={"holdout_share": share, "groups": {str(k): list(v) for k, v in sums.items()}},
        )


# The campaigns CSV's further columns: the variant ("" on a campaign's total row) and, on a variant's
# row but A's, its click-through rate minus A's with the 95% interval (Newcombe hybrid score).
CAMPAIGN_COLUMNS = [
    "variant",
    "conversions_per_impression",
    "ctr_minus_a",
    "ctr_minus_a_ci_low",
    "ctr_minus_a_ci_high",
]


def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, Decimal):
        return f"{value:.2f}"  # money: the same text whatever the database summed it as
    return str(value)


def export_csv(*, shop: Shop, report: dict, table: str) -> str:
    """One table of the overview as CSV: days, widgets, campaigns or uplift."""
    out = io.StringIO()
    writer = csv.writer(out)
    if table == "days":
        columns = [
            "day",
            "visitors",
            "events",
            "orders",
            "revenue",
            "attributed_orders",
            "attributed_revenue",
        ]
        writer.writerow(columns)
        for row in report["days"]:
            writer.writerow([_num(row[c]) for c in columns])
    elif table in ("widgets", "campaigns"):
        columns = [
            "key",
            "name",
            "impressions",
            "clicks",
            "ctr",
            "conversions",
            "attributed_revenue",
            "revenue_share",
        ]
        if table == "campaigns":
            columns += CAMPAIGN_COLUMNS
        writer.writerow(columns)
        for row in report[table]:
            # a campaign's total row (an empty variant), then its A/B variants' rows
            for r in [row, *row.get("variants", [])]:
                ci = r.get("ctr_vs_original")
                extra = {
                    "conversions_per_impression": r.get("conversion_rate"),
                    "ctr_minus_a": ci.difference if ci else None,
                    "ctr_minus_a_ci_low": ci.low if ci else None,
                    "ctr_minus_a_ci_high": ci.high if ci else None,
                }
                writer.writerow([_safe(_num(extra[c] if c in extra else r[c])) for c in columns])
    else:
        u: Uplift = report["uplift"]
        writer.writerow(["metric", "personalized", "holdout", "difference", "ci_low", "ci_high", "method"])
        rows = [
            ("visitors", u.personalized.visitors, u.holdout.visitors, None, "count"),
            (
                "conversion_rate",
                u.personalized.conversion_rate,
                u.holdout.conversion_rate,
                u.conversion,
                "Newcombe hybrid score 95%",
            ),
            ("aov", u.personalized.aov, u.holdout.aov, u.aov, "Welch t 95% (orders)"),
            (
                "revenue_per_visitor",
                u.personalized.revenue_per_visitor,
                u.holdout.revenue_per_visitor,
                u.per_visitor,
                "Welch t 95% (visitors, non-buyers as 0)",
            ),
            (
                "incremental_revenue",
                None,
                None,
                u.incremental_revenue,
                "uplift per visitor x personalized visitors",
            ),
        ]
        for name, a, b, ci, method in rows:
            writer.writerow(
                [name, _num(a), _num(b)]
                + ([_num(ci.difference), _num(ci.low), _num(ci.high)] if ci else ["", "", ""])
                + [method]
            )
    return out.getvalue()


def _safe(cell: str) -> str:
    """Campaign names are merchant text: keep spreadsheets from running them as formulas."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") and not _is_number(cell) else cell


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
