"""The Django admin pages of campaigns and snippet settings, for an operator (superuser)."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from personalize.campaigns.models import Campaign, SnippetSettings, WidgetSettings
from tests.campaigns.conftest import get_config, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(db):
    user = get_user_model().objects.create_superuser("root@example.com", "root@example.com", "x" * 16)
    client = Client()
    client.force_login(user)
    return client


def campaign_form(shop, **fields) -> dict:
    form = {
        "shop": shop.id,
        "name": "Spring sale",
        "kind": "popup",
        "status": "active",
        "priority": "0",
        "trigger_type": "scroll",
        "delay_seconds": "5",
        "scroll_percent": "60",
        "targeting": json.dumps({"devices": ["mobile"]}),
        "title": "Spring sale",
        "text": "",
        "image_url": "",
        "cta_text": "See the sale",
        "cta_url": "/sale",
        "coupon_code": "",
        "widget": "",
        "widget_limit": "4",
    }
    form.update(fields)
    return form


@pytest.mark.parametrize(
    "path",
    [
        "/admin/campaigns/campaign/",
        "/admin/campaigns/campaign/add/",
        "/admin/campaigns/campaign/?status__exact=active&kind__exact=popup",
        "/admin/campaigns/snippetsettings/",
        "/admin/campaigns/snippetsettings/add/",
        "/admin/campaigns/widgetsettings/",
        "/admin/campaigns/widgetsettings/add/",
    ],
)
def test_the_admin_pages_load(operator_client, shop, path):
    make_campaign(shop)
    assert operator_client.get(path).status_code == 200


def test_a_campaigns_admin_page_loads(operator_client, shop):
    campaign = make_campaign(shop, targeting={"visitor": "new"})
    response = operator_client.get(f"/admin/campaigns/campaign/{campaign.id}/change/")
    assert response.status_code == 200
    assert "Welcome" in response.content.decode()


def test_the_admin_saves_a_valid_campaign_and_the_snippet_sees_it(operator_client, shop):
    assert get_config(shop).json()["campaigns"] == []

    response = operator_client.post("/admin/campaigns/campaign/add/", campaign_form(shop))

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get()
    assert (campaign.shop, campaign.trigger_type, campaign.targeting) == (
        shop,
        "scroll",
        {"devices": ["mobile"]},
    )
    assert [c["name"] for c in get_config(shop).json()["campaigns"]] == ["Spring sale"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cta_url": "javascript:alert(document.cookie)"}, "cta_url"),
        ({"targeting": json.dumps({"visitor": "new", "segment": "vip"})}, "targeting"),
        ({"kind": "exit_intent"}, "trigger_type"),
        ({"cta_text": ""}, "cta_text"),
    ],
)
def test_the_admin_form_shows_the_same_errors(operator_client, shop, fields, field):
    response = operator_client.post("/admin/campaigns/campaign/add/", campaign_form(shop, **fields))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_the_admin_refuses_a_budget_above_the_daily_one(operator_client, shop):
    response = operator_client.post(
        "/admin/campaigns/snippetsettings/add/",
        {
            "shop": shop.id,
            "campaigns_per_session": "3",
            "campaigns_per_day": "2",
            "honor_gpc": "on",
            "honor_dnt": "on",
        },
    )
    assert response.status_code == 200
    assert "campaigns_per_session" in response.context["adminform"].form.errors
    assert not SnippetSettings.objects.exists()
    assert not WidgetSettings.objects.exists()
