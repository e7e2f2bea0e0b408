import json

from django.core.management.base import BaseCommand, CommandError

from personalize.recommend.models import ModelVersion
from personalize.recommend.training import train_version
from personalize.shops.models import Shop


class Command(BaseCommand):
    help = "Train a shop's model now and print the new version's metrics as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--shop", type=int, required=True)

    def handle(self, *args, shop, **options):
        target = Shop.objects.filter(id=shop).first()
        if target is None:
            raise CommandError(f"no shop with id {shop}")
        version = ModelVersion.objects.create(shop=target, reason="manage.py train")
        version = train_version(version.id)
        self.stdout.write(
            json.dumps(
                {
                    "version": version.id,
                    "status": version.status,
                    "algorithm": version.algorithm,
                    "decision": version.decision,
                    "error": version.error[-2000:] or None,
                    "metrics": version.metrics,
                    "n_users": version.n_users,
                    "n_items": version.n_items,
                    "n_interactions": version.n_interactions,
                    "train_seconds": version.train_seconds,
                    "params": version.params,
                },
                indent=2,
                default=str,
            )
        )
        if version.status == ModelVersion.FAILED:
            raise CommandError("training failed")
