from django.urls import path

from personalize.events import api

app_name = "events"
urlpatterns = [
    path("collect", api.CollectView.as_view(), name="collect"),
    path("orders", api.OrdersView.as_view(), name="orders"),
    path("visitors/<path:visitor_id>", api.VisitorView.as_view(), name="visitor"),
]
