"""GET /api/v1/config: the contract, what is listed, access, tenancy, caching and the query count."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from personalize.campaigns.models import Campaign
from personalize.campaigns.services import (
    build_snippet_config,
    delete_campaign,
    set_widget_settings,
    update_campaign,
    update_snippet_settings,
)
from personalize.lib.hashing import unit_hash
from personalize.recommend.models import RecommenderConfig
from personalize.recommend.rules import holdout_bucket
from tests.campaigns.conftest import ORIGIN, get_config, make_campaign

pytestmark = pytest.mark.django_db

DEFAULT_WIDGETS = {
    "for_you": {"title": "Recommended for you", "limit": 8, "layout": "grid"},
    "similar": {"title": "You may also like", "limit": 8, "layout": "grid"},
    "bought_together": {"title": "Frequently bought together", "limit": 8, "layout": "grid"},
    "trending": {"title": "Trending now", "limit": 8, "layout": "grid"},
    "recently_viewed": {"title": "Recently viewed", "limit": 8, "layout": "grid"},
    "cart": {"title": "Complete your basket", "limit": 8, "layout": "grid"},
}


def campaign_ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["campaigns"]]


def test_it_answers_in_the_documented_shape(shop):
    welcome = make_campaign(
        shop,
        "Welcome",
        priority=10,
        trigger_type=Campaign.DELAY,
        delay_seconds=5,
        targeting={"visitor": "new", "devices": ["mobile"], "min_cart_value": None},
        title="Welcome!",
        text="10% off your first order.",
        cta_text="Shop now",
        cta_url="/sale",
        coupon_code="WELCOME10",
    )
    exit_offer = make_campaign(
        shop,
        "Before you go",
        kind=Campaign.EXIT_INTENT,
        priority=5,
        trigger_type=Campaign.EXIT,
        targeting={"min_page_views": 2},
        title="Before you go…",
        image_url="https://cdn.alice-shop.example/bye.png",
        widget="for_you",
        widget_limit=4,
    )

    response = get_config(shop)

    assert response.status_code == 200
    assert response.json() == {
        "shop": {"id": shop.id, "currency": "GBP", "locale": "en-GB"},
        "consent": {"required": False, "honor_gpc": True, "honor_dnt": True},
        "holdout": {"share": 0.05, "seed": str(shop.id)},
        "widgets": DEFAULT_WIDGETS,
        "budget": {"per_session": 1, "per_day": 2},
        "campaigns": [
            {
                "id": str(welcome.id),
                "name": "Welcome",
                "kind": "popup",
                "priority": 10,
                "trigger": {"type": "delay", "delay_seconds": 5, "scroll_percent": 50},
                "targeting": {"visitor": "new", "devices": ["mobile"]},
                "content": {
                    "title": "Welcome!",
                    "text": "10% off your first order.",
                    "image_url": "",
                    "cta_text": "Shop now",
                    "cta_url": "/sale",
                    "coupon_code": "WELCOME10",
                    "widget": None,
                    "widget_limit": 4,
                },
            },
            {
                "id": str(exit_offer.id),
                "name": "Before you go",
                "kind": "exit_intent",
                "priority": 5,
                "trigger": {"type": "exit", "delay_seconds": 5, "scroll_percent": 50},
                "targeting": {"min_page_views": 2},
                "content": {
                    "title": "Before you go…",
                    "text": "",
                    "image_url": "https://cdn.alice-shop.example/bye.png",
                    "cta_text": "",
                    "cta_url": "",
                    "coupon_code": "",
                    "widget": "for_you",
                    "widget_limit": 4,
                },
            },
        ],
    }
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=60"
    assert "Origin" in response["Vary"]
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_it_lists_only_live_campaigns_highest_priority_first_then_oldest(shop):
    now = timezone.now()
    low = make_campaign(shop, "low", priority=1)
    first_of_two = make_campaign(shop, "first of two", priority=7)
    second_of_two = make_campaign(shop, "second of two", priority=7)
    high = make_campaign(shop, "high", priority=50, starts_at=now - timedelta(days=1))
    negative = make_campaign(shop, "negative", priority=-3, ends_at=now + timedelta(days=1))
    make_campaign(shop, "draft", status=Campaign.DRAFT, priority=99)
    make_campaign(shop, "paused", status=Campaign.PAUSED, priority=99)
    make_campaign(shop, "not yet", priority=99, starts_at=now + timedelta(hours=1))
    make_campaign(
        shop, "over", priority=99, starts_at=now - timedelta(days=2), ends_at=now - timedelta(seconds=1)
    )

    assert campaign_ids(get_config(shop)) == [
        str(c.id) for c in (high, first_of_two, second_of_two, low, negative)
    ]


def test_a_shop_that_never_changed_a_setting_gets_the_defaults(other_shop):
    response = get_config(other_shop, origin="https://charlie-shop.example")

    body = response.json()
    assert body["shop"] == {"id": other_shop.id, "currency": "USD", "locale": "en-US"}
    assert body["consent"] == {"required": False, "honor_gpc": True, "honor_dnt": True}
    assert body["budget"] == {"per_session": 1, "per_day": 2}
    assert body["widgets"] == DEFAULT_WIDGETS
    assert body["campaigns"] == []
    # Reading wrote nothing.
    assert not RecommenderConfig.objects.filter(shop=other_shop).exists()


def test_it_serves_the_shops_own_settings(shop):
    shop.locale = "fr-FR"
    shop.save(update_fields=["locale"])
    update_snippet_settings(
        shop=shop,
        campaigns_per_session=2,
        campaigns_per_day=5,
        consent_required=True,
        honor_gpc=False,
        honor_dnt=False,
    )
    set_widget_settings(shop=shop, widget="similar", title="More like this", limit=12, layout="carousel")
    set_widget_settings(shop=shop, widget="cart", layout="list")
    RecommenderConfig.objects.create(shop=shop, holdout_share=0.1)

    body = get_config(shop).json()

    assert body["shop"]["locale"] == "fr-FR"
    assert body["consent"] == {"required": True, "honor_gpc": False, "honor_dnt": False}
    assert body["budget"] == {"per_session": 2, "per_day": 5}
    assert body["holdout"] == {"share": 0.1, "seed": str(shop.id)}
    assert body["widgets"] == {
        **DEFAULT_WIDGETS,
        "similar": {"title": "More like this", "limit": 12, "layout": "carousel"},
        "cart": {"title": "Complete your basket", "limit": 8, "layout": "list"},
    }


def test_the_holdout_seed_gives_the_servers_bucket(shop):
    seed = get_config(shop).json()["holdout"]["seed"]
    for visitor_id in ("v-1", "3f1c9a2e-7b4d-4e8a-9c1f-0a2b3c4d5e6f", "visitør"):
        # What the snippet computes, in JavaScript, from the config alone.
        assert unit_hash(f"{seed}:{visitor_id}") == holdout_bucket(shop.id, visitor_id)


# --- access and tenancy ---------------------------------------------------------------------------


def test_it_rejects_a_disallowed_origin(shop):
    make_campaign(shop)
    response = get_config(shop, origin="https://evil.example")
    assert response.status_code == 403
    assert list(response.json()["errors"]) == ["origin"]
    assert "Access-Control-Allow-Origin" not in response
    assert response["Cache-Control"] == "no-store"


def test_it_rejects_an_unknown_site_key(shop):
    response = Client().get("/api/v1/config", {"site_key": "pk_nope"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 403
    assert list(response.json()["errors"]) == ["site_key"]


def test_it_rejects_a_missing_site_key(shop):
    response = Client().get("/api/v1/config", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 403
    assert list(response.json()["errors"]) == ["site_key"]


def test_a_secret_key_is_no_way_in(shop, secret_key):
    # The answer is publicly cacheable by URL: a header-borne key must not pick the shop.
    response = Client().get("/api/v1/config", HTTP_AUTHORIZATION=f"Bearer {secret_key}")
    assert response.status_code == 403
    assert list(response.json()["errors"]) == ["site_key"]


def test_a_page_of_the_shop_without_an_origin_header_is_known_by_its_referer(shop):
    make_campaign(shop)
    response = get_config(shop, origin=None, HTTP_REFERER=f"{ORIGIN}/products/1")
    assert response.status_code == 200
    assert len(campaign_ids(response)) == 1


def test_another_shops_site_key_never_sees_this_shops_campaigns(shop, other_shop):
    make_campaign(shop, "Alice's welcome")
    update_snippet_settings(shop=shop, consent_required=True)

    response = get_config(other_shop, origin="https://charlie-shop.example")

    body = response.json()
    assert body["shop"]["id"] == other_shop.id
    assert body["campaigns"] == []
    assert body["consent"]["required"] is False
    assert "Alice" not in response.content.decode()


def test_another_shops_site_key_is_refused_on_this_shops_pages(shop, other_shop):
    make_campaign(shop)
    response = get_config(other_shop)  # from alice-shop.example
    assert response.status_code == 403
    assert list(response.json()["errors"]) == ["origin"]


def test_two_shops_answers_are_cached_apart(shop, other_shop):
    mine = make_campaign(shop, "Alice's")
    theirs = make_campaign(other_shop, "Charlie's")
    for _ in range(2):
        assert campaign_ids(get_config(shop)) == [str(mine.id)]
        assert campaign_ids(get_config(other_shop, origin="https://charlie-shop.example")) == [str(theirs.id)]


# --- caching and queries --------------------------------------------------------------------------


def test_a_warm_request_does_not_touch_the_database(
    shop, django_assert_num_queries, django_assert_max_num_queries
):
    make_campaign(shop)
    with django_assert_num_queries(7):  # the site key, then the config's six (A/B variants)
        assert campaign_ids(get_config(shop))
    with django_assert_max_num_queries(0):
        assert campaign_ids(get_config(shop))


@pytest.mark.parametrize(
    "change",
    [
        "create campaign",
        "edit campaign",
        "pause campaign",
        "delete campaign",
        "snippet settings",
        "widget settings",
        "shop locale",
        "holdout share",
    ],
)
def test_a_change_is_served_at_once(shop, change):
    campaign = make_campaign(shop, "Welcome")
    before = get_config(shop).json()
    assert get_config(shop).json() == before  # cached

    if change == "create campaign":
        make_campaign(shop, "Another")
    elif change == "edit campaign":
        update_campaign(shop=shop, campaign=campaign, title="Edited")
    elif change == "pause campaign":
        update_campaign(shop=shop, campaign=campaign, status=Campaign.PAUSED)
    elif change == "delete campaign":
        delete_campaign(shop=shop, campaign=campaign)
    elif change == "snippet settings":
        update_snippet_settings(shop=shop, consent_required=True)
    elif change == "widget settings":
        set_widget_settings(shop=shop, widget="trending", title="Hot right now")
    elif change == "shop locale":
        shop.locale = "en-IE"
        shop.save(update_fields=["locale"])
    elif change == "holdout share":
        RecommenderConfig.objects.update_or_create(shop=shop, defaults={"holdout_share": 0.5})

    assert get_config(shop).json() != before


def test_the_config_is_rebuilt_when_a_schedule_starts_or_ends(shop):
    now = timezone.now()
    soon = make_campaign(shop, "soon", starts_at=now + timedelta(seconds=10))
    ending = make_campaign(shop, "ending", ends_at=now + timedelta(seconds=30))

    config, seconds = build_snippet_config(shop=shop, now=now)
    assert [c["id"] for c in config["campaigns"]] == [str(ending.id)]
    assert seconds == 10

    config, seconds = build_snippet_config(shop=shop, now=now + timedelta(seconds=11))
    assert [c["id"] for c in config["campaigns"]] == [str(soon.id), str(ending.id)]
    assert seconds == 19

    config, seconds = build_snippet_config(shop=shop, now=now + timedelta(seconds=31))
    assert [c["id"] for c in config["campaigns"]] == [str(soon.id)]
    assert seconds == 60


def test_the_schema_documents_the_config_endpoint(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    get = schema["paths"]["/api/v1/config"]["get"]
    assert {p["name"] for p in get["parameters"]} == {"site_key"}
    assert set(get["responses"]) == {"200", "403"}
    config = schema["components"]["schemas"]["SnippetConfig"]
    assert set(config["properties"]) == {"shop", "consent", "holdout", "widgets", "budget", "campaigns"}
