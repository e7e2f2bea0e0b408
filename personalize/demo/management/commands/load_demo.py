"""python manage.py load_demo: the demo shop with its catalog and history, ready to browse at /demo/."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from personalize.catalog.models import FeedImport
from personalize.demo.services import DEMO_EMAIL, DEMO_PASSWORD, EVENTS_FILE, load_demo


class Command(BaseCommand):
    help = (
        "Create (or reuse) the demo shop 'Demo Gift Shop' and its merchant login, and load its catalog "
        "and purchase history (UCI Online Retail, CC BY 4.0). Running it again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args, no_progress: bool, **options):
        with tqdm(
            total=EVENTS_FILE.stat().st_size,
            unit="B",
            unit_scale=True,
            desc="history",
            file=sys.stderr,
            disable=no_progress,
        ) as bar:
            result = load_demo(progress=bar.update)
        feed = result.feed_import
        if feed.status == FeedImport.FAILED:
            raise CommandError(f"the demo catalog could not be imported: {feed.failure}")
        shop = result.shop
        self.stdout.write(
            json.dumps(
                {
                    "shop_id": shop.id,
                    "site_key": shop.site_key,
                    "shop_created": result.shop_created,
                    "login": {"url": "/login/", "email": DEMO_EMAIL, "password": DEMO_PASSWORD},
                    "store": "/demo/",
                    "products": {"created": feed.created, "updated": feed.updated, "rejected": feed.rejected},
                    "history": {k: v for k, v in result.history.as_json().items() if k != "first_rejected"},
                },
                indent=2,
            )
        )
