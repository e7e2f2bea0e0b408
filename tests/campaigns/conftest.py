"""Campaign helpers: a valid campaign from a few fields, and the config as a shop's page reads it."""

from django.test import Client

from personalize.campaigns.models import Campaign
from personalize.campaigns.services import create_campaign

ORIGIN = "https://alice-shop.example"


def make_campaign(shop, name: str = "Welcome", **fields) -> Campaign:
    """An active pop-up with a title, through the service (so validated); fields override."""
    fields.setdefault("status", Campaign.ACTIVE)
    fields.setdefault("title", f"{name} title")
    return create_campaign(shop=shop, name=name, **fields)


def get_config(shop, *, origin: str | None = ORIGIN, client=None, **headers):
    """GET /api/v1/config with the shop's site key, from `origin` (its own store by default)."""
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    return (client or Client()).get("/api/v1/config", {"site_key": shop.site_key}, **headers)
