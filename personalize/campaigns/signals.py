"""Every write that changes what GET /api/v1/config answers forgets the shop's built config.

Signals rather than calls in services.py, because the admin, the dashboard and the recommender's
settings (the hold-out share) write these rows too.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from personalize.campaigns.models import Campaign, CampaignVariant, SnippetSettings, WidgetSettings
from personalize.campaigns.services import config_changed
from personalize.recommend.models import RecommenderConfig
from personalize.shops.models import Shop


@receiver([post_save, post_delete], sender=Campaign)
@receiver([post_save, post_delete], sender=CampaignVariant)
@receiver([post_save, post_delete], sender=SnippetSettings)
@receiver([post_save, post_delete], sender=WidgetSettings)
@receiver([post_save, post_delete], sender=RecommenderConfig)
def _shop_row_changed(sender, instance, **kwargs):
    config_changed(instance.shop_id)


@receiver(post_save, sender=Shop)
def _shop_changed(sender, instance, **kwargs):
    config_changed(instance.id)
