"""A shop that keeps shopper activity for a limited time: old events, profiles and per-visitor
analytics days go every night; orders, daily totals and other shops' data stay."""

from datetime import timedelta

import pytest
from django.utils import timezone

from personalize.analytics.models import DayTotals, RangeStats, VisitorDay
from personalize.analytics.rollups import rebuild_days
from personalize.celery import app as celery_app
from personalize.events.models import Event, Order, Visitor
from personalize.events.retention import apply_retention
from personalize.events.tasks import enforce_retention
from tests.events.test_collect import collect
from tests.factories import make_event

pytestmark = pytest.mark.django_db
RETENTION_DAYS = 30


def days_ago(n: int):
    return timezone.now() - timedelta(days=n)


def history(shop, origin: str) -> None:
    """v-old was last seen 40 days ago (and bought then), v-both 40 and 5 days ago, v-new 10."""
    collect(
        shop,
        [
            make_event("product_view", visitor_id="v-old", ts=days_ago(40).isoformat()),
            make_event("purchase", visitor_id="v-old", order_id="o-old", ts=days_ago(40).isoformat()),
            make_event("page_view", visitor_id="v-both", ts=days_ago(40).isoformat()),
            make_event("page_view", visitor_id="v-both", ts=days_ago(5).isoformat()),
            make_event("page_view", visitor_id="v-new", ts=days_ago(10).isoformat()),
        ],
        origin=origin,
    )
    rebuild_days(shop=shop, days=[days_ago(n).date() for n in (40, 10, 5)])


@pytest.fixture
def shops(shop, other_shop):
    history(shop, "https://alice-shop.example")
    history(other_shop, "https://charlie-shop.example")
    shop.event_retention_days = RETENTION_DAYS
    shop.save(update_fields=["event_retention_days"])
    return shop, other_shop


def test_old_activity_goes_and_sales_and_totals_stay(shops):
    shop, other_shop = shops
    old_day = days_ago(40).date()
    RangeStats.objects.create(shop=shop, start=old_day, end=days_ago(5).date(), holdout_share=0.05, groups={})

    gone = apply_retention(shop=shop, chunk=1)  # one event per chunk: the loop ends where it should

    assert gone == {"events_deleted": 3, "visitors_deleted": 1, "analytics_days_deleted": 2}
    kept = Event.objects.for_shop(shop).order_by("ts").values_list("visitor_id", flat=True)
    assert list(kept) == ["v-new", "v-both"]
    assert set(Visitor.objects.for_shop(shop).values_list("visitor_id", flat=True)) == {"v-both", "v-new"}
    assert Order.objects.for_shop(shop).filter(order_id="o-old").exists()
    assert not VisitorDay.objects.for_shop(shop).filter(day=old_day).exists()
    assert VisitorDay.objects.for_shop(shop).filter(day=days_ago(5).date()).exists()
    assert not RangeStats.objects.for_shop(shop).exists()
    # The old day's totals stay, and rebuilding it (from events that are gone) is refused.
    totals = DayTotals.objects.for_shop(shop).get(day=old_day)
    assert rebuild_days(shop=shop, days=[old_day]) == 0
    assert DayTotals.objects.for_shop(shop).get(day=old_day).events == totals.events == 3
    # Charlie's shop keeps everything.
    assert Event.objects.for_shop(other_shop).count() == 5
    assert VisitorDay.objects.for_shop(other_shop).filter(day=old_day).count() == 2


def test_a_shop_without_a_retention_period_keeps_everything(shops):
    _, other_shop = shops
    assert apply_retention(shop=other_shop) == {
        "events_deleted": 0,
        "visitors_deleted": 0,
        "analytics_days_deleted": 0,
    }
    assert Event.objects.for_shop(other_shop).count() == 5


def test_the_nightly_task_visits_only_shops_with_a_retention_period(shops):
    shop, other_shop = shops
    assert enforce_retention() == 1
    assert Event.objects.for_shop(shop).count() == 2
    assert Event.objects.for_shop(other_shop).count() == 5


def test_beat_runs_it_every_night():
    (entry,) = [e for e in celery_app.conf.beat_schedule.values() if e["task"].endswith("enforce_retention")]
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"].hour == {3}
