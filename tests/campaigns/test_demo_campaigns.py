"""The demo shop's campaigns, as load_demo sets them up (the catalog and history load is tested in
tests/demo; here only the campaign step runs, on the demo shop)."""

import pytest
from django.test import Client

from personalize.campaigns.models import Campaign
from personalize.campaigns.services import update_campaign
from personalize.demo.services import ensure_demo_campaigns, ensure_demo_shop

pytestmark = pytest.mark.django_db


def demo_config(shop) -> dict:
    response = Client().get(
        "/api/v1/config", {"site_key": shop.site_key}, HTTP_ORIGIN="http://127.0.0.1:8000"
    )
    assert response.status_code == 200
    return response.json()


def test_the_demo_shop_gets_a_welcome_popup_and_an_exit_overlay_once():
    shop, _user, _created = ensure_demo_shop()

    ensure_demo_campaigns(shop=shop)
    ensure_demo_campaigns(shop=shop)

    config = demo_config(shop)
    assert config["shop"]["locale"] == "en-GB"
    welcome, farewell = config["campaigns"]
    assert (welcome["kind"], welcome["trigger"]["type"], welcome["targeting"]) == (
        "popup",
        "delay",
        {"visitor": "new"},
    )
    assert 3 <= welcome["trigger"]["delay_seconds"] <= 5
    assert welcome["content"]["coupon_code"]
    assert welcome["content"]["widget"] == "trending"
    assert (farewell["kind"], farewell["trigger"]["type"], farewell["targeting"]) == (
        "exit_intent",
        "exit",
        {"min_page_views": 2},
    )
    assert farewell["content"]["title"] == "Before you go…"
    assert farewell["content"]["widget"] == "for_you"
    assert Campaign.objects.for_shop(shop).count() == 2


def test_a_rerun_keeps_the_merchants_edits():
    shop, _user, _created = ensure_demo_shop()
    ensure_demo_campaigns(shop=shop)
    welcome = Campaign.objects.for_shop(shop).get(kind=Campaign.POPUP)
    update_campaign(shop=shop, campaign=welcome, status=Campaign.PAUSED, coupon_code="SPRING")

    ensure_demo_campaigns(shop=shop)

    welcome.refresh_from_db()
    assert (welcome.status, welcome.coupon_code) == (Campaign.PAUSED, "SPRING")
    assert [c["kind"] for c in demo_config(shop)["campaigns"]] == ["exit_intent"]
