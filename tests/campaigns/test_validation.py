"""What a campaign may hold: every refusal names its field (and, in targeting, its rule)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from personalize.campaigns.models import Campaign
from personalize.campaigns.services import (
    delete_campaign,
    update_campaign,
    update_snippet_settings,
)
from personalize.campaigns.validation import TARGETING_KEYS
from tests.campaigns.conftest import make_campaign

pytestmark = pytest.mark.django_db


def errors_of(shop, **fields) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        make_campaign(shop, **fields)
    assert Campaign.objects.count() == 0
    return refused.value.message_dict


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"kind": "banner"}, "kind"),
        ({"status": "live"}, "status"),
        ({"priority": 1001}, "priority"),
        ({"trigger_type": "hover"}, "trigger_type"),
        ({"trigger_type": "delay", "delay_seconds": 3601}, "delay_seconds"),
        ({"trigger_type": "scroll", "scroll_percent": 101}, "scroll_percent"),
        ({"title": "t" * 201}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"text": "t" * 2001}, "text"),
        ({"cta_text": "c" * 101, "cta_url": "/sale"}, "cta_text"),
        ({"cta_text": "Go", "cta_url": "javascript:alert(1)"}, "cta_url"),
        ({"cta_text": "Go", "cta_url": "JavaScript:alert(1)"}, "cta_url"),
        ({"cta_text": "Go", "cta_url": "java\tscript:alert(1)"}, "cta_url"),
        ({"cta_text": "Go", "cta_url": " javascript:alert(1)"}, "cta_url"),
        ({"cta_text": "Go", "cta_url": "vbscript:msgbox"}, "cta_url"),
        ({"cta_text": "Go", "cta_url": "https://"}, "cta_url"),
        ({"cta_text": "Go", "cta_url": "/\\evil.example"}, "cta_url"),
        ({"cta_text": "Go", "cta_url": "https://shop.example/" + "a" * 2048}, "cta_url"),
        ({"image_url": "data:image/svg+xml;base64,PHN2Zz4="}, "image_url"),
        ({"coupon_code": "TWO WORDS"}, "coupon_code"),
        ({"coupon_code": "C" * 65}, "coupon_code"),
        ({"widget": "everything"}, "widget"),
        ({"widget": "trending", "widget_limit": 0}, "widget_limit"),
        ({"widget": "trending", "widget_limit": 51}, "widget_limit"),
        ({"targeting": ["visitor", "new"]}, "targeting"),
    ],
)
def test_it_names_the_bad_field(shop, fields, field):
    assert field in errors_of(shop, **fields)


@pytest.mark.parametrize(
    ("targeting", "rule"),
    [
        ({"url_contans": ["/sale"]}, "url_contans"),
        ({"url_contains": "/sale"}, "url_contains"),
        ({"url_contains": ["/sale", 3]}, "url_contains"),
        ({"url_contains": ["x" * 201]}, "url_contains"),
        ({"url_contains": [f"/p{i}" for i in range(21)]}, "url_contains"),
        ({"devices": ["tablet"]}, "devices"),
        ({"devices": "mobile"}, "devices"),
        ({"visitor": "old"}, "visitor"),
        ({"min_page_views": -1}, "min_page_views"),
        ({"min_page_views": 2.5}, "min_page_views"),
        ({"min_page_views": True}, "min_page_views"),
        ({"min_seconds_on_page": "30"}, "min_seconds_on_page"),
        ({"min_scroll_percent": 101}, "min_scroll_percent"),
        ({"min_cart_value": -5}, "min_cart_value"),
        ({"min_cart_value": "50"}, "min_cart_value"),
        ({"max_cart_value": float("inf")}, "max_cart_value"),
        ({"min_cart_value": 50, "max_cart_value": 20}, "max_cart_value"),
        ({"cart_contains": ["p" * 129]}, "cart_contains"),
        ({"cart_contains": "sku-1"}, "cart_contains"),
        ({"viewed_category": ["Home"]}, "viewed_category"),
        ({"viewed_category": "Home\x00"}, "viewed_category"),
        ({"customer": "vip"}, "customer"),
    ],
)
def test_it_names_the_bad_targeting_rule(shop, targeting, rule):
    messages = errors_of(shop, targeting=targeting)["targeting"]
    assert any(message.startswith(f"{rule}: ") for message in messages), messages


def test_an_unknown_targeting_rule_is_refused_and_the_known_ones_are_listed(shop):
    (message,) = errors_of(shop, targeting={"visitor": "new", "utm_source": "mail"})["targeting"]
    assert message.startswith("utm_source: is not a targeting rule")
    assert all(key in message for key in TARGETING_KEYS)


def test_every_targeting_rule_is_accepted_and_stored_as_given(shop):
    targeting = {
        "url_contains": ["/sale", "/christmas"],
        "devices": ["desktop", "mobile"],
        "visitor": "returning",
        "min_page_views": 2,
        "min_seconds_on_page": 30,
        "min_scroll_percent": 40,
        "min_cart_value": 10,
        "max_cart_value": 99.5,
        "cart_contains": ["85123A"],
        "viewed_category": "Home/Candles",
        "customer": "known",
    }
    campaign = make_campaign(shop, targeting=targeting)
    campaign.refresh_from_db()
    assert campaign.targeting == targeting


def test_rules_that_are_not_set_are_dropped(shop):
    campaign = make_campaign(
        shop,
        targeting={
            "visitor": "new",
            "min_cart_value": None,
            "viewed_category": None,
            "devices": [],
            "url_contains": [" /sale ", "", "/sale"],
        },
    )
    campaign.refresh_from_db()
    assert campaign.targeting == {"visitor": "new", "url_contains": ["/sale"]}


@pytest.mark.parametrize(
    "url",
    [
        "/sale",
        "sale?utm=popup",
        "#newsletter",
        "https://alice-shop.example/sale",
        "http://alice-shop.example/sale",
        "//cdn.alice-shop.example/banner.png",
    ],
)
def test_it_takes_http_and_relative_urls(shop, url):
    campaign = make_campaign(shop, cta_text="Go", cta_url=url, image_url=url)
    assert (campaign.cta_url, campaign.image_url) == (url, url)


def test_a_schedule_must_end_after_it_starts(shop):
    now = timezone.now()
    assert "ends_at" in errors_of(shop, starts_at=now, ends_at=now - timedelta(hours=1))


def test_an_exit_intent_overlay_opens_on_exit(shop):
    assert "trigger_type" in errors_of(shop, kind=Campaign.EXIT_INTENT, trigger_type=Campaign.DELAY)
    assert make_campaign(shop, kind=Campaign.EXIT_INTENT, trigger_type=Campaign.EXIT).pk


def test_a_button_link_needs_a_button_text(shop):
    assert "cta_text" in errors_of(shop, cta_url="/sale")


def test_a_campaign_must_show_something(shop):
    assert "title" in errors_of(shop, title="")
    assert make_campaign(shop, title="", widget="trending").pk


def test_an_edit_is_validated_too_and_leaves_the_row_unchanged(shop):
    campaign = make_campaign(shop)
    with pytest.raises(ValidationError) as refused:
        update_campaign(shop=shop, campaign=campaign, cta_text="Go", cta_url="javascript:alert(1)")
    assert "cta_url" in refused.value.message_dict
    campaign.refresh_from_db()
    assert campaign.cta_url == ""


def test_only_campaign_fields_can_be_set(shop):
    with pytest.raises(TypeError):
        make_campaign(shop, shop_id=123)
    campaign = make_campaign(shop)
    with pytest.raises(TypeError):
        update_campaign(shop=shop, campaign=campaign, created_at=timezone.now())


def test_another_shop_cannot_edit_or_delete_this_shops_campaign(shop, other_shop):
    campaign = make_campaign(shop)
    with pytest.raises(Http404):
        update_campaign(shop=other_shop, campaign=campaign, status=Campaign.PAUSED)
    with pytest.raises(Http404):
        delete_campaign(shop=other_shop, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.ACTIVE


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"campaigns_per_session": 3, "campaigns_per_day": 2}, "campaigns_per_session"),
        ({"campaigns_per_day": 51}, "campaigns_per_day"),
        ({"campaigns_per_session": -1}, "campaigns_per_session"),
    ],
)
def test_snippet_settings_name_the_bad_field(shop, fields, field):
    with pytest.raises(ValidationError) as refused:
        update_snippet_settings(shop=shop, **fields)
    assert field in refused.value.message_dict
