"""The ROI overview's CSV export and the live feed's polling endpoint (the page is the shop home)."""

from django.urls import path

from personalize.analytics import views

app_name = "analytics"

shop = "dashboard/shops/<int:shop_id>/analytics/"

urlpatterns = [
    path(shop + "<slug:table>.csv", views.export, name="export"),
    path(shop + "live.json", views.live_feed, name="live"),
]
