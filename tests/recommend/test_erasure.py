"""A shopper erased through the privacy API is no longer recognised by the active model, whose
arrays were trained on their data, while every other shopper still is; a version trained after
the erasure may know them again (their events since are theirs to give)."""

import pytest
from django.utils import timezone

from personalize.recommend.models import ErasedUser, ModelVersion
from tests.factories import make_event
from tests.recommend.conftest import collect, make_catalog, recommendations, train_model

pytestmark = pytest.mark.django_db(transaction=True)  # the erasure announces itself on commit


def personal(shop, **shopper) -> bool:
    """Whether for_you answers from what training knew of this shopper."""
    items = recommendations(shop, "for_you", limit=4, **shopper).json()["items"]
    assert items
    return any(item["reason"].startswith("Because you") for item in items)


def test_an_erased_shopper_is_a_stranger_to_the_model_trained_on_them(shop, api):
    make_catalog(shop)
    train_model(shop)
    collect(shop, [make_event("page_view", visitor_id="a-shopper-0")])
    assert personal(shop, visitor_id="a-shopper-0")  # the state is loaded before the erasure

    assert api.delete("/api/v1/visitors/a-shopper-0").status_code == 200
    assert not personal(shop, visitor_id="a-shopper-0")
    assert personal(shop, visitor_id="a-shopper-1")
    # Only a hash of the id is kept.
    assert not ErasedUser.objects.for_shop(shop).filter(user_hash__contains="a-shopper").exists()


def test_the_customer_an_erased_visitor_identified_as_is_forgotten_too(shop, api):
    make_catalog(shop)
    train_model(shop, interactions=[("c:cust-9", p, 1.0) for p in ("a1", "a2", "a3")] + _others())
    collect(shop, [make_event("identify", visitor_id="v-phone", customer_id="cust-9")])
    assert personal(shop, customer_id="cust-9", visitor_id="v-laptop")

    api.delete("/api/v1/visitors/v-phone")
    assert not personal(shop, customer_id="cust-9", visitor_id="v-laptop")


def test_a_version_trained_after_the_erasure_knows_the_shopper_again(shop, api):
    make_catalog(shop)
    train_model(shop)
    collect(shop, [make_event("page_view", visitor_id="a-shopper-0")])
    api.delete("/api/v1/visitors/a-shopper-0")
    assert not personal(shop, visitor_id="a-shopper-0")

    # A training that started after the erasure (announced, served from the next request on).
    later = train_model(shop)
    ModelVersion.objects.filter(id=later.id).update(started_at=timezone.now())
    assert personal(shop, visitor_id="a-shopper-0")


def test_an_erasure_in_one_shop_leaves_the_same_visitor_id_known_in_another(shop, other_shop, api):
    for s in (shop, other_shop):
        make_catalog(s)
        train_model(s)
    collect(shop, [make_event("page_view", visitor_id="a-shopper-0")])
    api.delete("/api/v1/visitors/a-shopper-0")
    assert not personal(shop, visitor_id="a-shopper-0")
    charlie = recommendations(
        other_shop, "for_you", visitor_id="a-shopper-0", limit=4, origin="https://charlie-shop.example"
    ).json()["items"]
    assert any(item["reason"].startswith("Because you") for item in charlie)


def _others() -> list[tuple[str, str, float]]:
    """Shoe shoppers, so the model has two tastes to tell apart."""
    return [(f"v:b-{u}", f"b{i}", 1.0) for u in range(6) for i in range(1, 6)]
