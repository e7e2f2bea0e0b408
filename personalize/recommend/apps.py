from django.apps import AppConfig


class RecommendConfig(AppConfig):
    name = "personalize.recommend"
    label = "recommend"
