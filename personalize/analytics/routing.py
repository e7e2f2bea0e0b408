from django.urls import path

from personalize.analytics.consumers import LiveFeedConsumer

websocket_urlpatterns = [path("ws/shops/<int:shop_id>/live/", LiveFeedConsumer.as_asgi())]
