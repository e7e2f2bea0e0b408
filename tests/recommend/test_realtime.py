"""The visitor's real-time activity, as the collect endpoint leaves it for serving."""

from datetime import UTC, datetime, timedelta

import pytest

from personalize.events import ratelimit
from personalize.events.services import prepare_events, store_events
from personalize.lib.cache import redis_client
from personalize.recommend.realtime import (
    BOUGHT_MAX,
    RECENT_MAX,
    TTL_SECONDS,
    Activity,
    activity_key,
    forget_activity,
    read_activity,
)
from tests.factories import make_event
from tests.recommend.conftest import collect, make_catalog, product_ids, recommendations

pytestmark = pytest.mark.django_db


def at(minutes: int) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def test_it_keeps_the_visitors_items_newest_first_with_type_and_time(shop):
    collect(
        shop,
        [
            make_event("product_view", product_id="p1", ts=at(1)),
            make_event("page_view", ts=at(2)),
            make_event("add_to_cart", product_id="p2", ts=at(3)),
            make_event("rec_click", product_id="p3", ts=at(4)),
        ],
    )
    activity = read_activity(shop=shop, visitor_id="v-1")
    assert [(p, t) for p, t, _, _ in activity.recent] == [
        ("p3", "rec_click"),
        ("p2", "add_to_cart"),
        ("p1", "product_view"),
    ]
    assert activity.recent[0][2] == datetime.fromisoformat(at(4)).timestamp()
    assert activity.recent[0][3] == "s-1"
    assert activity.cart == ["p2"]


def test_batches_arriving_out_of_order_are_merged_by_time(shop):
    collect(shop, [make_event("product_view", product_id="late", ts=at(10))])
    collect(shop, [make_event("product_view", product_id="early", ts=at(5))])
    collect(shop, [make_event("product_view", product_id="early", ts=at(20))])
    assert [p for p, *_ in read_activity(shop=shop, visitor_id="v-1").recent] == ["early", "late"]


def test_it_keeps_at_most_the_latest_items(shop):
    for batch in range(3):
        collect(
            shop,
            [
                make_event("product_view", product_id=f"p{batch * 30 + i}", ts=at(batch * 30 + i))
                for i in range(30)
            ],
        )
    recent = read_activity(shop=shop, visitor_id="v-1").recent
    assert len(recent) == RECENT_MAX
    assert recent[0][0] == "p89"
    assert recent[-1][0] == f"p{90 - RECENT_MAX}"


def test_it_follows_the_cart_and_what_was_bought(shop):
    collect(
        shop,
        [
            make_event("add_to_cart", product_id="p1", ts=at(1)),
            make_event("add_to_cart", product_id="p2", ts=at(2)),
            make_event("add_to_cart", product_id="p3", ts=at(3)),
            make_event("remove_from_cart", product_id="p2", ts=at(4)),
        ],
    )
    assert read_activity(shop=shop, visitor_id="v-1").cart == ["p1", "p3"]
    collect(
        shop,
        [make_event("purchase", ts=at(5), items=[{"product_id": "p1", "quantity": 1}, {"product_id": "p3"}])],
    )
    activity = read_activity(shop=shop, visitor_id="v-1")
    assert activity.cart == []
    assert activity.bought == ["p1", "p3"]
    assert activity.recent[0][1] == "purchase"


def test_a_large_order_keeps_the_latest_bought_products_within_the_bounds(shop):
    lines = [{"product_id": f"p{i}", "quantity": 1} for i in range(BOUGHT_MAX + 50)]
    collect(
        shop,
        [make_event("add_to_cart", product_id="p0", ts=at(1)), make_event("purchase", ts=at(2), items=lines)],
    )
    activity = read_activity(shop=shop, visitor_id="v-1")
    assert activity.bought == [f"p{i}" for i in range(50, BOUGHT_MAX + 50)]
    assert len(activity.recent) == RECENT_MAX
    assert all(kind == "purchase" for _, kind, _, _ in activity.recent)
    assert activity.cart == []


def test_two_batches_read_before_either_is_stored_both_count(shop):
    first = prepare_events(shop=shop, batch=[make_event("product_view", product_id="p1", ts=at(1))])
    second = prepare_events(shop=shop, batch=[make_event("add_to_cart", product_id="p2", ts=at(2))])
    # Two web workers read the visitor's activity (with the rate limit) before either writes it back.
    reads = [
        ratelimit.take_events(shop_id=shop.id, limit=100, count=1, read=batch.cache_keys)[1]
        for batch in (first, second)
    ]
    store_events(first, cached=reads[0])
    store_events(second, cached=reads[1])
    activity = read_activity(shop=shop, visitor_id="v-1")
    assert [(p, t) for p, t, *_ in activity.recent] == [("p2", "add_to_cart"), ("p1", "product_view")]
    assert activity.cart == ["p2"]


@pytest.mark.skipif(redis_client() is None, reason="the compare-and-set script is Redis's")
def test_the_activity_still_updates_after_redis_forgot_its_scripts(shop):
    collect(shop, [make_event("product_view", product_id="p1", ts=at(1))])
    redis_client().get_client(write=True).script_flush()  # as a restarted Redis would
    collect(shop, [make_event("product_view", product_id="p2", ts=at(2))])
    assert [p for p, *_ in read_activity(shop=shop, visitor_id="v-1").recent] == ["p2", "p1"]


def test_a_resent_event_is_not_applied_again(shop):
    added = make_event("add_to_cart", product_id="p1", ts=at(1))
    collect(shop, [added])
    collect(shop, [make_event("remove_from_cart", product_id="p1", ts=at(2))])
    collect(shop, [added])  # a retry of the first batch
    assert read_activity(shop=shop, visitor_id="v-1").cart == []


def test_events_of_equal_time_count_in_the_order_they_arrived(shop):
    collect(shop, [make_event("product_view", product_id=p, ts=at(1)) for p in ("b", "c", "a")])
    collect(shop, [make_event("product_view", product_id="b", ts=at(1), session_id="s-2")])
    recent = read_activity(shop=shop, visitor_id="v-1").recent
    assert [(p, session) for p, _, _, session in recent] == [("b", "s-2"), ("a", "s-1"), ("c", "s-1")]


def test_visitors_and_shops_are_kept_apart(shop, other_shop):
    collect(shop, [make_event("product_view", visitor_id="v-1", product_id="mine")])
    collect(shop, [make_event("product_view", visitor_id="v-2", product_id="theirs")])
    assert [p for p, *_ in read_activity(shop=shop, visitor_id="v-1").recent] == ["mine"]
    assert read_activity(shop=other_shop, visitor_id="v-1").recent == []


@pytest.mark.skipif(redis_client() is None, reason="the four keys are Redis's")
def test_each_of_the_visitors_redis_keys_expires(shop):
    collect(shop, [make_event("add_to_cart", product_id="p1"), make_event("purchase")])
    client = redis_client()
    redis = client.get_client(write=True)
    for part in (":r", ":m", ":b"):
        assert 0 < redis.ttl(client.make_key(activity_key(shop.id, "v-1") + part)) <= TTL_SECONDS


@pytest.mark.skipif(redis_client() is None, reason="the meta hash is Redis's")
def test_the_entries_trimmed_off_leave_nothing_behind(shop):
    collect(shop, [make_event("product_view", product_id=f"p{i}", ts=at(i)) for i in range(RECENT_MAX + 20)])
    client = redis_client()
    meta = client.get_client(write=True).hgetall(client.make_key(activity_key(shop.id, "v-1") + ":m"))
    assert len(meta) == RECENT_MAX
    assert b"product_view\x1fp0" not in meta


def test_forgetting_a_visitor_erases_their_activity(shop):
    collect(shop, [make_event("add_to_cart", product_id="p1"), make_event("purchase")])
    forget_activity(shop=shop, visitor_id="v-1")
    assert read_activity(shop=shop, visitor_id="v-1") == Activity()
    if redis_client() is not None:  # sessions sit in the meta hash: every key must go
        client = redis_client()
        stem = client.make_key(activity_key(shop.id, "v-1"))
        assert client.get_client(write=True).keys(stem + "*") == []


def test_the_next_request_sees_what_was_just_collected(shop):
    make_catalog(shop)
    assert "b2" not in product_ids(recommendations(shop, "recently_viewed", visitor_id="v-1", limit=1))
    collect(shop, [make_event("product_view", visitor_id="v-1", product_id="b2")])
    assert product_ids(recommendations(shop, "recently_viewed", visitor_id="v-1", limit=1)) == ["b2"]
