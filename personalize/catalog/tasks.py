"""Catalog background work. Thin: take ids, re-fetch, call a service."""

from celery import shared_task

from personalize.catalog.models import FeedImport
from personalize.catalog.services import import_feed


@shared_task(ignore_result=True)
def import_feed_task(feed_import_id: int) -> None:
    """Run a queued feed import; a redelivered task re-runs it (the upsert makes that harmless)."""
    # Unscoped on purpose: the id was queued by start_feed_import, and the row names its own shop.
    feed_import = FeedImport.objects.select_related("shop").filter(id=feed_import_id).first()
    if feed_import is None or feed_import.status in (FeedImport.DONE, FeedImport.FAILED):
        return
    import_feed(shop=feed_import.shop, feed_import=feed_import)
