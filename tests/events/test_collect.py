import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from personalize.events.models import Event, Order, Visitor
from personalize.recommend.realtime import read_activity
from tests.factories import make_event

ORIGIN = "https://alice-shop.example"


def collect(shop_or_key, events, *, origin=ORIGIN, content_type="text/plain", client=None, **extra):
    site_key = shop_or_key if isinstance(shop_or_key, str) else shop_or_key.site_key
    body = json.dumps({"site_key": site_key, "events": events})
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return (client or Client()).post("/api/v1/collect", body, content_type=content_type, **headers, **extra)


def stored_ids(shop):
    return {str(e) for e in Event.objects.for_shop(shop).values_list("event_id", flat=True)}


@pytest.mark.django_db
class TestAccounting:
    def test_it_accounts_for_every_event_of_a_mixed_batch(self, shop):
        already = make_event("page_view")
        assert collect(shop, [already]).json()["accepted"] == 1
        good = [make_event("product_view"), make_event("add_to_cart"), make_event("search")]
        repeated = dict(good[0])
        bad = [{"event_id": "nope", "type": "page_view", "visitor_id": "v"}, {"type": "page_view"}, "junk"]
        batch = [good[0], already, bad[0], good[1], repeated, bad[1], good[2], bad[2]]

        answer = collect(shop, batch).json()

        assert answer["accepted"] == 3
        assert answer["duplicates"] == 2
        assert [r["index"] for r in answer["rejected"]] == [2, 5, 7]
        assert answer["accepted"] + answer["duplicates"] + len(answer["rejected"]) == len(batch)
        assert stored_ids(shop) == {e["event_id"] for e in good} | {already["event_id"]}

    def test_it_names_the_field_of_each_error(self, shop):
        answer = collect(shop, [{"event_id": "x", "type": "page_view", "visitor_id": "v"}]).json()
        assert answer["rejected"] == [
            {"index": 0, "event_id": "x", "errors": {"event_id": ["must be a UUID"]}}
        ]

    def test_it_takes_json_content_type_too(self, shop):
        response = collect(shop, [make_event()], content_type="application/json")
        assert response.status_code == 200
        assert response.json()["accepted"] == 1

    def test_it_answers_an_empty_batch(self, shop):
        assert collect(shop, []).json() == {"accepted": 0, "duplicates": 0, "rejected": []}

    def test_it_stores_every_field(self, shop):
        event = make_event(
            "add_to_cart",
            product_id="sku-9",
            quantity=2,
            price=12.5,
            currency="gbp",
            url="https://alice-shop.example/p",
            referrer="https://search.example/",
            customer_id="cust-7",
            ts="2026-01-02T03:04:05Z",
            properties={"colour": "red"},
        )
        collect(shop, [event])
        stored = Event.objects.for_shop(shop).get()
        assert (stored.type, stored.product_id, stored.quantity, float(stored.price), stored.currency) == (
            "add_to_cart",
            "sku-9",
            2,
            12.5,
            "GBP",
        )
        assert stored.ts == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert stored.properties == {"colour": "red"}
        assert stored.customer_id == "cust-7"
        assert stored.received_at > stored.ts


@pytest.mark.django_db
class TestBadInput:
    def test_it_rejects_malformed_json_with_400(self, shop):
        response = Client().post(
            "/api/v1/collect", '{"site_key": "x", "events": [', content_type="text/plain", HTTP_ORIGIN=ORIGIN
        )
        assert response.status_code == 400
        assert "body" in response.json()["errors"]

    def test_it_rejects_a_body_that_is_not_an_object(self, shop):
        response = Client().post("/api/v1/collect", "[1, 2]", content_type="text/plain", HTTP_ORIGIN=ORIGIN)
        assert response.status_code == 400
        assert "body" in response.json()["errors"]

    def test_it_rejects_events_that_are_not_a_list(self, shop):
        response = Client().post(
            "/api/v1/collect",
            json.dumps({"site_key": shop.site_key, "events": {}}),
            content_type="text/plain",
            HTTP_ORIGIN=ORIGIN,
        )
        assert response.status_code == 400
        assert "events" in response.json()["errors"]

    def test_it_rejects_an_oversize_body_with_413_and_stores_nothing(self, shop):
        big = [make_event(properties={"pad": "y" * 4000}) for _ in range(100)]
        body = json.dumps({"site_key": shop.site_key, "events": big}) + " " * (120 * 1024)
        assert len(body) > 512 * 1024
        response = Client().post("/api/v1/collect", body, content_type="text/plain", HTTP_ORIGIN=ORIGIN)
        assert response.status_code == 413
        assert "body" in response.json()["errors"]
        assert Event.objects.for_shop(shop).count() == 0

    def test_it_rejects_more_than_100_events_with_413(self, shop):
        response = collect(shop, [make_event() for _ in range(101)])
        assert response.status_code == 413
        assert "events" in response.json()["errors"]
        assert Event.objects.for_shop(shop).count() == 0

    def test_it_rejects_wrong_types_one_by_one(self, shop):
        good = make_event()
        batch = [
            make_event("add_to_cart", quantity="2"),
            make_event("add_to_cart", price="free"),
            make_event(properties=["a"]),
            make_event(visitor_id=123),
            make_event(ts={"at": 1}),
            make_event(currency="pounds"),
            make_event("purchase", items="sku-1"),
            good,
        ]
        answer = collect(shop, batch).json()
        errors = [r["errors"] for r in answer["rejected"]]
        assert errors == [
            {"quantity": ["must be an integer"]},
            {"price": ["must be a number"]},
            {"properties": ["must be an object"]},
            {"visitor_id": ["must be a string"]},
            {"ts": ["must be ISO 8601 text or epoch milliseconds"]},
            {"currency": ["must be at most 3 characters"]},
            {"items": ["must be a list of {product_id, quantity, price}"]},
        ]
        assert stored_ids(shop) == {good["event_id"]}

    def test_it_rejects_an_unknown_type(self, shop):
        answer = collect(shop, [make_event("teleport")]).json()
        assert list(answer["rejected"][0]["errors"]) == ["type"]

    def test_it_requires_the_fields_of_each_type(self, shop):
        answer = collect(
            shop,
            [
                make_event("product_view", product_id=None),
                make_event("search", query=None),
                make_event("rec_click", rec_id=None),
                make_event("campaign_click", campaign_id=None),
                make_event("identify"),
                make_event("purchase", order_id=None),
            ],
        ).json()
        assert [r["errors"] for r in answer["rejected"]] == [
            {"product_id": ["is required for product_view"]},
            {"query": ["is required for search"]},
            {"rec_id": ["is required for rec_click"]},
            {"campaign_id": ["is required for campaign_click"]},
            {"customer_id": ["is required for identify"]},
            {"order_id": ["is required for purchase"]},
        ]

    def test_it_rejects_timestamps_far_in_the_future(self, shop):
        future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        near = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        answer = collect(shop, [make_event(ts=future), make_event(ts=near)]).json()
        assert answer["accepted"] == 1
        assert answer["rejected"][0]["errors"] == {"ts": ["is too far in the future (more than 24 h ahead)"]}

    def test_it_takes_epoch_milliseconds_and_refuses_seconds(self, shop):
        ms = make_event(ts=1_700_000_000_000)
        answer = collect(shop, [ms, make_event(ts=1_700_000_000)]).json()
        assert answer["accepted"] == 1
        assert answer["rejected"][0]["errors"] == {
            "ts": ["is too small for epoch milliseconds (seconds sent?)"]
        }
        assert Event.objects.for_shop(shop).get().ts == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)

    def test_it_rejects_properties_over_4_kb(self, shop):
        answer = collect(
            shop, [make_event(properties={"a": "x" * 4100}), make_event(properties={"a": "x" * 4000})]
        )
        assert answer.json()["accepted"] == 1
        assert answer.json()["rejected"][0]["errors"] == {"properties": ["must be at most 4 KB of JSON"]}

    def test_it_rejects_only_the_event_holding_non_utf8_bytes(self, shop):
        good, bad = make_event(), make_event(url="PLACEHOLDER")
        body = json.dumps({"site_key": shop.site_key, "events": [good, bad]}).encode()
        body = body.replace(b"PLACEHOLDER", b"https://alice-shop.example/caf\xe9")  # Latin-1, not UTF-8
        response = Client().post("/api/v1/collect", body, content_type="text/plain", HTTP_ORIGIN=ORIGIN)
        assert response.status_code == 200
        assert response.json()["rejected"] == [
            {"index": 1, "event_id": bad["event_id"], "errors": {"url": ["is not valid UTF-8 text"]}}
        ]
        assert stored_ids(shop) == {good["event_id"]}

    def test_it_rejects_lone_surrogates_and_nul_characters(self, shop):
        good = make_event()
        body = json.dumps(
            {
                "site_key": shop.site_key,
                "events": [
                    make_event(query="\ud800", type="search"),
                    make_event(properties={"k": "a\u0000b"}),
                    good,
                ],
            }
        )
        answer = Client().post("/api/v1/collect", body, content_type="text/plain", HTTP_ORIGIN=ORIGIN).json()
        assert [r["errors"] for r in answer["rejected"]] == [
            {"query": ["is not valid UTF-8 text"]},
            {"properties": ["must not contain NUL characters"]},
        ]
        assert stored_ids(shop) == {good["event_id"]}


@pytest.mark.django_db
class TestKeysAndOrigins:
    def test_it_rejects_an_unknown_site_key_with_403(self, shop):
        response = collect("pk_doesnotexist", [make_event()])
        assert response.status_code == 403
        assert "site_key" in response.json()["errors"]

    def test_it_rejects_a_disallowed_origin_with_403(self, shop):
        response = collect(shop, [make_event()], origin="https://evil.example")
        assert response.status_code == 403
        assert "origin" in response.json()["errors"]
        assert "Access-Control-Allow-Origin" not in response
        assert Event.objects.for_shop(shop).count() == 0

    def test_it_rejects_a_lookalike_domain(self, shop):
        assert collect(shop, [make_event()], origin="https://notalice-shop.example").status_code == 403
        assert collect(shop, [make_event()], origin="https://alice-shop.example.evil.io").status_code == 403

    def test_it_allows_subdomains_of_an_allowed_domain(self, shop):
        response = collect(shop, [make_event()], origin="https://www.alice-shop.example")
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == "https://www.alice-shop.example"

    def test_it_falls_back_to_the_referer_without_an_origin(self, shop):
        assert collect(shop, [make_event()], origin=None).status_code == 403
        ok = collect(shop, [make_event()], origin=None, HTTP_REFERER="https://alice-shop.example/cart")
        assert ok.status_code == 200

    def test_a_localhost_shop_takes_any_origin(self, db):
        from personalize.shops.services import create_shop

        dev = create_shop(name="Dev", domains=["localhost"])
        assert collect(dev, [make_event()], origin="http://192.0.2.7:3000").status_code == 200

    def test_a_secret_key_needs_no_origin(self, shop, secret_key):
        body = json.dumps({"events": [make_event()]})
        response = Client().post(
            "/api/v1/collect",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret_key}",
        )
        assert response.status_code == 200
        assert Event.objects.for_shop(shop).count() == 1

    def test_an_unknown_secret_key_gets_403(self, shop):
        response = Client().post(
            "/api/v1/collect",
            json.dumps({"events": [make_event()]}),
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer sk_nope",
        )
        assert response.status_code == 403

    def test_events_land_only_in_the_keys_shop(self, shop, other_shop):
        event = make_event()
        collect(other_shop, [event], origin="https://charlie-shop.example")
        assert stored_ids(other_shop) == {event["event_id"]}
        assert stored_ids(shop) == set()
        # The same event_id in another shop is a different event, not a duplicate: shops cannot probe each other.
        assert collect(shop, [event]).json()["accepted"] == 1

    def test_it_answers_the_cors_preflight(self, shop):
        response = Client().options(
            "/api/v1/collect", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
        )
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == ORIGIN
        assert "Content-Type" in response["Access-Control-Allow-Headers"]


@pytest.mark.django_db
class TestOrdersSessionsVisitors:
    def test_an_order_counts_once_however_often_it_is_sent(self, shop):
        first = make_event("purchase", order_id="o-1", revenue=30.0)
        resent = make_event("purchase", order_id="o-1", revenue=30.0)  # a new event_id, the same order
        collect(shop, [first])
        collect(shop, [resent])
        order = Order.objects.for_shop(shop).get()
        assert (order.order_id, float(order.revenue), order.source) == ("o-1", 30.0, "event")
        assert [(li.product_id, li.quantity, float(li.price)) for li in order.lines.all()] == [
            ("sku-1", 2, 10.0)
        ]
        assert Event.objects.for_shop(shop).filter(type="purchase").count() == 2

    def test_revenue_defaults_to_the_items_total(self, shop):
        event = make_event(
            "purchase",
            order_id="o-2",
            items=[{"product_id": "a", "quantity": 3, "price": 2.5}, {"product_id": "b", "price": 1}],
        )
        del event["revenue"]
        collect(shop, [event])
        assert float(Order.objects.for_shop(shop).get().revenue) == 8.5

    def test_it_derives_sessions_with_a_30_minute_idle_rule(self, shop):
        start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
        at = [start, start + timedelta(minutes=20), start + timedelta(minutes=55)]
        events = [make_event(ts=t.isoformat(), session_id=None) for t in at]
        collect(shop, events[:2])
        collect(shop, events[2:])
        sessions = list(Event.objects.for_shop(shop).order_by("ts").values_list("session_id", flat=True))
        assert sessions[0] == sessions[1] != sessions[2]
        assert all(sessions)

    def test_it_keeps_the_clients_session(self, shop):
        collect(shop, [make_event(session_id="mine")])
        assert Event.objects.for_shop(shop).get().session_id == "mine"

    def test_identify_links_the_visitor_to_a_customer(self, shop):
        collect(shop, [make_event(visitor_id="v-9")])
        collect(shop, [make_event("identify", visitor_id="v-9", customer_id="cust-42")])
        collect(shop, [make_event(visitor_id="v-9")])  # later anonymous events keep the link
        visitor = Visitor.objects.for_shop(shop).get(visitor_id="v-9")
        assert visitor.customer_id == "cust-42"


@pytest.mark.django_db
class TestRateLimit:
    def test_it_answers_429_with_retry_after_over_the_shops_rate(self, shop):
        shop.collect_rate_limit = 5
        shop.save(update_fields=["collect_rate_limit"])
        assert collect(shop, [make_event() for _ in range(4)]).status_code == 200
        over = collect(shop, [make_event() for _ in range(2)])
        assert over.status_code == 429
        # Once this minute is full, the batch fits as it slides out: within the next two minutes.
        assert 1 <= int(over["Retry-After"]) <= 120
        assert "events" in over.json()["errors"]
        # A refused batch spends nothing: one more event still fits.
        assert collect(shop, [make_event()]).status_code == 200
        assert Event.objects.for_shop(shop).count() == 5

    def test_one_shops_rate_does_not_touch_anothers(self, shop, other_shop):
        shop.collect_rate_limit = 1
        shop.save(update_fields=["collect_rate_limit"])
        collect(shop, [make_event()])
        assert collect(shop, [make_event()]).status_code == 429
        assert collect(other_shop, [make_event()], origin="https://charlie-shop.example").status_code == 200


@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    def run_threads(self, count, target):
        results = [None] * count
        barrier = threading.Barrier(count)

        def worker(i):
            barrier.wait()
            try:
                results[i] = target()
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_the_same_batch_sent_at_once_from_several_threads_is_stored_once(self, shop):
        batch = [make_event("product_view") for _ in range(20)] + [make_event("purchase", order_id="o-race")]
        responses = self.run_threads(6, lambda: collect(shop, batch).json())
        assert sum(r["accepted"] for r in responses) == len(batch)
        assert all(r["accepted"] + r["duplicates"] == len(batch) for r in responses)
        assert Event.objects.for_shop(shop).count() == len(batch)
        assert Order.objects.for_shop(shop).count() == 1
        assert Order.objects.for_shop(shop).get().lines.count() == 1

    def test_batches_of_one_visitor_sent_at_once_all_reach_the_real_time_activity(self, shop):
        products = [f"p{i}" for i in range(8)]
        self.run_threads(
            len(products), lambda: collect(shop, [make_event("add_to_cart", product_id=products.pop())])
        )
        activity = read_activity(shop=shop, visitor_id="v-1")
        assert sorted(p for p, *_ in activity.recent) == sorted(activity.cart) == [f"p{i}" for i in range(8)]

    def test_the_rate_limit_holds_under_concurrency(self, shop):
        shop.collect_rate_limit = 7
        shop.save(update_fields=["collect_rate_limit"])
        statuses = self.run_threads(16, lambda: collect(shop, [make_event()]).status_code)
        assert sorted(statuses) == [200] * 7 + [429] * 9
        assert Event.objects.for_shop(shop).count() == 7


@pytest.mark.django_db
def test_the_collect_path_makes_a_constant_number_of_queries(shop, django_assert_num_queries):
    def batch(n):
        events = [make_event("product_view", visitor_id=f"v-{i}", session_id=None) for i in range(n - 1)]
        return events + [make_event("purchase", visitor_id="v-0")]

    collect(shop, [make_event()])  # warm the site-key cache
    # SAVEPOINT/RELEASE (the test's own transaction), INSERT events, orders, order lines, and the
    # visitors: in the events statement on PostgreSQL (a CTE, which also sets synchronous_commit),
    # a statement of their own on SQLite.
    expected = 5 if connection.vendor == "postgresql" else 6
    with django_assert_num_queries(expected):
        assert collect(shop, batch(2)).json()["accepted"] == 2
    with django_assert_num_queries(expected):
        assert collect(shop, batch(100)).json()["accepted"] == 100


@pytest.mark.django_db
def test_a_batch_without_purchases_is_one_statement_on_postgresql(shop, django_assert_num_queries):
    collect(shop, [make_event()])  # warm the site-key cache
    events = [make_event("product_view", visitor_id=f"v-{i}") for i in range(50)]
    # PostgreSQL: one INSERT in autocommit (events and their visitors); SQLite: a transaction
    # (SAVEPOINT/RELEASE here) with the events and the visitors.
    expected = 1 if connection.vendor == "postgresql" else 4
    with django_assert_num_queries(expected):
        assert collect(shop, events).json()["accepted"] == 50
    with django_assert_num_queries(expected):
        assert collect(shop, [make_event("page_view", visitor_id="v-lone")]).json()["accepted"] == 1
    assert Visitor.objects.for_shop(shop).filter(visitor_id__in=["v-0", "v-49", "v-lone"]).count() == 3


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_collect_insert_becomes_a_prepared_statement_after_a_few_batches(shop):
    def prepared_inserts() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%INSERT INTO \"events_event\"%%'"
            )
            return cursor.fetchone()[0]

    collect(shop, [make_event()])
    assert prepared_inserts() == 0  # planned anew while it may be a one-off
    for _ in range(5):
        collect(shop, [make_event("page_view", visitor_id="v-same")])

    assert prepared_inserts() >= 1
    assert Event.objects.for_shop(shop).count() == 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's")
def test_the_relaxed_commit_lasts_only_for_the_collect_statement(shop):
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert not connection.in_atomic_block
    assert collect(shop, [make_event(), make_event()]).json()["accepted"] == 2  # autocommit
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")  # the connection's other writes wait for the disk
        assert cursor.fetchone()[0] == "on"
    assert Event.objects.for_shop(shop).count() == 2


@pytest.mark.django_db
def test_a_duplicate_touches_no_visitor(shop):
    event = make_event("product_view", visitor_id="v-first")
    assert collect(shop, [event]).json()["accepted"] == 1
    # The same event_id again, claiming another visitor: a duplicate, and no visitor row for it.
    answer = collect(shop, [{**event, "visitor_id": "v-claimed"}, make_event(visitor_id="v-other")]).json()
    assert (answer["accepted"], answer["duplicates"]) == (1, 1)
    assert set(Visitor.objects.for_shop(shop).values_list("visitor_id", flat=True)) == {"v-first", "v-other"}


@pytest.mark.django_db
def test_it_rejects_nan_in_properties_which_jsonb_cannot_store(shop):
    good = make_event()
    body = json.dumps(
        {"site_key": shop.site_key, "events": [make_event(properties={"x": float("nan")}), good]}
    )
    answer = Client().post("/api/v1/collect", body, content_type="text/plain", HTTP_ORIGIN=ORIGIN).json()
    assert answer["rejected"][0]["errors"] == {"properties": ["must be plain JSON"]}
    assert stored_ids(shop) == {good["event_id"]}


@pytest.mark.django_db
def test_the_rate_limit_reads_the_batchs_cache_values_with_its_count(shop):
    from django.core.cache import cache

    from personalize.events import ratelimit

    cache.set("t:activity", {"r": [["p-1", "product_view", 1.0, "s"]]})
    cache.set("t:number", 5)
    start = 1_000_000.0  # a minute window [999,960, 1,000,020)
    counter = f"rl:{shop.id}:{int(start // 60)}"
    retry, values = ratelimit.take_events(
        shop_id=shop.id, limit=3, count=2, now=start, read=["t:activity", "t:number", "t:missing"]
    )
    assert retry is None
    assert values == {"t:activity": {"r": [["p-1", "product_view", 1.0, "s"]]}, "t:number": 5}
    assert cache.get(counter) == 2
    if hasattr(cache, "ttl"):  # Redis: the window's counter expires by itself
        assert 60 < cache.ttl(counter) <= 120
    retry, values = ratelimit.take_events(
        shop_id=shop.id, limit=3, count=2, now=start + 10, read=["t:number"]
    )
    # 50 s into the minute: the two fit when this minute's two weigh 1, 30 s into the next one.
    assert (retry, values) == (40, {})
    assert cache.get(counter) == 2  # the refused batch spent nothing
    assert ratelimit.take_events(shop_id=shop.id, limit=3, count=1, now=start + 15)[0] is None
    assert ratelimit.take_events(shop_id=shop.id, limit=3, count=1, now=start + 16)[0] == 24


@pytest.mark.django_db
def test_the_rate_limit_slides_so_a_minutes_boundary_does_not_double_the_budget(shop):
    from personalize.events import ratelimit

    def take(count, at):
        return ratelimit.take_events(shop_id=shop.id, limit=10, count=count, now=at)[0]

    boundary = 60.0 * 20_000
    assert take(10, boundary - 1) is None  # the whole budget in the last second of a minute
    # A fixed window would take 10 more now. The previous minute still weighs 59/60 of its 10, and
    # one more event fits once it weighs 9: 6 s into this minute.
    assert take(1, boundary + 1) == 5
    assert take(1, boundary + 5.9) == 1
    assert take(1, boundary + 6) is None
    # Halfway through, the previous minute weighs 5: with this minute's 1, four more fit, not five.
    assert take(5, boundary + 30) == 6
    assert take(4, boundary + 30) is None
    # A batch larger than the whole budget never fits: it is told to wait a window.
    assert take(11, boundary + 40) == 60
