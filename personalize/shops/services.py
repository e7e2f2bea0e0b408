"""Writes and look-ups on shops, memberships and keys."""

import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from personalize.lib.keys import hash_secret_key, new_secret_key, new_site_key
from personalize.shops.models import Membership, SecretKey, Shop


class DomainError(ValueError):
    pass


def normalize_domain(value: str) -> str:
    """'https://www.Example.com/path' -> 'www.example.com'; raises DomainError on junk."""
    value = value.strip().lower()
    if "@" in value:
        raise DomainError(f"'{value}' is not a domain name")
    if "://" not in value:
        value = "//" + value
    host = (urlsplit(value).hostname or "").rstrip(".")
    if (
        not host
        or any(c in host for c in " /\\@*")
        or ("." not in host and host != "localhost" and ":" not in host)
    ):
        raise DomainError(f"'{value.lstrip('/')}' is not a domain name")
    return f"[{host}]" if ":" in host else host


@transaction.atomic
def create_shop(
    *, name: str, domains: list[str], owner: AbstractBaseUser | None = None, currency: str = "USD"
) -> Shop:
    shop = Shop.objects.create(
        name=name, allowed_domains=sorted({normalize_domain(d) for d in domains}), currency=currency.upper()
    )
    if owner is not None:
        Membership.objects.create(shop=shop, user=owner, role=Membership.OWNER)
    return shop


def set_allowed_domains(*, shop: Shop, domains: list[str]) -> None:
    shop.allowed_domains = sorted({normalize_domain(d) for d in domains})
    shop.save(update_fields=["allowed_domains"])


def issue_secret_key(
    *, shop: Shop, label: str = "", created_by: AbstractBaseUser | None = None
) -> tuple[SecretKey, str]:
    """Create a secret key; the raw key is returned here once and never stored."""
    raw = new_secret_key()
    key = SecretKey.objects.create(
        shop=shop, label=label, prefix=raw[:10], key_hash=hash_secret_key(raw), created_by=created_by
    )
    return key, raw


@transaction.atomic
def rotate_secret_key(
    *, shop: Shop, key: SecretKey, created_by: AbstractBaseUser | None = None
) -> tuple[SecretKey, str]:
    """Revoke `key` and issue its replacement with the same label."""
    revoke_secret_key(shop=shop, key=key)
    return issue_secret_key(shop=shop, label=key.label, created_by=created_by)


def revoke_secret_key(*, shop: Shop, key: SecretKey) -> None:
    if key.shop_id != shop.id:
        raise Http404
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


def regenerate_site_key(*, shop: Shop) -> None:
    shop.site_key = new_site_key()
    shop.save(update_fields=["site_key"])


def add_member(*, shop: Shop, user: AbstractBaseUser, role: str = Membership.MEMBER) -> Membership:
    membership, _ = Membership.objects.get_or_create(shop=shop, user=user, defaults={"role": role})
    return membership


def resolve_secret_key(raw: str) -> SecretKey | None:
    """The active key for a raw `sk_…` string, with its shop, or None."""
    if not raw.startswith("sk_"):
        return None
    key = (
        SecretKey.objects.select_related("shop")
        .filter(key_hash=hash_secret_key(raw), revoked_at__isnull=True)
        .first()
    )
    if key is not None and (
        key.last_used_at is None or timezone.now() - key.last_used_at > timedelta(minutes=5)
    ):
        # Coarse on purpose: one write per key every few minutes, not one per request.
        key.last_used_at = timezone.now()
        key.save(update_fields=["last_used_at"])
    return key


_site_key_cache: dict[str, tuple[float, Shop | None]] = {}
_site_key_lock = threading.Lock()


def resolve_site_key(site_key: str) -> Shop | None:
    """The shop of a public site key, cached per process for PZ_SITE_KEY_CACHE_SECONDS.

    The collect path calls this on every request; a database hit each time would halve its throughput.
    """
    if not isinstance(site_key, str) or not site_key.startswith("pk_") or len(site_key) > 64:
        return None
    now = time.monotonic()
    hit = _site_key_cache.get(site_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    shop = Shop.objects.filter(site_key=site_key).first()
    with _site_key_lock:
        if len(_site_key_cache) > 10_000:
            _site_key_cache.clear()
        _site_key_cache[site_key] = (now + settings.PZ_SITE_KEY_CACHE_SECONDS, shop)
    return shop


def forget_cached_site_keys() -> None:
    _site_key_cache.clear()


def origin_host(origin: str | None) -> str | None:
    if not origin or origin == "null":
        return None
    return urlsplit(origin).hostname


def resolve_request_shop(
    *, authorization: str, site_key, origin: str | None, referer: str | None = None
) -> tuple[Shop | None, tuple[str, str] | None]:
    """The shop of a public endpoint's request: a secret key header (servers), else a site key sent
    from one of the shop's allowed origins (pages). (shop, None), or (None, (field, reason)) for a 403."""
    if authorization:
        scheme, _, raw_key = authorization.partition(" ")
        key = resolve_secret_key(raw_key.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            return None, ("authorization", "unknown or revoked secret key")
        return key.shop, None
    shop = resolve_site_key(site_key)
    if shop is None:
        return None, ("site_key", "unknown site key")
    host = origin_host(origin) or origin_host(referer)
    if not shop.is_development and (host is None or not shop.allows_origin_host(host)):
        return None, ("origin", "this site key is not allowed from this origin")
    return shop, None


def shops_of(user: AbstractBaseUser):
    return Shop.objects.filter(membership__user=user).order_by("name", "id")


def access_shop(*, user: AbstractBaseUser, shop_id: int, owner_only: bool = False) -> tuple[Shop, Membership]:
    """The shop and the user's membership; the same 404 for a missing shop and for someone else's."""
    membership = (
        Membership.objects.select_related("shop").filter(shop_id=shop_id, user=user).first()
        if user.is_authenticated
        else None
    )
    if membership is None or (owner_only and not membership.is_owner):
        raise Http404("No such shop")
    return membership.shop, membership
