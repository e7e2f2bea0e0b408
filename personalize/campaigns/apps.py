from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "personalize.campaigns"
    label = "campaigns"

    def ready(self):
        from personalize.campaigns import signals  # noqa: F401
