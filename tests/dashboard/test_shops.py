"""The shop list, creating a shop, and the shop's home with its script tag and counts."""

import re
import uuid

from django.utils import timezone

from personalize.analytics.tasks import refresh_recent_rollups
from personalize.events.models import Event, Order
from personalize.shops.models import Membership, Shop
from tests.dashboard.conftest import client_for
from tests.factories import make_product, make_user


def test_it_redirects_a_user_with_no_shop_to_create_one(db):
    client = client_for(make_user("dana@example.com"))
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/shops/new/"


def test_it_lists_only_the_users_shops(alice_client, shop, other_shop):
    response = alice_client.get("/dashboard/")
    assert response.status_code == 200
    assert list(response.context["shops"]) == [shop]
    html = response.content.decode()
    assert f'/dashboard/shops/{shop.id}/"' in html
    assert "Charlie" not in html


def test_it_lists_shops_a_member_belongs_to(bob_client, shop):
    response = bob_client.get("/dashboard/")
    assert list(response.context["shops"]) == [shop]


def test_it_creates_a_shop_with_the_creator_as_owner(db):
    dana = make_user("dana@example.com")
    client = client_for(dana)
    response = client.post(
        "/dashboard/shops/new/",
        {
            "name": "Dana's Deli",
            "domains": "https://www.Dana.example/\n\n  shop.dana.example  \n",
            "currency": "eur",
        },
    )
    shop = Shop.objects.get(name="Dana's Deli")
    assert response.status_code == 302 and response["Location"] == f"/dashboard/shops/{shop.id}/"
    assert shop.allowed_domains == ["shop.dana.example", "www.dana.example"]
    assert shop.currency == "EUR"
    membership = Membership.objects.get(shop=shop)
    assert membership.user == dana and membership.role == Membership.OWNER
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert shop.site_key in page.content.decode()


def test_it_shows_bad_domains_next_to_the_domains_field(db):
    client = client_for(make_user("dana@example.com"))
    response = client.post(
        "/dashboard/shops/new/",
        {"name": "Dana's Deli", "domains": "good.example\nnot a/domain@x", "currency": "USD"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["domains"]
    assert 'id="id_domains_error"' in response.content.decode()
    assert not Shop.objects.exists()


def test_it_requires_a_domain_name_and_currency(db):
    client = client_for(make_user("dana@example.com"))
    response = client.post("/dashboard/shops/new/", {"name": "", "domains": " \n ", "currency": "dollars"})
    assert set(response.context["form"].errors) == {"name", "domains", "currency"}
    assert not Shop.objects.exists()


def test_it_shows_the_exact_script_tag_to_paste(alice_client, shop, settings):
    settings.PUBLIC_BASE_URL = "https://pz.example.net"
    response = alice_client.get(f"/dashboard/shops/{shop.id}/")
    expected = f'<script async src="https://pz.example.net/p.js" data-site-key="{shop.site_key}"></script>'
    assert response.context["script_tag"] == expected
    html = response.content.decode()
    escaped = expected.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert f'<code id="script-tag">{escaped}</code>' in html
    assert 'data-copy-target="script-tag"' in html
    assert "/static/dashboard/copy.js" in html


def test_pages_have_no_inline_script_or_external_assets(alice_client, shop):
    for url in (f"/dashboard/shops/{shop.id}/", f"/dashboard/shops/{shop.id}/catalog/", "/dashboard/"):
        html = alice_client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert re.search(r'\bsrc="/static/', tag), tag
        assert re.search(r"<script\b[^>]*>\s*[^<\s]", html) is None  # no inline code
        assert " style=" not in html and "<style" not in html
        assert re.search(r'(href|src)="(https?:)?//', html) is None  # nothing fetched from elsewhere


def test_the_overview_counts_the_shops_events_and_orders(alice_client, shop, other_shop):
    now = timezone.now()
    make_product(shop, "a")
    make_product(shop, "b")
    make_product(other_shop, "c")
    for s in (shop, shop, shop, other_shop):
        Event.objects.create(
            shop=s,
            event_id=uuid.uuid4(),
            type="page_view",
            visitor_id="v",
            session_id="s",
            ts=now,
            received_at=now,
        )
    Order.objects.create(shop=shop, order_id="o-1", revenue="10", ts=now, source="api")
    Order.objects.create(shop=other_shop, order_id="o-1", revenue="10", ts=now, source="api")
    refresh_recent_rollups.delay()  # the overview reads the daily rollups (beat keeps them current)
    response = alice_client.get(f"/dashboard/shops/{shop.id}/")
    totals = response.context["report"]["totals"]
    assert (totals["events"], totals["orders"], totals["revenue"]) == (3, 1, 10)
    assert response.context["has_products"] and response.context["installed"]


def test_the_stylesheet_is_served_locally(alice_client, shop):
    response = alice_client.get("/static/dashboard/app.css")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"--accent" in body
    assert b"@import" not in body and b"url(http" not in body
