"""Recommender background work: train one version; decide which shops need training."""

from celery import shared_task
from django.db.models import Max
from django.utils import timezone

from personalize.events.models import Event
from personalize.recommend.models import ModelVersion, RecommenderConfig
from personalize.recommend.training import ShopBusy, request_training, train_version
from personalize.shops.models import Shop


@shared_task(autoretry_for=(ShopBusy,), retry_backoff=30, max_retries=20, ignore_result=True)
def train_version_task(version_id: int) -> None:
    train_version(version_id)


@shared_task(ignore_result=True)
def schedule_trainings() -> int:
    """Queue a training for every shop whose data moved on: N new events, or a day with any."""
    queued = 0
    for shop in unscoped_all_shops():
        config = RecommenderConfig.for_shop(shop)
        last = ModelVersion.objects.for_shop(shop).aggregate(at=Max("created_at"))["at"]
        new_events = Event.objects.for_shop(shop)
        if last is not None:
            new_events = new_events.filter(received_at__gt=last)
        due = last is None or timezone.now() - last > timezone.timedelta(hours=config.retrain_every_hours)
        if new_events[: config.retrain_after_events].count() >= config.retrain_after_events or (
            due and new_events.exists()
        ):
            queued += request_training(shop=shop, reason="schedule") is not None
    return queued


def unscoped_all_shops():
    """Every tenant: only the scheduler walks them all."""
    return Shop.objects.order_by("id").iterator()
