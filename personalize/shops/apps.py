from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "personalize.shops"
    label = "shops"
