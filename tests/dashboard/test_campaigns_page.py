"""The campaigns page: list, create, edit, pause/resume, delete, targeting, triggers, schedule, the
attention budget, A/B variants, and the embedded block's preview."""

from collections import Counter

import pytest
from django.test import Client

from personalize.campaigns.models import Campaign, CampaignVariant, SnippetSettings
from personalize.campaigns.services import snippet_config
from personalize.campaigns.variants import assign, split, variant_bucket
from personalize.lib.hashing import unit_hash
from tests.dashboard.conftest import snapshot
from tests.factories import make_product


def url(shop, rest=""):
    return f"/dashboard/shops/{shop.id}/campaigns/{rest}"


def campaign_data(**overrides) -> dict:
    data = {
        "name": "Welcome",
        "kind": "popup",
        "status": "active",
        "priority": "5",
        "starts_at": "",
        "ends_at": "",
        "trigger_type": "delay",
        "delay_seconds": "4",
        "scroll_percent": "50",
        "title": "Welcome!",
        "text": "10% off your first order",
        "image_url": "",
        "cta_text": "Shop now",
        "cta_url": "/sale",
        "coupon_code": "HELLO10",
        "widget": "",
        "widget_limit": "4",
        "url_contains": "",
        "visitor": "any",
        "customer": "any",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "5",
    }
    data.update(overrides)
    return data


def with_variants(data: dict, *variants: dict, initial: int = 0) -> dict:
    data = dict(data)
    data["variants-TOTAL_FORMS"] = str(len(variants))
    data["variants-INITIAL_FORMS"] = str(initial)
    for i, v in enumerate(variants):
        for name, value in v.items():
            data[f"variants-{i}-{name}"] = value
    return data


@pytest.fixture
def campaign(shop):
    return Campaign.objects.create(shop=shop, name="Spring", title="Spring sale", status=Campaign.ACTIVE)


def test_members_see_the_list_with_the_budget(bob_client, shop, campaign):
    Campaign.objects.create(shop=shop, name="Draft one", title="x")
    response = bob_client.get(url(shop))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Spring" in html and "Draft one" in html and "Publish Draft one" in html and "Pause Spring" in html
    assert response.context["budget_form"].initial["campaigns_per_session"] == 1


def test_it_creates_a_campaign_with_targeting_schedule_and_variants(bob_client, shop):
    data = campaign_data(
        starts_at="2030-01-01T09:00",
        ends_at="2030-02-01T09:00",
        url_contains="/products/\n/sale",
        devices=["mobile"],
        visitor="new",
        customer="anonymous",
        min_page_views="2",
        min_seconds_on_page="10",
        min_scroll_percent="30",
        min_cart_value="20",
        max_cart_value="200",
        cart_contains="sku-1\nsku-2",
        viewed_category="Home>Candles",
        widget="trending",
    )
    data = with_variants(
        data,
        {"share": "30", "title": "Welcome back!", "coupon_code": "B30"},
        {"share": "20", "title": "Hi there", "text": "Free shipping today"},
    )
    response = bob_client.post(url(shop, "new/"), data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    campaign = Campaign.objects.for_shop(shop).get()
    assert response["Location"] == url(shop, f"{campaign.id}/")
    assert campaign.targeting == {
        "url_contains": ["/products/", "/sale"],
        "devices": ["mobile"],
        "visitor": "new",
        "min_page_views": 2,
        "min_seconds_on_page": 10,
        "min_scroll_percent": 30,
        "min_cart_value": 20.0,
        "max_cart_value": 200.0,
        "cart_contains": ["sku-1", "sku-2"],
        "viewed_category": "Home > Candles",
        "customer": "anonymous",
    }
    assert (campaign.trigger_type, campaign.delay_seconds, campaign.widget) == ("delay", 4, "trending")
    assert campaign.starts_at.isoformat() == "2030-01-01T09:00:00+00:00"
    variants = {v.key: v for v in CampaignVariant.objects.for_shop(shop)}
    assert "A 50% · B 30% · C 20%" in bob_client.get(url(shop)).content.decode()
    assert {k: (v.share, v.title) for k, v in variants.items()} == {
        "B": (30, "Welcome back!"),
        "C": (20, "Hi there"),
    }


def test_the_config_sends_variants_with_their_content(alice_client, shop):
    data = with_variants(
        campaign_data(widget="trending"), {"share": "30", "title": "Variant B", "coupon_code": "B30"}
    )
    assert alice_client.post(url(shop, "new/"), data).status_code == 302
    [sent] = snippet_config(shop=shop)["campaigns"]
    assert [(v["key"], v["upto"]) for v in sent["variants"]] == [("A", 0.7), ("B", 1.0)]
    assert "content" not in sent["variants"][0]  # A shows the campaign's own content
    assert sent["variants"][1]["content"] == sent["content"] | {
        "title": "Variant B",
        "text": "",
        "image_url": "",
        "cta_text": "",
        "cta_url": "",
        "coupon_code": "B30",
    }
    # a campaign without variants is sent exactly as before
    Campaign.objects.create(shop=shop, name="Plain", title="Plain", status="active", priority=-1)
    plain = snippet_config(shop=shop)["campaigns"][1]
    assert "variants" not in plain


def test_editing_keeps_variant_keys_stable(alice_client, shop, campaign):
    CampaignVariant.objects.create(shop=shop, campaign=campaign, key="B", share=20, title="B title")
    CampaignVariant.objects.create(shop=shop, campaign=campaign, key="C", share=20, title="C title")
    page = alice_client.get(url(shop, f"{campaign.id}/"))
    assert [v["key"] for v in page.context["variants"].initial] == ["B", "C"]
    data = with_variants(
        campaign_data(name="Spring", title="Spring sale"),
        {"key": "B", "share": "20", "title": "B title", "DELETE": "on"},
        {"key": "C", "share": "25", "title": "C title, edited"},
        {"share": "10", "title": "A new one"},
        initial=2,
    )
    assert alice_client.post(url(shop, f"{campaign.id}/"), data).status_code == 302
    rows = {v.key: (v.share, v.title) for v in CampaignVariant.objects.for_shop(shop)}
    assert rows == {"C": (25, "C title, edited"), "D": (10, "A new one")}


def test_bad_input_shows_per_field_errors_and_saves_nothing(bob_client, shop):
    before = snapshot()
    data = campaign_data(
        kind="exit_intent",
        trigger_type="load",
        cta_url="javascript:alert(1)",
        min_cart_value="50",
        max_cart_value="10",
        min_scroll_percent="150",
        starts_at="2030-02-01T00:00",
        ends_at="2030-01-01T00:00",
    )
    data = with_variants(data, {"share": "", "title": "No share"})
    response = bob_client.post(url(shop, "new/"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"trigger_type", "cta_url", "max_cart_value", "min_scroll_percent", "ends_at"} <= set(errors)
    assert response.context["variants"].errors[0] == {
        "share": ["Give the variant a share of the visitors, 1 to 100."]
    }
    html = response.content.decode()
    assert 'id="id_cta_url_error"' in html and 'id="id_variants-0-share_error"' in html
    assert snapshot() == before and not Campaign.objects.exists()


def test_variant_shares_over_100_are_refused(bob_client, shop):
    data = with_variants(campaign_data(), {"share": "60", "title": "B"}, {"share": "50", "title": "C"})
    response = bob_client.post(url(shop, "new/"), data)
    assert response.status_code == 400
    assert "more than 100%" in str(response.context["variants"].non_form_errors())
    assert not Campaign.objects.exists() and not CampaignVariant.objects.exists()


def test_pause_resume_and_delete(bob_client, shop, campaign):
    assert bob_client.post(url(shop, f"{campaign.id}/status/"), {"status": "paused"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "paused" and snippet_config(shop=shop)["campaigns"] == []
    bob_client.post(url(shop, f"{campaign.id}/status/"), {"status": "active"})
    campaign.refresh_from_db()
    assert campaign.status == "active" and len(snippet_config(shop=shop)["campaigns"]) == 1
    bob_client.post(url(shop, f"{campaign.id}/status/"), {"status": "draft-ish"})
    campaign.refresh_from_db()
    assert campaign.status == "active"
    assert bob_client.post(url(shop, f"{campaign.id}/delete/")).status_code == 302
    assert not Campaign.objects.exists() and snippet_config(shop=shop)["campaigns"] == []


def test_the_budget_is_saved_and_checked(bob_client, shop):
    response = bob_client.post(
        url(shop, "budget/"), {"budget-campaigns_per_session": "3", "budget-campaigns_per_day": "2"}
    )
    assert response.status_code == 400
    assert "campaigns_per_session" in response.context["budget_form"].errors
    assert not SnippetSettings.objects.filter(shop=shop).exists()
    response = bob_client.post(
        url(shop, "budget/"), {"budget-campaigns_per_session": "2", "budget-campaigns_per_day": "4"}
    )
    assert response.status_code == 302
    assert snippet_config(shop=shop)["budget"] == {"per_session": 2, "per_day": 4}


def test_the_block_preview_answers_with_this_shops_products(bob_client, shop, other_shop):
    for i in range(3):
        make_product(shop, f"ours-{i}", title=f"Our candle {i}")
        make_product(other_shop, f"theirs-{i}", title=f"Their candle {i}")
    response = bob_client.get(url(shop, "block-preview.json"), {"widget": "trending", "limit": "4"})
    assert response.status_code == 200
    ids = {i["product_id"] for i in response.json()["items"]}
    assert ids and ids <= {"ours-0", "ours-1", "ours-2"}
    bad = bob_client.get(url(shop, "block-preview.json"), {"widget": "banner", "limit": "0"})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"widget", "limit"}


def test_outsiders_get_404_and_change_nothing(charlie_client, client, shop, campaign):
    before = snapshot()
    for path in ("", "new/", f"{campaign.id}/", "block-preview.json?widget=trending"):
        assert charlie_client.get(url(shop, path)).status_code == 404
    for path, data in (
        ("new/", campaign_data()),
        (f"{campaign.id}/", campaign_data(title="Charlie was here")),
        (f"{campaign.id}/status/", {"status": "paused"}),
        (f"{campaign.id}/delete/", {}),
        ("budget/", {"budget-campaigns_per_session": "0", "budget-campaigns_per_day": "0"}),
    ):
        assert charlie_client.post(url(shop, path), data).status_code == 404
    campaign.refresh_from_db()
    assert (campaign.status, campaign.title) == ("active", "Spring sale")
    assert Campaign.objects.count() == 1 and snapshot() == before
    assert client.get(url(shop)).status_code == 302  # logged out: to the login page


def test_another_shops_campaign_is_404_even_for_a_member(bob_client, other_shop):
    theirs = Campaign.objects.create(shop=other_shop, name="Theirs", title="x", status="active")
    # through our shop's URL: not found, like a missing one
    shop_id = bob_client.get("/dashboard/").context["shops"][0].id
    assert bob_client.get(f"/dashboard/shops/{shop_id}/campaigns/{theirs.id}/").status_code == 404
    assert bob_client.post(f"/dashboard/shops/{shop_id}/campaigns/{theirs.id}/delete/").status_code == 404
    assert Campaign.objects.filter(id=theirs.id).exists()


def test_forms_need_csrf(alice, shop, campaign):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    html = client.get(url(shop)).content.decode() + client.get(url(shop, f"{campaign.id}/")).content.decode()
    assert html.count("csrfmiddlewaretoken") >= 4
    assert client.post(url(shop, f"{campaign.id}/delete/")).status_code == 403
    assert Campaign.objects.filter(id=campaign.id).exists()


# --- variant assignment ---------------------------------------------------------------------------


def test_the_bucket_is_the_hash_of_visitor_and_campaign():
    assert variant_bucket(12, "visitor-2") == unit_hash("visitor-2:12")
    # the numbers the snippet's unit tests hold (widgets_js/test/variants.test.js)
    assert [round(variant_bucket("12", f"visitor-{i}"), 4) for i in (1, 6, 3, 5)] == [
        0.13,
        0.194,
        0.5578,
        0.7847,
    ]


def test_assignment_is_stable_and_splits_as_configured(shop, campaign):
    variants = [
        CampaignVariant(shop=shop, campaign=campaign, key="B", share=30),
        CampaignVariant(shop=shop, campaign=campaign, key="C", share=20),
    ]
    assert split(variants) == [("A", 0.5), ("B", 0.8), ("C", 1.0)]
    visitors = [f"{i:08x}-visitor" for i in range(20_000)]
    counts = Counter(assign(variants, campaign.id, v) for v in visitors)
    shares = {k: n / len(visitors) for k, n in counts.items()}
    assert (
        abs(shares["A"] - 0.5) < 0.015 and abs(shares["B"] - 0.3) < 0.015 and abs(shares["C"] - 0.2) < 0.015
    )
    assert [assign(variants, campaign.id, v) for v in visitors[:100]] == [
        assign(variants, campaign.id, v) for v in visitors[:100]
    ]
    # independent of the hold-out bucket: the held-out 5% spread over the variants like everyone
    from personalize.recommend.rules import holdout_bucket

    held = [v for v in visitors if holdout_bucket(shop.id, v) < 0.05]
    held_counts = Counter(assign(variants, campaign.id, v) for v in held)
    assert held_counts["A"] / len(held) == pytest.approx(0.5, abs=0.08)


def test_variants_that_take_everything_leave_no_original(shop, campaign):
    variants = [
        CampaignVariant(shop=shop, campaign=campaign, key="B", share=50),
        CampaignVariant(shop=shop, campaign=campaign, key="C", share=50),
    ]
    assert split(variants) == [("B", 0.5), ("C", 1.0)]


def test_an_invalid_stored_campaign_is_not_activated_and_says_why(bob_client, shop):
    # Saved around the validation (as an old admin row could be): no content at all.
    broken = Campaign.objects.create(shop=shop, name="Broken", status="paused")
    response = bob_client.post(url(shop, f"{broken.id}/status/"), {"status": "active"}, follow=True)
    assert response.status_code == 200
    assert "needs fixing first" in response.content.decode()
    broken.refresh_from_db()
    assert broken.status == "paused"


def test_the_list_makes_a_fixed_number_of_queries(bob_client, shop, django_assert_max_num_queries):
    for i in range(5):
        c = Campaign.objects.create(shop=shop, name=f"C{i}", title="x")
        CampaignVariant.objects.create(shop=shop, campaign=c, key="B", share=10, title="y")
    with django_assert_max_num_queries(10):
        assert bob_client.get(url(shop)).status_code == 200
