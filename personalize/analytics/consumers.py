"""The live feed websocket: /ws/shops/<id>/live/, for members of the shop only (session auth)."""

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from personalize.analytics import live
from personalize.shops.services import access_shop


@database_sync_to_async
def _member_shop(user, shop_id: int):
    try:
        return access_shop(user=user, shop_id=shop_id)[0]
    except Http404:
        return None


class LiveFeedConsumer(AsyncJsonWebsocketConsumer):
    shop = None
    _ticker = None
    _pending = None

    async def connect(self):
        shop_id = int(self.scope["url_route"]["kwargs"]["shop_id"])
        # The membership check comes before joining the group: a stranger is refused at the handshake.
        self.shop = await _member_shop(self.scope.get("user"), shop_id)
        if self.shop is None:
            await self.close(code=4404)
            return
        await self.channel_layer.group_add(live.group_name(self.shop.id), self.channel_name)
        await self.accept()
        await self._send_snapshot()
        self._ticker = asyncio.create_task(self._tick())

    async def disconnect(self, code):
        for task in (self._ticker, self._pending):
            if task:
                task.cancel()
        if self.shop is not None:
            await self.channel_layer.group_discard(live.group_name(self.shop.id), self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # the feed is one-way

    async def feed_events(self, message):
        """Events arrived: send a fresh snapshot within a second, once for a burst of batches."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._send_later())

    async def _send_later(self):
        await asyncio.sleep(1)
        await self._send_snapshot()

    async def _tick(self):
        # Per-minute counts roll on with the clock even without events; the flag tells collect we watch.
        while True:
            await asyncio.sleep(live.TICK_SECONDS)
            await self._send_snapshot()

    async def _send_snapshot(self):
        await database_sync_to_async(live.watch)(self.shop.id)
        await self.send_json(await database_sync_to_async(live.snapshot)(shop=self.shop))
