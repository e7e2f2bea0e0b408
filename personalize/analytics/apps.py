from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "personalize.analytics"
    label = "analytics"
