"""Who may reach what: every dashboard URL against Charlie (another shop), Bob (a member), the anonymous
visitor, and a browser without a CSRF token. A refused request must change nothing."""

import re

import pytest
from django.test import Client

from personalize.catalog.models import FeedImport
from personalize.shops.models import Membership
from personalize.shops.services import issue_secret_key
from tests.dashboard.conftest import client_for, snapshot
from tests.factories import PASSWORD

# (method, path under /dashboard/shops/<shop>/, POST data, owner only)
SHOP_URLS = [
    ("get", "", None, False),
    ("get", "settings/", None, False),
    ("post", "settings/", {"shop-domains": "evil.example", "shop-currency": "EUR"}, False),
    ("post", "settings/keys/new/", {"key-label": "stolen"}, True),
    ("post", "settings/keys/{key}/rotate/", {}, True),
    ("post", "settings/keys/{key}/revoke/", {}, True),
    ("post", "settings/members/add/", {"member-email": "charlie@example.com", "member-role": "owner"}, True),
    ("post", "settings/members/{bob_membership}/role/", {"role": "owner"}, True),
    ("post", "settings/members/{bob_membership}/remove/", {}, True),
    ("post", "settings/members/{alice_membership}/remove/", {}, True),
    ("get", "catalog/", None, False),
    ("post", "catalog/", {"url": "https://evil.example/feed.csv"}, False),
    ("get", "catalog/imports/{feed_import}.json", None, False),
]
OTHER_URLS = [
    ("get", "/dashboard/", None),
    ("get", "/dashboard/shops/new/", None),
    ("post", "/dashboard/shops/new/", {"name": "X", "domains": "x.example", "currency": "USD"}),
]


@pytest.fixture
def ids(shop, alice, bob):
    key, _ = issue_secret_key(shop=shop, label="prod")
    return {
        "key": key.id,
        "bob_membership": Membership.objects.for_shop(shop).get(user=bob).id,
        "alice_membership": Membership.objects.for_shop(shop).get(user=alice).id,
        "feed_import": FeedImport.objects.create(shop=shop, source="feed.csv").id,
    }


def shop_url(shop_id, path, ids):
    return f"/dashboard/shops/{shop_id}/" + path.format(**ids)


def send(client, method, url, data):
    return client.post(url, data or {}) if method == "post" else client.get(url)


def label(entry):
    return f"{entry[0]} {entry[1] or '/'}"


@pytest.mark.parametrize("method, path, data, owner_only", SHOP_URLS, ids=[label(e) for e in SHOP_URLS])
def test_another_shops_owner_gets_404_and_changes_nothing(
    charlie_client, shop, ids, method, path, data, owner_only
):
    before = snapshot()
    response = send(charlie_client, method, shop_url(shop.id, path, ids), data)
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("method, path, data, owner_only", SHOP_URLS, ids=[label(e) for e in SHOP_URLS])
def test_a_missing_shop_looks_the_same_as_a_foreign_one(
    charlie_client, shop, ids, method, path, data, owner_only
):
    foreign = send(charlie_client, method, shop_url(shop.id, path, ids), data)
    missing = send(charlie_client, method, shop_url(shop.id + 10_000, path, ids), data)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


@pytest.mark.parametrize(
    "method, path, data",
    [(m, p, d) for m, p, d, _ in SHOP_URLS if "{" in p],
    ids=[label(e) for e in SHOP_URLS if "{" in e[1]],
)
def test_another_shops_rows_are_404_through_ones_own_shop(
    charlie_client, other_shop, ids, method, path, data
):
    before = snapshot()
    response = send(charlie_client, method, shop_url(other_shop.id, path, ids), data)
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    "method, path, data",
    [(m, p, d) for m, p, d, owner_only in SHOP_URLS if owner_only],
    ids=[label(e) for e in SHOP_URLS if e[3]],
)
def test_a_member_gets_404_on_owner_only_actions(bob_client, shop, ids, method, path, data):
    before = snapshot()
    response = send(bob_client, method, shop_url(shop.id, path, ids), data)
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("path", [p for m, p, d, owner_only in SHOP_URLS if m == "get" and not owner_only])
def test_a_member_reads_the_shared_pages(bob_client, shop, ids, path):
    assert bob_client.get(shop_url(shop.id, path, ids)).status_code == 200


@pytest.mark.parametrize("method, path, data, owner_only", SHOP_URLS, ids=[label(e) for e in SHOP_URLS])
def test_anonymous_is_sent_to_login(client, shop, ids, method, path, data, owner_only):
    before = snapshot()
    url = shop_url(shop.id, path, ids)
    response = send(client, method, url, data)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"
    assert snapshot() == before


@pytest.mark.parametrize("method, url, data", OTHER_URLS)
def test_anonymous_is_sent_to_login_from_the_shop_list_and_create(client, db, method, url, data):
    response = send(client, method, url, data)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={url}"
    assert snapshot()["shops"] == []


def _csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path, data",
    [(p, d) for m, p, d, _ in SHOP_URLS if m == "post"],
    ids=[label(e) for e in SHOP_URLS if e[0] == "post"],
)
def test_every_shop_form_needs_a_csrf_token(alice, shop, ids, path, data):
    before = snapshot()
    response = _csrf_client(alice).post(shop_url(shop.id, path, ids), data)
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(
    "url, data",
    [
        ("/signup/", {"email": "dana@example.com", "password": PASSWORD}),
        ("/login/", {"username": "alice@example.com", "password": PASSWORD}),
        ("/logout/", {}),
        ("/dashboard/shops/new/", {"name": "X", "domains": "x.example", "currency": "USD"}),
    ],
)
def test_account_forms_need_a_csrf_token(alice, url, data):
    before = snapshot()
    user = alice if url in ("/logout/", "/dashboard/shops/new/") else None
    client = _csrf_client(user)
    assert client.post(url, data).status_code == 403
    assert snapshot() == before
    if user is not None:  # still logged in: the logout did not happen
        assert client.get("/dashboard/").status_code in (200, 302)
        assert "_auth_user_id" in client.session


def test_a_form_posted_with_its_token_works(alice, shop):
    client = _csrf_client(alice)
    page = client.get(f"/dashboard/shops/{shop.id}/settings/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(
        f"/dashboard/shops/{shop.id}/settings/",
        {"csrfmiddlewaretoken": token, "shop-domains": "ok.example", "shop-currency": "GBP"},
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.allowed_domains == ["ok.example"]


def test_a_user_without_shops_cannot_reach_any(shop, ids, db):
    from tests.factories import make_user

    dana = client_for(make_user("dana@example.com"))
    for method, path, data, _ in SHOP_URLS:
        assert send(dana, method, shop_url(shop.id, path, ids), data).status_code == 404
