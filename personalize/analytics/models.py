"""Daily rollups of a shop's events and orders: what the ROI page reads instead of the raw tables.

Days are UTC dates. Every row is rebuilt from the raw events by `rollups.rebuild_days`, so a rollup
is never edited in place and a rebuild is always safe to repeat.
"""

from django.db import models

from personalize.shops.models import ShopOwned


class DayTotals(ShopOwned):
    """The shop's whole day: traffic, orders, revenue, and how much of it was attributed."""

    day = models.DateField()
    events = models.PositiveIntegerField(default=0)
    visitors = models.PositiveIntegerField(default=0, help_text="Distinct visitors with an event or order.")
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    attributed_orders = models.PositiveIntegerField(default=0, help_text="Orders with an attributed line.")
    attributed_revenue = models.DecimalField(max_digits=18, decimal_places=4, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="daytotals_unique_day")]


class SourceDay(ShopOwned):
    """One widget (by type), one campaign, or one A/B variant of a campaign on one day: exposure,
    clicks and what they earned. A campaign's variant rows split its campaign row (every campaign
    has them, "A" alone when it is not A/B tested); the campaign row is the total."""

    WIDGET, CAMPAIGN, VARIANT = "widget", "campaign", "variant"
    KINDS = [(WIDGET, "widget"), (CAMPAIGN, "campaign"), (VARIANT, "campaign variant")]

    day = models.DateField()
    kind = models.CharField(max_length=8, choices=KINDS)
    key = models.CharField(max_length=64, help_text="The widget type, or the campaign id.")
    variant = models.CharField(
        max_length=2, blank=True, default="", help_text='The variant key ("A" the original), on variant rows.'
    )
    impressions = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0, help_text="Orders with a line attributed here.")
    attributed_revenue = models.DecimalField(max_digits=18, decimal_places=4, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "day", "kind", "key", "variant"], name="sourceday_unique_key_variant"
            )
        ]


class VisitorDay(ShopOwned):
    """One visitor's day. Revenue per visitor over a range needs each visitor's total over the range
    (a visitor who spans days is one observation, not several), which per-group daily sums cannot
    give; these rows can, with one GROUP BY visitor_id at read time."""

    day = models.DateField()
    visitor_id = models.CharField(max_length=64)
    bucket = models.FloatField(help_text="recommend.rules.holdout_bucket: below the share = hold-out.")
    events = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    order_revenue_sq = models.FloatField(default=0, help_text="Sum of squared order revenues (for AOV).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "day", "visitor_id"], name="visitorday_unique_visitor")
        ]


class RangeStats(ShopOwned):
    """The per-group visitor sums of one date range (the ranges the overview offers, ending today),
    computed from VisitorDay right after beat rebuilds today. Rebuilding any day of the range deletes
    the row, and a row made with another hold-out share is ignored, so it is never stale."""

    start = models.DateField()
    end = models.DateField()
    holdout_share = models.FloatField()
    # {"0": personalized, "1": hold-out}: [visitors, buyers, orders, revenue, revenue_sq, order_revenue_sq]
    groups = models.JSONField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "start", "end"], name="rangestats_unique_range")
        ]
