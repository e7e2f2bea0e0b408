"""Nightly retention: beat fans out one task per shop that keeps events for a limited time."""

from celery import shared_task

from personalize.events.retention import apply_retention
from personalize.shops.models import Shop


@shared_task(ignore_result=True)
def apply_retention_task(shop_id: int) -> dict | None:
    shop = Shop.objects.filter(id=shop_id).first()
    return None if shop is None else apply_retention(shop=shop)


@shared_task(ignore_result=True)
def enforce_retention() -> int:
    """Every tenant with a retention period: only the scheduler walks them all."""
    shop_ids = list(
        Shop.objects.filter(event_retention_days__gt=0).order_by("id").values_list("id", flat=True)
    )
    for shop_id in shop_ids:
        apply_retention_task.delay(shop_id)
    return len(shop_ids)
