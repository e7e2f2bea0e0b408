from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "personalize.catalog"
    label = "catalog"
