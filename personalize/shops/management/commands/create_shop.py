import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from personalize.shops.services import DomainError, create_shop, issue_secret_key


class Command(BaseCommand):
    help = "Create a shop and print {shop_id, site_key, secret_key, ...} as one JSON object."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--domain", required=True, action="append", help="repeat for several")
        parser.add_argument("--owner", help="email of the owning merchant; created if new")
        parser.add_argument("--currency", default="USD")

    def handle(self, *args, name, domain, owner, currency, **options):
        user = None
        if owner:
            user, _ = get_user_model().objects.get_or_create(
                username=owner.lower(), defaults={"email": owner}
            )
        try:
            shop = create_shop(name=name, domains=domain, owner=user, currency=currency)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        _, secret = issue_secret_key(shop=shop, label="create_shop")
        self.stdout.write(
            json.dumps(
                {
                    "shop_id": shop.id,
                    "name": shop.name,
                    "site_key": shop.site_key,
                    "secret_key": secret,
                    "allowed_domains": shop.allowed_domains,
                    "owner": user.username if user else None,
                }
            )
        )
