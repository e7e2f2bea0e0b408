import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from personalize.lib.keys import hash_secret_key
from personalize.shops.models import Membership, SecretKey, Shop
from personalize.shops.services import DomainError, normalize_domain, resolve_secret_key, resolve_site_key


def create_shop_json(*args) -> dict:
    out = StringIO()
    call_command("create_shop", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_it_prints_the_shop_and_its_keys_as_one_json_object():
    answer = create_shop_json(
        "--name", "Tea Shop", "--domain", "https://www.Tea.example/", "--owner", "Owner@Tea.example"
    )
    shop = Shop.objects.get(id=answer["shop_id"])
    assert answer["site_key"] == shop.site_key and shop.site_key.startswith("pk_")
    assert answer["secret_key"].startswith("sk_")
    assert shop.allowed_domains == ["www.tea.example"]
    assert Membership.objects.for_shop(shop).get().user.username == "owner@tea.example"
    assert Membership.objects.for_shop(shop).get().is_owner


@pytest.mark.django_db
def test_only_the_hash_of_the_secret_key_is_stored():
    answer = create_shop_json("--name", "Tea Shop", "--domain", "tea.example")
    key = SecretKey.objects.get(shop_id=answer["shop_id"])
    assert key.key_hash == hash_secret_key(answer["secret_key"])
    assert answer["secret_key"] not in {key.key_hash, key.prefix, key.label}
    assert resolve_secret_key(answer["secret_key"]) == key


@pytest.mark.django_db
def test_it_refuses_a_junk_domain():
    with pytest.raises(CommandError):
        call_command("create_shop", "--name", "X", "--domain", "not a domain", stdout=StringIO())
    assert Shop.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Example.COM", "example.com"),
        ("https://shop.example.com/path?q=1", "shop.example.com"),
        ("localhost", "localhost"),
        ("http://127.0.0.1:8000", "127.0.0.1"),
    ],
)
def test_it_normalizes_domains(raw, clean):
    assert normalize_domain(raw) == clean


@pytest.mark.parametrize("raw", ["", "nodot", "a b.com", "*.example.com", "user@example.com"])
def test_it_rejects_what_is_not_a_domain(raw):
    with pytest.raises(DomainError):
        normalize_domain(raw)


@pytest.mark.django_db
def test_site_keys_resolve_to_their_own_shop_only(shop, other_shop):
    assert resolve_site_key(shop.site_key) == shop
    assert resolve_site_key(other_shop.site_key) == other_shop
    assert resolve_site_key("pk_unknown") is None
    assert resolve_site_key(None) is None
    assert resolve_site_key("sk_" + shop.site_key[3:]) is None
