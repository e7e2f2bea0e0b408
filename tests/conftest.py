"""The fixed cast: Alice owns `shop`, Bob is a member of it, Charlie owns `other_shop`.

Every endpoint gets a cross-tenant test with these: Charlie's user or keys must see a 404.
"""

import socket

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from personalize.celery import app as celery_app
from personalize.lib import cache as batch_cache
from personalize.shops.models import Membership
from personalize.shops.services import create_shop, forget_cached_site_keys, issue_secret_key
from tests.factories import make_user, redis_cache_at


@pytest.fixture(autouse=True)
def _celery_runs_inline():
    """Unit tests run tasks inline; tests marked `worker` start a real worker instead.

    Settings arrive under the CELERY_ namespace, and a namespaced key outranks the plain
    `task_always_eager`, so the namespaced one is set."""
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # The cast's users are made for every test; a slow password hash would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_caches():
    cache.clear()
    forget_cached_site_keys()
    yield
    cache.clear()
    batch_cache.mend()  # a test that broke the cache must not leave its break to the next


@pytest.fixture
def cache_at_closed_port(settings):
    """The cache pointed at a local port nothing listens on: every call is refused at once, as
    when Redis is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    redis_cache_at(settings, port)


@pytest.fixture
def alice(db):
    return make_user("alice@example.com")


@pytest.fixture
def bob(db):
    return make_user("bob@example.com")


@pytest.fixture
def charlie(db):
    return make_user("charlie@example.com")


@pytest.fixture
def shop(alice, bob):
    shop = create_shop(name="Alice's Shop", domains=["alice-shop.example"], owner=alice, currency="GBP")
    Membership.objects.create(shop=shop, user=bob, role=Membership.MEMBER)
    return shop


@pytest.fixture
def other_shop(charlie):
    return create_shop(name="Charlie's Shop", domains=["charlie-shop.example"], owner=charlie)


@pytest.fixture
def secret_key(shop):
    return issue_secret_key(shop=shop, label="tests")[1]


@pytest.fixture
def other_secret_key(other_shop):
    return issue_secret_key(shop=other_shop, label="tests")[1]


@pytest.fixture
def api(secret_key):
    """An API client carrying Alice's shop's secret key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret_key}")
    return client


@pytest.fixture
def other_api(other_secret_key):
    """An API client carrying Charlie's shop's secret key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_secret_key}")
    return client


def pytest_sessionfinish(session, exitstatus):
    """SQLite in WAL mode leaves -wal/-shm files beside the per-run test database."""
    import os

    from django.conf import settings

    test_name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if test_name and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(test_name + suffix):
                os.remove(test_name + suffix)
