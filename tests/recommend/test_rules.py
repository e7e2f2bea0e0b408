"""Business rules and filters: stock, the product itself, cart, already bought, category and price,
pins, boosts, buries, diversity and the hold-out group."""

import pytest

from personalize.lib.hashing import fnv1a32, unit_hash
from personalize.recommend.models import RecommenderConfig, WidgetRule
from personalize.recommend.rules import Pick, Rule, arrange, holdout_bucket, is_holdout
from tests.factories import make_event, make_product
from tests.recommend.conftest import collect, make_catalog, product_ids, recommendations, train_model

pytestmark = pytest.mark.django_db

A = {f"a{i}" for i in range(1, 7)}
B = {f"b{i}" for i in range(1, 7)}
WIDGET_PARAMS = {
    "for_you": {"visitor_id": "a-shopper-2"},
    "similar": {"product_id": "a1"},
    "bought_together": {"product_id": "a1"},
    "trending": {},
    "recently_viewed": {"visitor_id": "a-shopper-2"},
    "cart": {"cart": "a1"},
}


def rule(shop, widget, action, target, value, **fields):
    return WidgetRule.objects.create(
        shop=shop, widget=widget, action=action, target=target, value=value, **fields
    )


def configure(shop, **fields):
    RecommenderConfig.objects.update_or_create(shop=shop, defaults=fields)


# --- exclusions and filters ---------------------------------------------------------------------------


@pytest.mark.parametrize("widget", list(WIDGET_PARAMS))
def test_it_only_lists_products_in_stock(shop, widget):
    products = make_catalog(shop)
    train_model(shop)
    for pid in ("a2", "a3", "b4"):
        products[pid].in_stock = False
        products[pid].save(update_fields=["in_stock"])
    collect(shop, [make_event("product_view", visitor_id="a-shopper-2", product_id="a3")])

    ids = product_ids(recommendations(shop, widget, limit=50, **WIDGET_PARAMS[widget]))
    assert not {"a2", "a3", "b4"} & set(ids)
    assert ids


@pytest.mark.parametrize("widget", list(WIDGET_PARAMS))
def test_it_never_lists_the_product_itself_or_the_cart(shop, widget):
    make_catalog(shop)
    train_model(shop)
    collect(shop, [make_event("add_to_cart", visitor_id="a-shopper-2", product_id="b6")])
    params = {**WIDGET_PARAMS[widget], "product_id": "a1", "cart": "a1,a2,b1", "limit": 50}
    ids = product_ids(recommendations(shop, widget, **params))
    assert not {"a1", "a2", "b1"} & set(ids)
    if widget in ("for_you", "recently_viewed"):
        assert "b6" not in ids  # the session's cart
    assert len(ids) == len(set(ids))


def test_it_hides_what_the_visitor_bought_unless_the_shop_wants_buy_again(shop, save_rules):
    make_catalog(shop)
    train_model(shop)
    collect(
        shop,
        [
            make_event(
                "purchase",
                visitor_id="v-1",
                items=[{"product_id": "b2", "quantity": 1, "price": 82}],
            )
        ],
    )
    assert "b2" not in product_ids(recommendations(shop, "trending", visitor_id="v-1", limit=50))
    assert "b2" not in product_ids(
        recommendations(shop, "similar", product_id="b1", visitor_id="v-1", limit=50)
    )

    configure(shop, exclude_purchased=False)
    save_rules(shop)
    assert "b2" in product_ids(recommendations(shop, "trending", visitor_id="v-1", limit=50))


@pytest.mark.parametrize("category", ["Women > Shoes", "Women>Shoes", " Women >Shoes "])
def test_it_filters_by_category_path(shop, category):
    make_catalog(shop)
    train_model(shop)
    for widget, params in WIDGET_PARAMS.items():
        ids = product_ids(recommendations(shop, widget, category=category, limit=50, **params))
        assert set(ids) == B - {"a1"}, widget


def test_a_category_filter_matches_whole_segments_of_the_path(shop):
    make_catalog(shop)
    make_product(shop, "w1", categories=["Womenswear"])
    assert set(product_ids(recommendations(shop, "trending", category="Women", limit=50))) == A | B
    assert product_ids(recommendations(shop, "trending", category="Wom")) == []


def test_it_filters_by_price(shop):
    make_catalog(shop)  # a_i costs 40 + i, b_i 80 + i
    make_product(shop, "no-price", price=None)
    train_model(shop)
    ids = product_ids(
        recommendations(shop, "for_you", visitor_id="b-shopper-1", min_price=42, max_price=45, limit=50)
    )
    assert set(ids) == {"a2", "a3", "a4", "a5"}
    assert set(product_ids(recommendations(shop, "trending", min_price="85.5", limit=50))) == {"b6"}
    assert set(product_ids(recommendations(shop, "trending", max_price="41", limit=50))) == {"a1"}


# --- merchandising ----------------------------------------------------------------------------------------


def test_a_pinned_product_takes_its_slot(shop, save_rules):
    make_catalog(shop)
    train_model(shop)
    rule(shop, "similar", WidgetRule.PIN, WidgetRule.PRODUCT, "b5", position=1)
    save_rules(shop)
    items = recommendations(shop, "similar", product_id="a1", limit=4).json()["items"]
    assert [i["product_id"] for i in items][1] == "b5"
    assert len(items) == 4
    assert set(i["product_id"] for i in items) - {"b5"} <= A


def test_pins_are_skipped_when_they_would_break_a_rule(shop, save_rules):
    products = make_catalog(shop)
    train_model(shop)
    products["b5"].in_stock = False
    products["b5"].save(update_fields=["in_stock"])
    rule(shop, "*", WidgetRule.PIN, WidgetRule.PRODUCT, "b5", position=0)  # out of stock
    rule(shop, "*", WidgetRule.PIN, WidgetRule.PRODUCT, "a1", position=1)  # the product itself
    rule(shop, "*", WidgetRule.PIN, WidgetRule.PRODUCT, "gone", position=2)  # not in the catalog
    save_rules(shop)
    ids = product_ids(recommendations(shop, "similar", product_id="a1", limit=5))
    assert not {"b5", "a1", "gone"} & set(ids)
    assert len(ids) == 5


def test_a_pinned_category_puts_its_best_product_in_the_slot(shop, save_rules):
    products = make_catalog(shop)
    train_model(shop)
    rule(shop, "for_you", WidgetRule.PIN, WidgetRule.CATEGORY, "Women>Shoes", position=0)
    save_rules(shop)
    items = recommendations(shop, "for_you", visitor_id="a-shopper-2", limit=3).json()["items"]
    assert items[0]["product_id"] in B
    assert {i["product_id"] for i in items[1:]} <= A
    assert products[items[0]["product_id"]].category_path == "Women > Shoes"


def test_a_boost_lifts_a_product_and_a_bury_sends_it_to_the_end(shop, save_rules):
    make_catalog(shop)
    train_model(shop)
    baseline = product_ids(recommendations(shop, "similar", product_id="a1", limit=11))
    first_b = next(p for p in baseline if p in B)
    top_a = baseline[0]

    rule(shop, "similar", WidgetRule.BOOST, WidgetRule.PRODUCT, first_b, factor=20)
    rule(shop, "similar", WidgetRule.BURY, WidgetRule.PRODUCT, top_a)
    save_rules(shop)
    ranked = product_ids(recommendations(shop, "similar", product_id="a1", limit=11))
    assert ranked.index(first_b) < baseline.index(first_b)
    assert ranked.index(first_b) <= 1
    assert ranked[-1] == top_a


def test_category_boosts_and_buries(shop, save_rules):
    make_catalog(shop)
    train_model(shop)
    rule(shop, "*", WidgetRule.BURY, WidgetRule.CATEGORY, "Women > Dresses")
    save_rules(shop)
    ids = product_ids(recommendations(shop, "similar", product_id="a1", limit=11))
    assert set(ids[:6]) == B
    assert set(ids[6:]) == A - {"a1"}


def test_a_widgets_rule_leaves_the_other_widgets_alone(shop, save_rules):
    make_catalog(shop)
    baseline = product_ids(recommendations(shop, "trending", limit=12))
    rule(shop, "similar", WidgetRule.PIN, WidgetRule.PRODUCT, "b1", position=0)
    save_rules(shop)
    assert product_ids(recommendations(shop, "trending", limit=12)) == baseline
    assert product_ids(recommendations(shop, "similar", product_id="a1"))[0] == "b1"


def test_rule_changes_are_picked_up_only_when_announced(shop, save_rules):
    make_catalog(shop)
    recommendations(shop, "trending")
    rule(shop, "*", WidgetRule.PIN, WidgetRule.PRODUCT, "b3", position=0)
    assert product_ids(recommendations(shop, "trending"))[0] != "b3"
    save_rules(shop)
    assert product_ids(recommendations(shop, "trending"))[0] == "b3"


def test_diversity_caps_the_items_of_one_category(shop, save_rules):
    make_catalog(shop)
    train_model(shop)
    configure(shop, max_per_category=2)
    save_rules(shop)
    ids = product_ids(recommendations(shop, "similar", product_id="a1", limit=8))
    assert len([p for p in ids if p in A]) == 2
    assert len([p for p in ids if p in B]) == 2
    assert len(ids) == 4


def test_arrange_places_pins_in_ascending_slots_whatever_their_rank():
    picks = [Pick(i, 0.0, "r") for i in range(10)]
    ids = {i: f"p{i}" for i in range(10)}
    rules = [
        Rule(WidgetRule.PIN, WidgetRule.PRODUCT, "p9", position=3),
        Rule(WidgetRule.PIN, WidgetRule.PRODUCT, "p1", position=0),
        Rule(WidgetRule.PIN, WidgetRule.PRODUCT, "p0", position=20),
    ]
    result = arrange(
        picks,
        limit=5,
        rules=rules,
        product_id_of=ids.__getitem__,
        category_of=lambda i: "",
        pinnable_product=lambda pid: int(pid[1:]),
        best_in_category=lambda value, taken: None,
    )
    assert [p.index for p in result] == [1, 2, 3, 9, 4]


# --- the hold-out ----------------------------------------------------------------------------------------


def test_the_holdout_is_deterministic_and_about_the_configured_share(shop, other_shop):
    visitors = [f"visitor-{i}" for i in range(20_000)]
    held = [v for v in visitors if is_holdout(shop_id=shop.id, visitor_id=v, share=0.05)]
    assert 0.045 < len(held) / len(visitors) < 0.055
    assert held == [v for v in visitors if is_holdout(shop_id=shop.id, visitor_id=v, share=0.05)]
    # Another shop draws its own group.
    other = {v for v in visitors if is_holdout(shop_id=other_shop.id, visitor_id=v, share=0.05)}
    assert len(other & set(held)) < len(held) / 4
    assert not is_holdout(shop_id=shop.id, visitor_id="", share=0.05)
    assert all(0 <= holdout_bucket(shop.id, v) < 1 for v in visitors[:100])


def held_out_visitor(shop, share=0.05, held=True) -> str:
    return next(
        f"v-{i}"
        for i in range(10_000)
        if is_holdout(shop_id=shop.id, visitor_id=f"v-{i}", share=share) == held
    )


def test_a_holdout_visitor_gets_the_non_personal_answer(shop):
    make_catalog(shop)
    train_model(shop)
    configure(shop, holdout_share=0.05)
    visitor, other = held_out_visitor(shop), held_out_visitor(shop, held=False)
    collect(shop, [make_event("product_view", visitor_id=visitor, product_id=p) for p in ("b1", "b2", "b3")])

    trending = recommendations(shop, "trending", visitor_id=other, product_id="a1", cart="a1").json()
    assert trending["holdout"] is False
    for widget in ("for_you", "similar", "cart"):
        answer = recommendations(shop, widget, visitor_id=visitor, product_id="a1", cart="a1").json()
        assert answer["holdout"] is True
        assert [i["product_id"] for i in answer["items"]] == [i["product_id"] for i in trending["items"]]
    assert recommendations(shop, "for_you", visitor_id=other).json()["holdout"] is False


def test_a_holdout_configured_to_none_gets_nothing(shop, save_rules):
    make_catalog(shop)
    configure(shop, holdout_answer="none", holdout_share=0.5)
    save_rules(shop)
    visitor = held_out_visitor(shop, share=0.5)
    answer = recommendations(shop, "for_you", visitor_id=visitor).json()
    assert answer == {**answer, "holdout": True, "items": []}


def test_the_holdout_bucket_is_the_hash_the_snippet_computes():
    # widgets_js computes the same values (its unit tests assert these numbers too)
    assert holdout_bucket(3, "v-1") == 0.4897170134354383
    assert unit_hash("3:café") == 0.767544946167618
    assert fnv1a32(b"") == 2166136261
    assert fnv1a32(b"a") == 0xE40C292C


def test_short_sequential_visitor_ids_spread_evenly_over_the_holdout():
    # Raw FNV-1a put 1 of these 150 ids under a 30% share; imported customer ids look like this.
    held = [v for v in (f"v{i}" for i in range(150)) if is_holdout(shop_id=9, visitor_id=v, share=0.3)]
    assert 28 <= len(held) <= 62  # 45 within 3 standard errors
