"""Shop settings: domains and currency, secret keys (owners), members (owners)."""

import re

import pytest
from django.contrib.sessions.models import Session

from personalize.lib.keys import hash_secret_key
from personalize.shops.models import Membership, SecretKey
from personalize.shops.services import issue_secret_key, resolve_secret_key
from tests.dashboard.conftest import client_for
from tests.factories import make_user

RAW_KEY = re.compile(r"sk_[A-Za-z0-9_-]{20,}")


def settings_url(shop, rest=""):
    return f"/dashboard/shops/{shop.id}/settings/{rest}"


# --- domains and currency -----------------------------------------------------------------------


def test_it_shows_the_current_domains_and_currency(alice_client, shop):
    response = alice_client.get(settings_url(shop))
    assert response.status_code == 200
    form = response.context["settings_form"]
    assert form.initial == {"domains": "alice-shop.example", "currency": "GBP"}
    html = response.content.decode()
    assert '<label for="id_shop-domains">' in html


def test_it_edits_the_allowed_domains_and_currency(alice_client, shop):
    response = alice_client.post(
        settings_url(shop),
        {"shop-domains": "new.example\nhttps://Shop.New.example/x", "shop-currency": "usd"},
    )
    assert response.status_code == 302 and response["Location"] == settings_url(shop)
    shop.refresh_from_db()
    assert shop.allowed_domains == ["new.example", "shop.new.example"]
    assert shop.currency == "USD"


def test_a_member_sees_but_cannot_edit_domains(bob_client, shop):
    before = list(shop.allowed_domains)
    assert "alice-shop.example" in bob_client.get(settings_url(shop)).content.decode()
    response = bob_client.post(settings_url(shop), {"shop-domains": "bob.example", "shop-currency": "GBP"})
    assert response.status_code == 404
    shop.refresh_from_db()
    assert shop.allowed_domains == before


def test_it_rejects_bad_domains_and_keeps_the_old_ones(alice_client, shop):
    response = alice_client.post(
        settings_url(shop), {"shop-domains": "ok.example\nbad domain!", "shop-currency": "X"}
    )
    assert response.status_code == 200
    assert set(response.context["settings_form"].errors) == {"domains", "currency"}
    assert 'id="id_shop-domains_error"' in response.content.decode()
    shop.refresh_from_db()
    assert shop.allowed_domains == ["alice-shop.example"] and shop.currency == "GBP"


# --- secret keys --------------------------------------------------------------------------------


def test_a_new_key_is_shown_exactly_once_and_only_its_hash_is_stored(alice_client, alice, shop):
    response = alice_client.post(settings_url(shop, "keys/new/"), {"key-label": "nightly sync"})
    assert response.status_code == 200
    html = response.content.decode()
    raws = RAW_KEY.findall(html)
    assert len(raws) == 1
    raw = raws[0]
    assert html.count(raw) == 1
    assert "no-store" in response["Cache-Control"]
    assert raw not in str(response.cookies)

    key = SecretKey.objects.for_shop(shop).get()
    assert key.label == "nightly sync" and key.created_by == alice
    assert key.key_hash == hash_secret_key(raw) and key.prefix == raw[:10]
    for value in SecretKey.objects.values_list("label", "prefix", "key_hash").get():
        assert raw not in value
    for session in Session.objects.all():
        assert raw not in str(session.get_decoded())
    # Never again: not on the settings page, the shop page or anywhere else.
    for url in (settings_url(shop), f"/dashboard/shops/{shop.id}/", "/dashboard/"):
        later = alice_client.get(url).content.decode()
        assert raw not in later
    assert key.prefix in alice_client.get(settings_url(shop)).content.decode()
    assert resolve_secret_key(raw) == key


def test_it_lists_keys_with_their_details(alice_client, shop):
    key, _ = issue_secret_key(shop=shop, label="erp")
    response = alice_client.get(settings_url(shop))
    assert list(response.context["keys"]) == [key]
    html = response.content.decode()
    assert f"{key.prefix}…" in html and "erp" in html and "never" in html


def test_rotate_revokes_the_old_key_and_shows_the_new_one_once(alice_client, shop):
    old, old_raw = issue_secret_key(shop=shop, label="erp")
    response = alice_client.post(settings_url(shop, f"keys/{old.id}/rotate/"))
    assert response.status_code == 200
    raws = set(RAW_KEY.findall(response.content.decode()))
    assert len(raws) == 1
    new_raw = raws.pop()
    assert response.content.decode().count(new_raw) == 1
    old.refresh_from_db()
    assert old.revoked_at is not None
    new = SecretKey.objects.for_shop(shop).get(revoked_at__isnull=True)
    assert new.label == "erp" and new.key_hash == hash_secret_key(new_raw)
    assert resolve_secret_key(old_raw) is None
    assert resolve_secret_key(new_raw) == new


def test_a_revoked_key_cannot_be_rotated(alice_client, shop):
    key, _ = issue_secret_key(shop=shop)
    alice_client.post(settings_url(shop, f"keys/{key.id}/revoke/"))
    response = alice_client.post(settings_url(shop, f"keys/{key.id}/rotate/"))
    assert response.status_code == 404
    assert SecretKey.objects.for_shop(shop).count() == 1


def test_revoke_makes_the_key_useless(alice_client, shop, client):
    key, raw = issue_secret_key(shop=shop)
    assert client.get("/api/v1/products", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    response = alice_client.post(settings_url(shop, f"keys/{key.id}/revoke/"))
    assert response.status_code == 302 and response["Location"] == settings_url(shop) + "#keys"
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert resolve_secret_key(raw) is None
    assert client.get("/api/v1/products", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code in (401, 403)
    assert "revoked" in alice_client.get(settings_url(shop)).content.decode()


def test_a_member_sees_no_keys(bob_client, shop):
    key, _ = issue_secret_key(shop=shop)
    response = bob_client.get(settings_url(shop))
    assert response.status_code == 200
    assert "keys" not in response.context
    html = response.content.decode()
    assert key.prefix not in html and "keys/new/" not in html


# --- members ------------------------------------------------------------------------------------


def test_it_lists_members_with_roles(bob_client, shop):
    response = bob_client.get(settings_url(shop))
    rows = [(m.user.email, m.role) for m in response.context["members"]]
    assert rows == [("alice@example.com", "owner"), ("bob@example.com", "member")]
    assert "members/add/" not in response.content.decode()


def test_an_owner_adds_an_existing_user_by_email(alice_client, shop):
    dana = make_user("dana@example.com")
    response = alice_client.post(
        settings_url(shop, "members/add/"), {"member-email": "DANA@example.com", "member-role": "owner"}
    )
    assert response.status_code == 302
    assert Membership.objects.for_shop(shop).get(user=dana).role == Membership.OWNER
    assert client_for(dana).get(f"/dashboard/shops/{shop.id}/").status_code == 200


def test_adding_an_unknown_email_is_a_field_error(alice_client, shop):
    response = alice_client.post(
        settings_url(shop, "members/add/"), {"member-email": "nobody@example.com", "member-role": "member"}
    )
    assert response.status_code == 200
    assert "sign up" in response.context["member_form"].errors["email"][0]
    assert 'id="id_member-email_error"' in response.content.decode()
    assert Membership.objects.for_shop(shop).count() == 2


def test_adding_an_existing_member_changes_nothing(alice_client, shop, bob):
    response = alice_client.post(
        settings_url(shop, "members/add/"), {"member-email": "bob@example.com", "member-role": "owner"}
    )
    assert "already a member" in response.context["member_form"].errors["email"][0]
    assert Membership.objects.for_shop(shop).get(user=bob).role == Membership.MEMBER


def test_an_owner_removes_a_member(alice_client, shop, bob):
    membership = Membership.objects.for_shop(shop).get(user=bob)
    response = alice_client.post(settings_url(shop, f"members/{membership.id}/remove/"))
    assert response.status_code == 302
    assert not Membership.objects.for_shop(shop).filter(user=bob).exists()
    assert client_for(bob).get(f"/dashboard/shops/{shop.id}/").status_code == 404


def test_the_last_owner_cannot_be_removed_or_demoted(alice_client, shop, alice):
    mine = Membership.objects.for_shop(shop).get(user=alice)
    response = alice_client.post(settings_url(shop, f"members/{mine.id}/remove/"), follow=True)
    assert "last owner" in response.content.decode()
    response = alice_client.post(
        settings_url(shop, f"members/{mine.id}/role/"), {"role": "member"}, follow=True
    )
    assert "at least one owner" in response.content.decode()
    mine.refresh_from_db()
    assert mine.role == Membership.OWNER


def test_an_owner_can_leave_once_there_is_another_owner(alice_client, shop, alice, bob):
    bobs = Membership.objects.for_shop(shop).get(user=bob)
    alice_client.post(settings_url(shop, f"members/{bobs.id}/role/"), {"role": "owner"})
    bobs.refresh_from_db()
    assert bobs.role == Membership.OWNER
    mine = Membership.objects.for_shop(shop).get(user=alice)
    response = alice_client.post(settings_url(shop, f"members/{mine.id}/remove/"))
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert list(Membership.objects.for_shop(shop).values_list("user__email", "role")) == [
        ("bob@example.com", "owner")
    ]


@pytest.mark.parametrize("role", ["admin", ""])
def test_an_unknown_role_changes_nothing(alice_client, shop, bob, role):
    bobs = Membership.objects.for_shop(shop).get(user=bob)
    alice_client.post(settings_url(shop, f"members/{bobs.id}/role/"), {"role": role})
    bobs.refresh_from_db()
    assert bobs.role == Membership.MEMBER
