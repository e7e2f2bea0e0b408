"""Each widget's semantics and reasons, the session effect, fallbacks and catalog changes, end to end
through the HTTP API on a model with a known answer (two disjoint taste groups)."""

import json

import pytest

from personalize.events.models import Event
from personalize.recommend import store
from tests.factories import make_event, make_product
from tests.recommend.conftest import collect, make_catalog, product_ids, recommendations, train_model

pytestmark = pytest.mark.django_db

A = {f"a{i}" for i in range(1, 7)}
B = {f"b{i}" for i in range(1, 7)}


def views(visitor_id: str, *product_ids: str, session_id: str = "s-1") -> list[dict]:
    return [
        make_event("product_view", visitor_id=visitor_id, session_id=session_id, product_id=p)
        for p in product_ids
    ]


# --- the known answer -------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "mine"), [("a", A), ("b", B)])
def test_a_known_shopper_gets_their_own_taste_first(shop, group, mine):
    make_catalog(shop)
    train_model(shop)
    # Shopper 0 of each group skipped item 1 of it in training: it is new to them.
    answer = recommendations(shop, "for_you", visitor_id=f"{group}-shopper-0", limit=4).json()
    assert {item["product_id"] for item in answer["items"]} <= mine
    assert answer["items"][0]["reason"].startswith("Because you viewed ")


def test_a_known_shoppers_trained_history_feeds_the_item_neighbours(shop):
    make_catalog(shop)
    # EASE alone has no user vectors: for a known shopper with no session yet, only the history
    # kept from training can tell their taste.
    train_model(shop, algorithm="ease")
    answer = recommendations(shop, "for_you", visitor_id="b-shopper-2", limit=3).json()
    assert [item["product_id"] for item in answer["items"]][0] == "b3"  # the one b item they skipped
    assert answer["items"][0]["reason"].startswith("Because you viewed Leather running shoe")


def test_a_known_customer_is_found_by_customer_id(shop):
    make_catalog(shop)
    interactions = [(f"c:{u.split(':')[1]}", p, w) for u, p, w in _interactions()]
    train_model(shop, interactions=interactions)
    ids = product_ids(
        recommendations(shop, "for_you", customer_id="b-shopper-3", visitor_id="v-anon", limit=4)
    )
    assert set(ids) <= B


def test_a_shopper_training_did_not_rank_is_ranked_once_per_model_version(shop, monkeypatch):
    make_catalog(shop)
    train_model(shop, precompute_top_n=False)
    monkeypatch.setattr(store, "RANKED_USERS_MAX", 2)

    first = product_ids(recommendations(shop, "for_you", visitor_id="a-shopper-0", limit=4))
    assert set(first) <= A
    assert product_ids(recommendations(shop, "for_you", visitor_id="a-shopper-0", limit=4)) == first
    for shopper in ("b-shopper-1", "a-shopper-2"):
        assert product_ids(recommendations(shop, "for_you", visitor_id=shopper, limit=4))
    ranker = store.shop_view(shop)[0].ranker
    rows = [ranker.user_row(f"v:{s}") for s in ("b-shopper-1", "a-shopper-2")]
    assert [row for row, _ in ranker.ranked_users] == rows  # at most 2, the least recent gone

    # a new version starts from nothing: no list of the old model serves
    train_model(shop, precompute_top_n=False)
    assert set(product_ids(recommendations(shop, "for_you", visitor_id="a-shopper-0", limit=4))) <= A
    ranker = store.shop_view(shop)[0].ranker
    assert [row for row, _ in ranker.ranked_users] == [ranker.user_row("v:a-shopper-0")]


def _interactions():
    from tests.recommend.conftest import group_interactions

    return group_interactions()


def test_similar_lists_the_products_taste_group_first(shop):
    products = make_catalog(shop)
    train_model(shop)
    answer = recommendations(shop, "similar", product_id="a1", limit=11).json()
    ids = [item["product_id"] for item in answer["items"]]
    assert "a1" not in ids
    assert set(ids[:5]) == A - {"a1"}
    assert answer["items"][0]["reason"] == f"Similar to {products['a1'].title}"


def test_bought_together_follows_the_lift_lists(shop):
    products = make_catalog(shop)
    train_model(shop, baskets=[["a1", "a4"]] * 5 + [["a1", "b6"]] * 2 + [["b6", "b5"]] * 3)
    items = recommendations(shop, "bought_together", product_id="a1").json()["items"]
    assert [i["product_id"] for i in items[:2]] == ["a4", "b6"]
    assert items[0]["reason"] == f"Bought together with {products['a1'].title}"
    # Then similar products fill the list.
    assert items[2]["reason"] == f"Similar to {products['a1'].title}"
    assert len(items) == 8


def test_trending_comes_from_the_model_with_a_category_reason(shop):
    make_catalog(shop)
    # b3 is the most interacted-with product.
    train_model(
        shop, interactions=[("v:x", "b3", 9.0), ("v:y", "b3", 9.0), ("v:x", "a2", 1.0), ("v:z", "b1", 2.0)]
    )
    items = recommendations(shop, "trending").json()["items"]
    assert [i["product_id"] for i in items[:3]] == ["b3", "b1", "a2"]
    assert items[0]["reason"] == "Trending in Shoes"
    assert items[3]["reason"] == "New in"


def test_recently_viewed_lists_the_visitors_views_newest_first_without_the_current_product(shop):
    make_catalog(shop)
    collect(shop, views("v-1", "a1", "b2", "a3"))
    ids = product_ids(recommendations(shop, "recently_viewed", visitor_id="v-1", product_id="b2", limit=3))
    assert ids[:2] == ["a3", "a1"]
    answer = recommendations(shop, "recently_viewed", visitor_id="v-1", product_id="b2").json()
    assert answer["items"][0]["reason"] == "Recently viewed"
    assert answer["items"][2]["reason"] != "Recently viewed"  # the chain fills the rest


def test_the_cart_widget_suggests_complements_of_the_cart(shop):
    products = make_catalog(shop)
    train_model(shop, baskets=[["a1", "b4"]] * 4 + [["a2", "b5"]] * 2)
    items = recommendations(shop, "cart", cart="a1,a2").json()["items"]
    ids = [i["product_id"] for i in items]
    assert set(ids[:2]) == {"b4", "b5"}
    reasons = {i["product_id"]: i["reason"] for i in items[:2]}
    assert reasons["b4"] == f"Bought together with {products['a1'].title}"
    assert reasons["b5"] == f"Bought together with {products['a2'].title}"
    assert not {"a1", "a2"} & set(ids)


def test_the_cart_widget_reads_the_session_cart_when_none_is_given(shop):
    make_catalog(shop)
    train_model(shop, baskets=[["a1", "b4"]] * 4)
    collect(shop, [make_event("add_to_cart", visitor_id="v-1", product_id="a1")])
    ids = product_ids(recommendations(shop, "cart", visitor_id="v-1"))
    assert ids[0] == "b4"
    assert "a1" not in ids


# --- real time ---------------------------------------------------------------------------------------


def test_three_views_of_a_category_lead_for_you_on_the_next_request(shop):
    products = make_catalog(shop)
    train_model(shop)
    # A known shoe shopper starts looking at dresses.
    before = product_ids(recommendations(shop, "for_you", visitor_id="b-shopper-1", limit=3))
    assert set(before) <= B

    collect(shop, views("b-shopper-1", "a2", "a3", "a4", session_id="s-now"))

    answer = recommendations(shop, "for_you", visitor_id="b-shopper-1", session_id="s-now", limit=3).json()
    ids = [item["product_id"] for item in answer["items"]]
    assert set(ids) <= A - {"a2", "a3", "a4"}
    viewed_titles = {products[p].title for p in ("a2", "a3", "a4")}
    assert answer["items"][0]["reason"] in {f"Because you viewed {t}" for t in viewed_titles}


def popular_shoes() -> list[tuple[str, str, float]]:
    """Thirty shoe shoppers and three dress shoppers: every shoe is more popular than any dress."""
    rows = [(f"v:shoes-{u}", f"b{i}", 1.0) for u in range(30) for i in range(1, 7)]
    return rows + [(f"v:dresses-{u}", f"a{i}", 1.0) for u in range(3) for i in range(1, 7)]


def test_the_sessions_category_leads_for_you_even_where_popularity_outweighs_the_model(shop):
    make_catalog(shop)
    train_model(shop, interactions=popular_shoes(), algorithm="popularity")
    assert set(product_ids(recommendations(shop, "for_you", visitor_id="new", limit=3))) <= B

    collect(shop, views("new", "a1", "a2", "a3", session_id="s-now"))
    ids = product_ids(recommendations(shop, "for_you", visitor_id="new", session_id="s-now", limit=3))
    assert set(ids) <= A - {"a1", "a2", "a3"}


def test_it_is_the_current_sessions_category_that_leads(shop):
    make_catalog(shop)
    train_model(shop, interactions=popular_shoes(), algorithm="popularity")
    collect(shop, views("back-again", "b1", "b2", "b3", session_id="s-last-week"))
    collect(shop, views("back-again", "a1", "a2", session_id="s-now"))
    ids = product_ids(recommendations(shop, "for_you", visitor_id="back-again", session_id="s-now", limit=3))
    assert set(ids) <= A - {"a1", "a2"}


def test_an_anonymous_visitors_views_lead_for_you(shop):
    make_catalog(shop)
    train_model(shop)
    collect(shop, views("fresh-visitor", "b1", "b2", "b3"))
    ids = product_ids(recommendations(shop, "for_you", visitor_id="fresh-visitor", limit=3))
    assert set(ids) <= B - {"b1", "b2", "b3"}


def test_views_lead_for_you_without_a_model_too(shop):
    make_catalog(shop)
    collect(shop, views("v-1", "a5", "a6", "a4"))
    items = recommendations(shop, "for_you", visitor_id="v-1", limit=3).json()["items"]
    assert {i["product_id"] for i in items} <= A - {"a4", "a5", "a6"}


def test_for_you_shows_viewed_products_only_when_nothing_else_is_left(shop):
    make_product(shop, "p1")
    make_product(shop, "p2")
    collect(shop, views("v-1", "p1"))
    assert product_ids(recommendations(shop, "for_you", visitor_id="v-1")) == ["p2", "p1"]


# --- fallbacks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("widget", ["for_you", "trending", "recently_viewed", "cart"])
def test_with_no_model_and_no_events_it_answers_the_newest_in_stock_products(shop, widget):
    for i in range(10):
        make_product(shop, f"p{i}", in_stock=i != 8)
    items = recommendations(shop, widget, visitor_id="v-1", limit=4).json()["items"]
    assert [i["product_id"] for i in items] == ["p9", "p7", "p6", "p5"]
    assert {i["reason"] for i in items} == {"New in"}


def test_similar_without_a_model_lists_the_same_category_then_the_newest(shop):
    products = make_catalog(shop)
    items = recommendations(shop, "similar", product_id="b2", limit=7).json()["items"]
    ids = [i["product_id"] for i in items]
    assert set(ids[:5]) == B - {"b2"}
    assert items[0]["reason"] == f"Similar to {products['b2'].title}"
    # 'Women' is the parent of both groups: then come the dresses.
    assert set(ids[5:]) <= A


def test_trending_without_a_model_comes_from_recent_events(shop):
    make_catalog(shop)
    collect(shop, views("v-1", "a4") + views("v-2", "a4") + views("v-3", "b2"))
    collect(shop, [make_event("add_to_cart", visitor_id="v-3", product_id="b5")])
    items = recommendations(shop, "trending").json()["items"]
    assert [i["product_id"] for i in items[:3]] == ["b5", "a4", "b2"]
    assert items[0]["reason"] == "Trending in Shoes"
    assert items[3]["reason"] == "New in"


def test_without_a_model_a_categorys_fallback_follows_recent_events_and_is_made_once(shop):
    make_catalog(shop)
    collect(shop, views("v-1", "b5") + views("v-2", "b5") + views("v-3", "b3"))

    ids = product_ids(recommendations(shop, "similar", product_id="b2", limit=3))

    assert ids[:2] == ["b5", "b3"]  # the category's products by recent interest, then the newest
    view = store.shop_view(shop)[0]
    category = view.catalog.paths[view.catalog.index["b2"]]
    first = store.event_popular_in(shop, view, category)
    assert store.event_popular_in(shop, view, category) is first


def test_trending_without_a_model_counts_orders_most(shop):
    make_catalog(shop)
    collect(shop, views("v-1", "a4") + views("v-2", "a4") + views("v-3", "b2"))
    purchase = make_event(
        "purchase", visitor_id="v-4", items=[{"product_id": "b6", "quantity": 1, "price": 86}]
    )
    collect(shop, [purchase])
    assert product_ids(recommendations(shop, "trending"))[:3] == ["b6", "a4", "b2"]


def test_a_shop_with_a_model_but_no_events_still_answers(shop):
    make_catalog(shop)
    train_model(shop)
    Event.objects.for_shop(shop).delete()
    for widget in ("for_you", "trending", "recently_viewed", "cart"):
        assert len(product_ids(recommendations(shop, widget, visitor_id="nobody"))) == 8


# --- catalog changes without retraining ----------------------------------------------------------------


def test_a_product_added_after_training_is_recommended_at_once(shop, api):
    make_catalog(shop)
    train_model(shop)
    recommendations(shop, "similar", product_id="a1")  # warm: the snapshot predates the new product

    response = api.post(
        "/api/v1/products",
        json.dumps(
            [
                {
                    "product_id": "a-new",
                    "title": "Linen summer dress 7",
                    "categories": ["Women", "Dresses"],
                    "brand": "Flora",
                    "price": 45,
                }
            ]
        ),
        content_type="application/json",
    )
    assert response.status_code == 200

    similar = product_ids(recommendations(shop, "similar", product_id="a1", limit=12))
    assert "a-new" in similar
    assert similar.index("a-new") < min(similar.index(b) for b in B)
    # Similar to the new product itself: its own group.
    assert set(product_ids(recommendations(shop, "similar", product_id="a-new", limit=6))) == A
    # And for_you of a dress shopper ranks it with the other dresses, before any shoe.
    collect(shop, views("v-9", "a1", "a2", "a3"))
    assert set(product_ids(recommendations(shop, "for_you", visitor_id="v-9", limit=4))) == {
        "a4",
        "a5",
        "a6",
        "a-new",
    }


def test_a_product_out_of_stock_or_deleted_leaves_the_answers(shop, api):
    make_catalog(shop)
    train_model(shop)
    assert "a2" in product_ids(recommendations(shop, "similar", product_id="a1", limit=11))

    api.post(
        "/api/v1/products",
        json.dumps([{"product_id": "a2", "title": "Linen summer dress 2", "in_stock": False}]),
        content_type="application/json",
    )
    assert api.delete("/api/v1/products/a3").status_code == 204

    ids = product_ids(recommendations(shop, "similar", product_id="a1", limit=11))
    assert "a2" not in ids
    assert "a3" not in ids
    assert len(ids) == 9
