from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "personalize.demo"
    label = "demo"
