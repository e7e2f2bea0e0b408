"""python manage.py import_events --shop ID FILE.csv[.gz]: bring a shop's event history in bulk."""

import json
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from personalize.events.history import COLUMNS, HistoryImportError, import_history
from personalize.shops.models import Shop


class Command(BaseCommand):
    help = (
        f"Import past events from a CSV file (optionally gzipped) with the columns {','.join(COLUMNS)}. "
        "Importing the same file twice adds nothing. Prints a JSON summary on stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", type=int, required=True, help="The shop's id.")
        parser.add_argument("file", help="Path to a .csv or .csv.gz file.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args, shop: int, file: str, no_progress: bool, **options):
        found = Shop.objects.filter(id=shop).first()
        if found is None:
            raise CommandError(f"no shop with id {shop}")
        try:
            handle = open(file, "rb")  # noqa: SIM115 - closed below, after the bar
        except OSError as exc:
            raise CommandError(f"cannot open {file}: {exc.strerror}") from exc
        started = time.perf_counter()
        with (
            handle,
            tqdm(
                total=os.fstat(handle.fileno()).st_size,
                unit="B",
                unit_scale=True,
                desc="import",
                file=sys.stderr,
                disable=no_progress,
            ) as bar,
        ):
            try:
                summary = import_history(shop=found, stream=handle, progress=bar.update)
            except HistoryImportError as exc:
                raise CommandError(
                    f"{exc} (the chunks stored before it are kept; importing the file again adds only the rest)"
                ) from exc
        seconds = time.perf_counter() - started
        result = summary.as_json()
        result["seconds"] = round(seconds, 3)
        result["rows_per_second"] = round(summary.rows_read / seconds) if seconds > 0 else None
        self.stdout.write(json.dumps(result))
