"""GET /api/v1/recommendations: the contract, access, bad input, tenancy and the query count."""

import pytest
from django.test import Client

from personalize.recommend.models import ModelVersion
from tests.factories import make_event, make_product
from tests.recommend.conftest import (
    ORIGIN,
    collect,
    make_catalog,
    product_ids,
    recommendations,
    train_model,
)

pytestmark = pytest.mark.django_db

ITEM_KEYS = {"product_id", "title", "url", "image_url", "price", "currency", "score", "reason"}


def test_it_answers_in_the_documented_shape(shop):
    make_catalog(shop)
    version = train_model(shop)

    response = recommendations(shop, "for_you", visitor_id="v:new", limit=5)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"rec_id", "widget", "model_version", "holdout", "items"}
    assert body["widget"] == "for_you"
    assert body["model_version"] == version.id
    assert body["holdout"] is False
    assert isinstance(body["rec_id"], str) and len(body["rec_id"]) >= 16
    assert len(body["items"]) == 5
    for item in body["items"]:
        assert set(item) == ITEM_KEYS
        assert item["currency"] == "GBP"
        assert isinstance(item["price"], float)
        assert isinstance(item["score"], float)
        assert item["reason"]
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Cache-Control"] == "private, no-store"


def test_each_answer_has_a_fresh_rec_id(shop):
    make_catalog(shop)
    first = recommendations(shop, "trending").json()["rec_id"]
    second = recommendations(shop, "trending").json()["rec_id"]
    assert first != second


def test_it_defaults_to_eight_items_and_caps_at_fifty(shop):
    for i in range(60):
        make_product(shop, f"p{i}")
    assert len(product_ids(recommendations(shop, "trending"))) == 8
    assert len(product_ids(recommendations(shop, "trending", limit=50))) == 50


def test_it_takes_a_secret_key_instead(shop, api):
    make_catalog(shop)
    response = api.get("/api/v1/recommendations", {"widget": "similar", "product_id": "a1"})
    assert response.status_code == 200
    assert response.json()["items"]


def test_it_rejects_an_unknown_site_key(shop):
    make_catalog(shop)
    response = Client().get(
        "/api/v1/recommendations", {"site_key": "pk_nope", "widget": "trending"}, HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 403
    assert "site_key" in response.json()["errors"]
    assert "Access-Control-Allow-Origin" not in response


def test_it_rejects_a_missing_key(shop):
    response = Client().get("/api/v1/recommendations", {"widget": "trending"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 403


def test_it_rejects_a_disallowed_origin(shop):
    make_catalog(shop)
    response = recommendations(shop, "trending", origin="https://evil.example")
    assert response.status_code == 403
    assert "origin" in response.json()["errors"]


def test_it_rejects_an_unknown_secret_key(shop):
    response = Client().get(
        "/api/v1/recommendations", {"widget": "trending"}, HTTP_AUTHORIZATION="Bearer sk_nope"
    )
    assert response.status_code == 403
    assert "authorization" in response.json()["errors"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "widget"),
        ({"widget": "everything"}, "widget"),
        ({"widget": "similar"}, "product_id"),
        ({"widget": "bought_together"}, "product_id"),
        ({"widget": "trending", "limit": "0"}, "limit"),
        ({"widget": "trending", "limit": "51"}, "limit"),
        ({"widget": "trending", "limit": "eight"}, "limit"),
        ({"widget": "trending", "min_price": "cheap"}, "min_price"),
        ({"widget": "trending", "max_price": "-1"}, "max_price"),
        ({"widget": "trending", "max_price": "nan"}, "max_price"),
        ({"widget": "trending", "min_price": "20", "max_price": "10"}, "max_price"),
        ({"widget": "trending", "visitor_id": "v" * 65}, "visitor_id"),
        ({"widget": "cart", "cart": ",".join(f"p{i}" for i in range(101))}, "cart"),
    ],
)
def test_it_names_the_bad_parameter(shop, params, field):
    make_catalog(shop)
    response = Client().get(
        "/api/v1/recommendations", {"site_key": shop.site_key, **params}, HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    # The page may read why.
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_an_empty_shop_answers_an_empty_list_not_an_error(shop):
    for widget in ("for_you", "trending", "recently_viewed", "cart"):
        response = recommendations(shop, widget, visitor_id="v-1")
        assert response.status_code == 200
        assert response.json()["items"] == []
    assert recommendations(shop, "similar", product_id="unknown").json()["items"] == []


def test_an_unknown_product_still_gets_an_answer(shop):
    make_catalog(shop)
    train_model(shop)
    assert len(product_ids(recommendations(shop, "similar", product_id="not-synced-yet"))) == 8


def test_a_missing_artifact_file_serves_without_the_model(shop, settings, tmp_path):
    make_catalog(shop)
    version = train_model(shop)
    (settings.PZ_MODEL_DIR / version.artifact).unlink()
    response = recommendations(shop, "for_you", visitor_id="v-1")
    assert response.status_code == 200
    assert response.json()["model_version"] is None
    assert len(response.json()["items"]) == 8


# --- tenancy ----------------------------------------------------------------------------------------


def test_another_shops_site_key_cannot_read_from_this_shops_pages(shop, other_shop):
    make_catalog(shop)
    response = recommendations(other_shop, "trending")  # from alice-shop.example
    assert response.status_code == 403


def test_another_shops_secret_key_only_ever_sees_its_own_shop(shop, other_shop, other_api):
    make_catalog(shop, title_prefix="Alice ")
    train_model(shop)
    response = other_api.get("/api/v1/recommendations", {"widget": "similar", "product_id": "a1"})
    assert response.status_code == 200
    assert response.json() == {**response.json(), "model_version": None, "items": []}


def test_two_shops_with_the_same_product_ids_never_mix(shop, other_shop, other_api, api):
    make_catalog(shop, title_prefix="Alice ")
    make_catalog(other_shop, title_prefix="Charlie ")
    mine = train_model(shop)
    # Charlie's shoppers like the opposite pairs: a1 is bought with a3 there.
    theirs = train_model(other_shop, baskets=[["a1", "a3"]] * 6)
    collect(shop, [make_event("product_view", visitor_id="same-visitor", product_id="b1")])

    for client, version, prefix in ((api, mine, "Alice "), (other_api, theirs, "Charlie ")):
        for widget, extra in (
            ("for_you", {"visitor_id": "same-visitor"}),
            ("similar", {"product_id": "a1"}),
            ("bought_together", {"product_id": "a1"}),
            ("trending", {}),
            ("recently_viewed", {"visitor_id": "same-visitor"}),
            ("cart", {"cart": "a1"}),
        ):
            body = client.get("/api/v1/recommendations", {"widget": widget, "limit": 50, **extra}).json()
            assert body["model_version"] == version.id
            assert body["items"]
            assert all(item["title"].startswith(prefix) for item in body["items"]), (widget, body)

    assert (
        api.get("/api/v1/recommendations", {"widget": "bought_together", "product_id": "a1"}).json()["items"][
            0
        ]["product_id"]
        == "a2"
    )
    assert (
        other_api.get("/api/v1/recommendations", {"widget": "bought_together", "product_id": "a1"}).json()[
            "items"
        ][0]["product_id"]
        == "a3"
    )
    # Charlie's shop never saw same-visitor's view.
    recent = other_api.get(
        "/api/v1/recommendations", {"widget": "recently_viewed", "visitor_id": "same-visitor"}
    ).json()["items"]
    assert all(item["reason"] != "Recently viewed" for item in recent)


# --- the query count --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "widget", ["for_you", "similar", "bought_together", "trending", "recently_viewed", "cart"]
)
def test_a_warm_request_does_not_touch_the_database(shop, widget, django_assert_max_num_queries):
    make_catalog(shop)
    train_model(shop)
    collect(shop, [make_event("product_view", visitor_id="v-1", product_id="a3")])
    params = {"visitor_id": "v-1", "product_id": "a1", "cart": "a1,b1", "limit": 20}
    assert recommendations(shop, widget, **params).status_code == 200

    with django_assert_max_num_queries(0):
        response = recommendations(shop, widget, **params)
    assert len(product_ids(response)) == 10  # the twelve products less a1 and b1


def test_a_warm_request_without_a_model_does_not_touch_the_database(shop, django_assert_max_num_queries):
    make_catalog(shop)
    collect(shop, [make_event("product_view", visitor_id="v-1", product_id="a3")])
    assert recommendations(shop, "for_you", visitor_id="v-1").status_code == 200
    with django_assert_max_num_queries(0):
        assert len(product_ids(recommendations(shop, "for_you", visitor_id="v-1"))) == 8


def test_a_secret_key_request_costs_one_query(shop, api, django_assert_max_num_queries):
    make_catalog(shop)
    train_model(shop)
    api.get("/api/v1/recommendations", {"widget": "for_you"})
    with django_assert_max_num_queries(1):
        assert api.get("/api/v1/recommendations", {"widget": "for_you"}).status_code == 200


def test_a_new_active_version_is_picked_up_without_a_restart(shop):
    make_catalog(shop)
    first = train_model(shop)
    assert recommendations(shop, "trending").json()["model_version"] == first.id
    second = train_model(shop)
    assert recommendations(shop, "trending").json()["model_version"] == second.id
    assert ModelVersion.objects.get(id=first.id).status == ModelVersion.RETIRED
