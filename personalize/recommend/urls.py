from django.urls import path

from personalize.recommend import api

app_name = "recommend"
urlpatterns = [
    path("recommendations", api.RecommendationsView.as_view(), name="recommendations"),
]
