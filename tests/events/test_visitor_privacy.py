import pytest

from personalize.events.models import Event, Order, Visitor
from tests.events.test_collect import collect
from tests.factories import make_event


@pytest.fixture
def visitor_history(shop):
    collect(
        shop,
        [
            make_event("product_view", visitor_id="v-7"),
            make_event("identify", visitor_id="v-7", customer_id="cust-7"),
            make_event("purchase", visitor_id="v-7", order_id="o-7", revenue=20.0),
            make_event("page_view", visitor_id="v-8"),
        ],
    )


@pytest.mark.django_db
def test_it_exports_a_visitors_events_profile_and_orders(shop, api, visitor_history):
    exported = api.get("/api/v1/visitors/v-7").json()
    assert exported["visitor_id"] == "v-7"
    assert exported["customer_id"] == "cust-7"
    assert sorted(e["type"] for e in exported["events"]) == ["identify", "product_view", "purchase"]
    assert [o["order_id"] for o in exported["orders"]] == ["o-7"]
    assert exported["orders"][0]["items"][0]["product_id"] == "sku-1"


@pytest.mark.django_db
def test_it_erases_a_visitor_and_keeps_revenue_anonymous(shop, api, visitor_history):
    answer = api.delete("/api/v1/visitors/v-7").json()
    assert answer == {
        "events_deleted": 3,
        "profile_deleted": True,
        "orders_anonymized": 1,
        "analytics_days_deleted": 0,
    }
    assert not Event.objects.for_shop(shop).filter(visitor_id="v-7").exists()
    assert not Visitor.objects.for_shop(shop).filter(visitor_id="v-7").exists()
    order = Order.objects.for_shop(shop).get(order_id="o-7")
    assert (order.visitor_id, order.customer_id, float(order.revenue)) == ("", "", 20.0)
    assert Event.objects.for_shop(shop).filter(visitor_id="v-8").count() == 1
    assert api.get("/api/v1/visitors/v-7").status_code == 404


@pytest.mark.django_db
def test_an_unknown_visitor_is_404(shop, api):
    assert api.get("/api/v1/visitors/nobody").status_code == 404
    assert api.delete("/api/v1/visitors/nobody").status_code == 404


@pytest.mark.django_db
def test_another_shops_key_gets_404_and_erases_nothing(shop, other_api, visitor_history):
    assert other_api.get("/api/v1/visitors/v-7").status_code == 404
    assert other_api.delete("/api/v1/visitors/v-7").status_code == 404
    assert Event.objects.for_shop(shop).filter(visitor_id="v-7").count() == 3


@pytest.mark.django_db
def test_the_site_key_cannot_read_or_erase(shop, client, visitor_history):
    assert client.get(f"/api/v1/visitors/v-7?site_key={shop.site_key}").status_code == 401
    assert client.delete("/api/v1/visitors/v-7").status_code == 401


@pytest.mark.django_db
def test_erasure_also_forgets_the_visitors_real_time_activity(shop, api, visitor_history):
    from personalize.recommend.realtime import read_activity

    assert read_activity(shop=shop, visitor_id="v-7").recent
    api.delete("/api/v1/visitors/v-7")
    assert not read_activity(shop=shop, visitor_id="v-7").recent


@pytest.mark.django_db
def test_the_analytics_days_of_a_visitor_are_exported_and_erased(shop, api, visitor_history):
    from django.utils import timezone

    from personalize.analytics.models import RangeStats, VisitorDay
    from personalize.analytics.report import store_preset_ranges
    from personalize.analytics.rollups import rebuild_days

    today = timezone.now().date()
    rebuild_days(shop=shop, days=[today])
    store_preset_ranges(shop=shop, today=today)
    assert RangeStats.objects.for_shop(shop).exists()
    (day,) = api.get("/api/v1/visitors/v-7").json()["analytics_days"]
    assert (day["day"], day["events"], day["orders"]) == (today.isoformat(), 3, 1)

    assert api.delete("/api/v1/visitors/v-7").json()["analytics_days_deleted"] == 1
    assert list(VisitorDay.objects.for_shop(shop).values_list("visitor_id", flat=True)) == ["v-8"]
    # The range snapshots had summed v-7 in: they go, and the report sums the days afresh.
    assert not RangeStats.objects.for_shop(shop).exists()
