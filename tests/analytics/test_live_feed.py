"""The live feed websocket, through the real ASGI application (origin check, session auth, routing)."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from personalize.analytics import live
from personalize.asgi import application
from personalize.events.services import record_events
from tests.factories import make_event

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_feed(shop_id: int, cookie: str | None = None, origin: bytes = b"http://testserver"):
    headers = [(b"origin", origin)]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/shops/{shop_id}/live/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


def run(scenario):
    return async_to_sync(scenario)()


def test_a_member_gets_a_snapshot_then_live_updates(shop, bob):
    cookie = session_cookie(bob)

    async def scenario():
        feed, connected = await open_feed(shop.id, cookie)
        assert connected
        first = await feed.receive_json_from(timeout=5)
        assert first["installed"] is False and first["latest"] == []
        # a batch through the collect service nudges the feed, which sends a fresh snapshot
        result = await database_sync_to_async(record_events)(
            shop=shop, batch=[make_event("page_view"), make_event("purchase", visitor_id="v-2")]
        )
        assert result.accepted == 2
        update = await feed.receive_json_from(timeout=5)
        assert update["installed"] is True
        assert update["events_last_minute"] == 2 and update["orders_today"] == 1
        assert update["revenue_today"] == "20.00"
        await feed.disconnect()

    run(scenario)


def test_another_shops_user_cannot_join(shop, other_shop, charlie):
    cookie = session_cookie(charlie)

    async def scenario():
        feed, connected = await open_feed(shop.id, cookie)
        assert not connected
        # and their own shop's feed works, so the refusal is about membership
        own, connected = await open_feed(other_shop.id, cookie)
        assert connected
        await own.receive_json_from(timeout=5)
        await own.disconnect()

    run(scenario)


def test_anonymous_and_foreign_origins_cannot_join(shop, alice):
    cookie = session_cookie(alice)

    async def scenario():
        _, connected = await open_feed(shop.id)
        assert not connected
        _, connected = await open_feed(shop.id, cookie, origin=b"https://evil.example")
        assert not connected
        _, connected = await open_feed(999_999, cookie)
        assert not connected

    run(scenario)


def test_collect_goes_on_when_the_channel_layer_is_down(shop, settings):
    # a real Redis channel layer pointed at a closed port: publishing fails, collect must not
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    live.watch(shop.id)
    result = record_events(shop=shop, batch=[make_event("page_view")])
    assert result.accepted == 1


def test_collect_nudges_the_shops_group_only_while_someone_watches(shop, other_shop):
    layer = get_channel_layer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add(live.group_name(shop.id), channel)

        async def next_message(timeout=2.0):
            try:
                return await asyncio.wait_for(layer.receive(channel), timeout)
            except TimeoutError:
                return None

        # collect runs in a plain thread without an event loop, as in a sync WSGI worker
        def collect(s, n):
            try:
                return record_events(shop=s, batch=[make_event("page_view") for _ in range(n)])
            finally:
                connections.close_all()  # this thread's connection, or the test database stays in use

        await asyncio.to_thread(collect, shop, 1)
        assert await next_message(0.5) is None  # nobody watches: no message

        await database_sync_to_async(live.watch)(shop.id)
        await asyncio.to_thread(collect, other_shop, 1)  # another shop's group
        await asyncio.to_thread(collect, shop, 2)
        assert await next_message() == {"type": "feed.events", "count": 2}
        assert await next_message(0.5) is None

    run(scenario)
