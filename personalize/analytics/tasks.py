"""Keeping the rollups current: beat rebuilds today and yesterday of every shop every few minutes."""

from celery import shared_task
from django.utils import timezone

from personalize.analytics.report import store_preset_ranges
from personalize.analytics.rollups import rebuild_days
from personalize.shops.models import Shop


@shared_task(ignore_result=True)
def rebuild_days_task(shop_id: int, days: list[str]) -> int:
    shop = Shop.objects.filter(id=shop_id).first()
    if shop is None:
        return 0
    rebuilt = rebuild_days(shop=shop, days=[timezone.datetime.fromisoformat(d).date() for d in days])
    today = timezone.now().date()
    if today.isoformat() in days:
        store_preset_ranges(shop=shop, today=today)
    return rebuilt


@shared_task(ignore_result=True)
def refresh_recent_rollups() -> int:
    """Yesterday too: its last events may arrive after midnight, and today's orders attribute to
    clicks made yesterday only through today's rebuild, which reads the raw clicks."""
    today = timezone.now().date()
    days = [(today - timezone.timedelta(days=1)).isoformat(), today.isoformat()]
    shops = 0
    for shop_id in unscoped_all_shop_ids():
        rebuild_days_task.delay(shop_id, days)
        shops += 1
    return shops


def unscoped_all_shop_ids() -> list[int]:
    """Every tenant: only the scheduler walks them all."""
    return list(Shop.objects.order_by("id").values_list("id", flat=True))
