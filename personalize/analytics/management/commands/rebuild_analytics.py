"""Rebuild the ROI dashboard's daily rollups for a date range (after a history import, say)."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min
from django.utils import timezone

from personalize.analytics.report import store_preset_ranges
from personalize.analytics.rollups import days_between, rebuild_days
from personalize.events.models import Event, Order
from personalize.shops.models import Shop


class Command(BaseCommand):
    help = "Rebuild analytics rollups of a shop (or every shop) for a date range; prints a JSON summary."

    def add_arguments(self, parser):
        parser.add_argument("--shop", type=int, help="A shop id; every shop when omitted.")
        parser.add_argument(
            "--from", dest="start", type=date.fromisoformat, help="YYYY-MM-DD; default: the first event."
        )
        parser.add_argument(
            "--to", dest="end", type=date.fromisoformat, help="YYYY-MM-DD; default: the last event."
        )

    def handle(self, *args, shop=None, start=None, end=None, **options):
        shops = Shop.objects.order_by("id")
        if shop is not None:
            shops = shops.filter(id=shop)
            if not shops.exists():
                raise CommandError(f"No shop with id {shop}.")
        summary = []
        for s in shops:
            first, last = start, end
            if first is None or last is None:
                bounds = [
                    Event.objects.for_shop(s).aggregate(lo=Min("ts"), hi=Max("ts")),
                    Order.objects.for_shop(s).aggregate(lo=Min("ts"), hi=Max("ts")),
                ]
                los = [b["lo"].date() for b in bounds if b["lo"]]
                his = [b["hi"].date() for b in bounds if b["hi"]]
                first = first or (min(los) if los else None)
                last = last or (max(his) if his else None)
            if first is None or last is None:
                summary.append({"shop_id": s.id, "days": 0})
                continue
            if last < first:
                raise CommandError("--to is before --from.")
            days = days_between(first, last)
            rebuilt = rebuild_days(shop=s, days=days)
            store_preset_ranges(shop=s, today=timezone.now().date())
            summary.append(
                {"shop_id": s.id, "from": first.isoformat(), "to": last.isoformat(), "days": rebuilt}
            )
        self.stdout.write(json.dumps({"shops": summary}))
