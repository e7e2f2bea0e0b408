"""python manage.py import_feed --shop ID FILE_OR_URL: import a product feed now, in this process."""

import json
import sys
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from personalize.catalog.models import FeedImport
from personalize.catalog.services import feed_import_summary, import_feed
from personalize.shops.models import Shop


class Command(BaseCommand):
    help = (
        "Import a CSV or Google Shopping XML feed (optionally gzipped) from a file or an http(s) URL. "
        "Shows progress on stderr and prints a JSON summary on stdout; exits non-zero when the feed "
        "cannot be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", type=int, required=True, help="The shop's id.")
        parser.add_argument("source", help="A path (.csv, .xml, either .gz) or an http(s) URL.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args, **options):
        shop = Shop.objects.filter(id=options["shop"]).first()
        if shop is None:
            raise CommandError(f"No shop with id {options['shop']}")
        source: str = options["source"]
        scheme = urlsplit(source).scheme.lower()
        if "://" in source and scheme not in ("http", "https"):
            raise CommandError(f"Only http and https URLs can be imported, not {scheme}://")
        fileobj = None
        if scheme not in ("http", "https"):
            try:
                fileobj = open(source, "rb")  # closed in the finally below
            except OSError as exc:
                raise CommandError(f"Cannot read {source}: {exc.strerror or exc}") from exc
        try:
            feed_import = FeedImport.objects.create(shop=shop, source=source[-2048:])
            with tqdm(
                file=options.get("stderr") or sys.stderr,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc="import",
                disable=options["no_progress"],
            ) as bar:

                def show(progress: FeedImport) -> None:
                    bar.total = progress.total_bytes or None
                    bar.update(progress.bytes_read - bar.n)
                    bar.set_postfix_str(
                        f"rows={progress.rows_read:,} rejected={progress.rejected:,}", refresh=False
                    )

                # The operator runs this: any URL they can reach is theirs to import, local ones too.
                import_feed(
                    shop=shop,
                    feed_import=feed_import,
                    fileobj=fileobj,
                    on_progress=show,
                    allow_private_hosts=True,
                )
        finally:
            if fileobj is not None:
                fileobj.close()
        self.stdout.write(json.dumps(feed_import_summary(feed_import)))
        if feed_import.status == FeedImport.FAILED:
            raise CommandError(feed_import.failure)
