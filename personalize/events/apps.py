from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "personalize.events"
    label = "events"
