"""Small make_* helpers for test data."""

import uuid

from django.contrib.auth import get_user_model

from personalize.catalog.models import Product

PASSWORD = "correct-horse-battery-staple"


def make_user(email: str):
    return get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)


def make_product(shop, product_id: str = "sku-1", **fields) -> Product:
    fields.setdefault("title", f"Product {product_id}")
    fields.setdefault("price", "10.00")
    fields.setdefault("currency", shop.currency)
    categories = fields.setdefault("categories", [])
    fields.setdefault("category_path", " > ".join(categories))
    return Product.objects.create(shop=shop, product_id=product_id, **fields)


def make_event(type: str = "page_view", **fields) -> dict:
    """One event as the snippet sends it."""
    event = {"event_id": str(uuid.uuid4()), "type": type, "visitor_id": "v-1", "session_id": "s-1"}
    if type in {"product_view", "add_to_cart", "remove_from_cart", "rec_click"}:
        event["product_id"] = "sku-1"
    if type in {"rec_impression", "rec_click"}:
        event["rec_id"] = "rec-1"
    if type.startswith("campaign_"):
        event["campaign_id"] = "camp-1"
    if type == "search":
        event["query"] = "red dress"
    if type == "purchase":
        event.update(
            order_id=f"o-{uuid.uuid4().hex[:8]}",
            revenue=20.0,
            currency="GBP",
            items=[{"product_id": "sku-1", "quantity": 2, "price": 10.0}],
        )
    event.update(fields)
    return event


def redis_cache_at(settings, port: int) -> None:
    """Point the default cache (pytest-django's `settings`) at a Redis-protocol server on `port`,
    with short socket timeouts."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.3},
        }
    }
