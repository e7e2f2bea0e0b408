import pytest
from rest_framework.test import APIClient

from personalize.events.models import Order
from tests.events.test_collect import collect
from tests.factories import make_event

ORDER = {
    "order_id": "A-100",
    "customer_id": "cust-1",
    "currency": "GBP",
    "items": [{"product_id": "sku-1", "quantity": 2, "price": 5.0}],
    "ts": "2026-05-01T10:00:00Z",
}


@pytest.mark.django_db
def test_it_records_an_order_with_its_lines(shop, api):
    answer = api.post("/api/v1/orders", ORDER, format="json").json()
    assert answer == {"accepted": 1, "duplicates": 0, "rejected": []}
    order = Order.objects.for_shop(shop).get()
    assert (order.order_id, float(order.revenue), order.source, order.customer_id) == (
        "A-100",
        10.0,
        "api",
        "cust-1",
    )
    assert order.lines.get().product_id == "sku-1"


@pytest.mark.django_db
def test_it_takes_a_list_and_reports_per_order_errors(shop, api):
    bad = {"order_id": "A-2", "items": [{"product_id": "x", "quantity": 0}]}
    answer = api.post("/api/v1/orders", {"orders": [ORDER, bad, {"items": []}]}, format="json").json()
    assert answer["accepted"] == 1
    assert answer["rejected"] == [
        {
            "index": 1,
            "order_id": "A-2",
            "errors": {
                "visitor_id": ["visitor_id or customer_id is required"],
                "items": ["item 0: must be between 1 and 1000000"],
            },
        },
        {
            "index": 2,
            "order_id": None,
            "errors": {
                "order_id": ["is required"],
                "visitor_id": ["visitor_id or customer_id is required"],
                "items": ["must hold between 1 and 500 items"],
            },
        },
    ]


@pytest.mark.django_db
def test_an_order_already_sent_as_a_purchase_event_is_a_duplicate(shop, api):
    collect(shop, [make_event("purchase", order_id="A-100", revenue=10.0)])
    answer = api.post("/api/v1/orders", ORDER, format="json").json()
    assert answer == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert Order.objects.for_shop(shop).get().source == "event"


@pytest.mark.django_db
def test_it_needs_a_secret_key(shop):
    response = APIClient().post("/api/v1/orders", ORDER, format="json")
    assert response.status_code == 401
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_revoked_key_is_refused(shop, api, secret_key):
    from personalize.shops.models import SecretKey
    from personalize.shops.services import revoke_secret_key

    revoke_secret_key(shop=shop, key=SecretKey.objects.for_shop(shop).get())
    assert api.post("/api/v1/orders", ORDER, format="json").status_code == 401


@pytest.mark.django_db
def test_another_shops_orders_neither_clash_nor_show(shop, other_shop, api, other_api):
    api.post("/api/v1/orders", ORDER, format="json")
    # Charlie sending the same order_id learns nothing about Alice's shop: it is new for him.
    assert other_api.post("/api/v1/orders", ORDER, format="json").json()["accepted"] == 1
    assert Order.objects.for_shop(shop).count() == 1
    assert Order.objects.for_shop(other_shop).count() == 1
