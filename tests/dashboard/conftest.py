"""Dashboard fixtures: logged-in clients for the cast, and a snapshot of everything a page could change."""

import pytest
from django.test import Client

from personalize.catalog.models import FeedImport, Product
from personalize.shops.models import Membership, SecretKey, Shop


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice, shop):
    return client_for(alice)


@pytest.fixture
def bob_client(bob, shop):
    return client_for(bob)


@pytest.fixture
def charlie_client(charlie, other_shop):
    return client_for(charlie)


def snapshot() -> dict:
    """Every row the dashboard can write, so a test can prove a refused request changed nothing."""
    return {
        "shops": list(
            Shop.objects.order_by("id").values("id", "name", "site_key", "allowed_domains", "currency")
        ),
        "keys": list(
            SecretKey.objects.order_by("id").values("id", "shop_id", "label", "revoked_at", "key_hash")
        ),
        "members": list(Membership.objects.order_by("id").values("id", "shop_id", "user_id", "role")),
        "imports": list(FeedImport.objects.order_by("id").values("id", "shop_id", "status")),
        "products": list(Product.objects.order_by("id").values("id", "shop_id", "product_id")),
    }
