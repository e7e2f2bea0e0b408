"""The rollups equal a direct computation on the raw events, and the Celery task and command keep them."""

import json
import random
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from personalize.analytics.models import DayTotals, RangeStats, SourceDay, VisitorDay
from personalize.analytics.report import group_sums, overview, stored_group_sums
from personalize.analytics.rollups import rebuild_days
from personalize.analytics.tasks import refresh_recent_rollups
from personalize.events.services import OrderIn, record_events, record_orders
from tests.analytics.conftest import (
    T0,
    click,
    ev,
    impression,
    purchase,
    rebuild,
    send,
    set_holdout_share,
    visitor_id,
)
from tests.analytics.direct import direct_overview
from tests.factories import make_event

WIDGETS = ["for_you", "similar", "cart", "trending"]


def random_shop_history(shop, seed: int) -> None:
    """Four days of 150 visitors who browse, see and click widgets and campaigns, and buy; many span
    midnight, so per-visitor totals differ from per-day ones."""
    rng = random.Random(seed)
    events = []
    for _ in range(150):
        visitor = visitor_id(rng)
        t = T0 - timedelta(days=2, hours=rng.uniform(0, 12))
        for _ in range(rng.randint(1, 12)):
            t += timedelta(minutes=rng.expovariate(1 / 240))
            product = f"p{rng.randint(1, 15)}"
            roll = rng.random()
            if roll < 0.3:
                events.append(ev("product_view", visitor, t, product_id=product))
            elif roll < 0.5:
                events.append(impression(visitor, t, rng.choice(WIDGETS)))
            elif roll < 0.65:
                events.append(click(visitor, t, product, rng.choice(WIDGETS)))
            elif roll < 0.72:
                events.append(ev("campaign_impression", visitor, t, campaign_id=rng.choice(["1", "2"])))
            elif roll < 0.77:
                fields = {"product_id": product} if rng.random() < 0.5 else {}
                events.append(ev("campaign_click", visitor, t, campaign_id=rng.choice(["1", "2"]), **fields))
            else:
                items = [(f"p{rng.randint(1, 15)}", rng.randint(1, 3), rng.choice([4.5, 10.0, 19.99]))]
                if rng.random() < 0.5:
                    items.append((product, 1, 25.0))
                events.append(purchase(visitor, t, items))
    send(shop, events)
    # an order from the orders API with a customer id only: revenue, but in neither group
    record_orders(
        shop=shop,
        orders=[
            OrderIn(
                "api-1",
                Decimal(3),
                T0,
                [{"product_id": "p1", "quantity": 1, "price": Decimal(3)}],
                customer_id="c1",
            )
        ],
        source="api",
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_a_direct_computation_on_the_raw_events(shop, seed):
    set_holdout_share(shop, 0.3)
    random_shop_history(shop, seed)
    rebuild(shop)
    start, end = (T0 - timedelta(days=2)).date(), (T0 + timedelta(days=2)).date()
    got = overview(shop=shop, start=start, end=end)
    want = direct_overview(shop, start, end, share=0.3)

    assert got["totals"]["events"] == want["events"]
    assert got["totals"]["visitors"] == want["visitors"]
    assert got["totals"]["orders"] == want["orders"] > 20
    assert got["totals"]["revenue"] == want["revenue"]
    assert got["totals"]["attributed_revenue"] == want["attributed_revenue"] > 0
    assert got["totals"]["attributed_orders"] == want["attributed_orders"]
    sources = {
        (kind, r["key"]): {k: r[k] for k in ("impressions", "clicks", "conversions", "attributed_revenue")}
        for kind in ("widget", "campaign")
        for r in got[kind + "s"]
    }
    assert sources == want["sources"]

    u = got["uplift"]
    for name, group in (("personalized", u.personalized), ("holdout", u.holdout)):
        assert group.visitors == want[name]["visitors"] > 10
        assert group.buyers == want[name]["buyers"]
        assert group.orders == want[name]["orders"]
        assert group.revenue_per_visitor == pytest.approx(want[name]["revenue_per_visitor"])
    assert (u.per_visitor.low, u.per_visitor.high) == pytest.approx(want["per_visitor_ci"])
    assert (u.aov.low, u.aov.high) == pytest.approx(want["aov_ci"])


def test_a_sub_range_counts_a_visitor_once_with_their_total(shop):
    set_holdout_share(shop, 0.3)
    random_shop_history(shop, 3)
    rebuild(shop)
    start, end = (T0 - timedelta(days=1)).date(), T0.date()
    got = overview(shop=shop, start=start, end=end)
    want = direct_overview(shop, start, end, share=0.3)
    assert got["totals"]["visitors"] == want["visitors"]
    assert got["totals"]["visitors"] < sum(d["visitors"] for d in got["days"])  # some span both days
    assert got["uplift"].personalized.revenue_per_visitor == pytest.approx(
        want["personalized"]["revenue_per_visitor"]
    )


def test_rebuilding_twice_changes_nothing(shop):
    random_shop_history(shop, 4)
    rebuild(shop)
    first = [list(m.objects.order_by("day", "id").values_list(*fields)) for m, fields in ROLLUP_FIELDS]
    rebuild(shop)
    assert [
        list(m.objects.order_by("day", "id").values_list(*fields)) for m, fields in ROLLUP_FIELDS
    ] == first


ROLLUP_FIELDS = [
    (DayTotals, ("day", "events", "visitors", "orders", "revenue", "attributed_revenue")),
    (SourceDay, ("day", "kind", "key", "impressions", "clicks", "conversions", "attributed_revenue")),
    (VisitorDay, ("day", "visitor_id", "events", "orders", "revenue")),
]


def test_the_beat_task_rolls_up_today_and_yesterday_of_every_shop(shop, other_shop):
    record_events(shop=shop, batch=[make_event("page_view"), make_event("purchase", visitor_id="v-2")])
    record_events(shop=other_shop, batch=[make_event("page_view")])
    assert refresh_recent_rollups.delay() is not None  # inline in unit tests
    mine = DayTotals.objects.for_shop(shop).get()
    assert (mine.events, mine.visitors, mine.orders, mine.revenue) == (2, 2, 1, Decimal("20"))
    assert DayTotals.objects.for_shop(other_shop).get().events == 1
    # the other shop's visitors never land in this shop's rows
    assert set(VisitorDay.objects.for_shop(shop).values_list("visitor_id", flat=True)) == {"v-1", "v-2"}


def test_the_command_rebuilds_a_range_and_reports_it(shop):
    send(shop, [ev("page_view", "a", T0), purchase("a", T0 + timedelta(days=1), [("p1", 1, 5.0)])])
    out = StringIO()
    call_command("rebuild_analytics", "--shop", str(shop.id), stdout=out)
    summary = json.loads(out.getvalue())
    assert summary == {
        "shops": [
            {
                "shop_id": shop.id,
                "from": T0.date().isoformat(),
                "to": (T0 + timedelta(days=1)).date().isoformat(),
                "days": 2,
            }
        ]
    }
    assert DayTotals.objects.for_shop(shop).count() == 2


def test_beat_snapshots_the_quick_ranges_and_a_rebuild_drops_a_stale_snapshot(shop):
    set_holdout_share(shop, 0.5)
    rng = random.Random(5)
    visitors = [visitor_id(rng) for _ in range(40)]
    record_events(shop=shop, batch=[make_event("purchase", visitor_id=v) for v in visitors[:20]])
    record_events(shop=shop, batch=[make_event("page_view", visitor_id=v) for v in visitors[20:]])
    refresh_recent_rollups.delay()
    today = timezone.now().date()
    stored = {(r.start, r.end) for r in RangeStats.objects.for_shop(shop)}
    assert stored == {(today - timedelta(days=n - 1), today) for n in (7, 30, 90)}
    start = today - timedelta(days=29)
    snap = stored_group_sums(shop=shop, start=start, end=today, share=0.5)
    assert snap == group_sums(shop=shop, start=start, end=today, share=0.5)
    assert snap[0][0] + snap[1][0] == 40 and snap[0][2] + snap[1][2] == 20

    # a new order, then today's rebuild: the snapshot covering today goes, the page sums live
    record_events(shop=shop, batch=[make_event("purchase", visitor_id=visitors[-1])])
    rebuild_days(shop=shop, days=[today])
    assert not RangeStats.objects.for_shop(shop).exists()
    u = overview(shop=shop, start=start, end=today)["uplift"]
    assert u.personalized.orders + u.holdout.orders == 21
    # a snapshot made with another hold-out share is never read
    refresh_recent_rollups.delay()
    set_holdout_share(shop, 0.2)
    assert stored_group_sums(shop=shop, start=start, end=today, share=0.2) is None
