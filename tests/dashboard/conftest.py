"""Dashboard fixtures: logged-in clients for the cast, and a snapshot of everything a page could change."""

import pytest
from django.test import Client

from personalize.catalog.models import FeedImport, Product
from personalize.celery import app as celery_app
from personalize.shops.models import Membership, SecretKey, Shop


@pytest.fixture(autouse=True)
def _tasks_run_inline():
    """Feed imports run inline. Settings arrive under the CELERY_ namespace, whose key outranks the
    plain `task_always_eager` that tests/conftest.py sets, so set the namespaced one."""
    before = celery_app.conf.CELERY_TASK_ALWAYS_EAGER
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = before


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


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploaded feeds go to a throw-away folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


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
