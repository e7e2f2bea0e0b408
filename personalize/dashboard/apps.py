from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "personalize.dashboard"
    label = "dashboard"
