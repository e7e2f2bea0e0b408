from django.urls import path

from personalize.campaigns import api

app_name = "campaigns"
urlpatterns = [
    path("config", api.ConfigView.as_view(), name="config"),
]
