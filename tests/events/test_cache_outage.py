"""Collect when the cache (Redis) is unreachable or hangs: the events are still stored and counted
exactly, unthrottled, and a hung cache costs one timeout per break, not one per request."""

import socket
import threading

import pytest

from personalize.events.models import Event, Order, Visitor
from personalize.lib import cache as batch_cache
from tests.events.test_collect import collect
from tests.factories import make_event, redis_cache_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_redis():
    """A server that accepts connections and never answers, as a Redis stuck on a slow command or
    behind a broken network does. Yields the accepted connections' count (a list, read as it grows)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted, held = [], []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            accepted.append(1)

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for conn in held:
        conn.close()


def test_with_the_cache_down_a_batch_is_stored_and_counted_exactly(shop, cache_at_closed_port):
    batch = [
        make_event("product_view", visitor_id="v-1"),
        make_event("page_view", visitor_id="v-2", session_id=None),
        make_event("purchase", visitor_id="v-1", order_id="o-1"),
        {"event_id": "not-a-uuid", "type": "page_view", "visitor_id": "v-3"},
    ]
    first = collect(shop, batch)
    assert first.status_code == 200
    assert (first.json()["accepted"], first.json()["duplicates"], len(first.json()["rejected"])) == (3, 0, 1)
    again = collect(shop, batch).json()  # deduplicated by PostgreSQL's constraint, not the cache
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert Event.objects.for_shop(shop).count() == 3
    assert Order.objects.for_shop(shop).filter(order_id="o-1").count() == 1
    assert set(Visitor.objects.for_shop(shop).values_list("visitor_id", flat=True)) == {"v-1", "v-2"}
    # The event sent without a session got one all the same.
    assert Event.objects.for_shop(shop).get(visitor_id="v-2").session_id.startswith("s-")


def test_a_hung_cache_costs_one_timeout_per_break_not_one_per_request(shop, settings, hung_redis):
    port, accepted = hung_redis
    redis_cache_at(settings, port)
    for _ in range(5):
        assert collect(shop, [make_event()]).status_code == 200
    assert Event.objects.for_shop(shop).count() == 5
    assert len(accepted) == 1  # the first request timed out; the next four did not try
    batch_cache.mend()  # the break is over: the cache is tried again
    assert collect(shop, [make_event()]).status_code == 200
    assert len(accepted) == 2
