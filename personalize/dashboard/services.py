"""Writes behind the merchant dashboard: accounts, shop settings and memberships."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from personalize.shops.models import Membership, Shop
from personalize.shops.services import normalize_domain


class AccountExists(ValueError):
    pass


class LastOwnerError(ValueError):
    """A shop must keep at least one owner, or nobody could manage its keys and members again."""


def create_account(*, email: str, password: str) -> AbstractBaseUser:
    """A new user whose username is the lower-cased email, so login by email is a username match."""
    email = email.strip().lower()
    try:
        with transaction.atomic():
            return get_user_model().objects.create_user(username=email, email=email, password=password)
    except IntegrityError as exc:  # two sign-ups with one email racing past the form's check
        raise AccountExists(email) from exc


def find_user_by_email(email: str) -> AbstractBaseUser | None:
    """The user a sign-up made for `email`, else the only user with that email (e.g. made by an admin)."""
    email = email.strip().lower()
    users = get_user_model().objects
    user = users.filter(username=email).first()
    if user is None:
        matches = list(users.filter(email__iexact=email)[:2])
        user = matches[0] if len(matches) == 1 else None
    return user


@transaction.atomic
def update_shop_settings(*, shop: Shop, domains: list[str], currency: str) -> None:
    shop.allowed_domains = sorted({normalize_domain(d) for d in domains})
    shop.currency = currency.strip().upper()
    shop.save(update_fields=["allowed_domains", "currency"])


def _lock_for_change(shop: Shop, membership: Membership) -> tuple[Membership | None, list[int]]:
    """The membership as it is now, and the ids of the shop's owners, all locked.

    Locked so two owners removing or demoting each other at once cannot leave the shop with none.
    """
    if membership.shop_id != shop.id:
        raise Membership.DoesNotExist
    owner_ids = list(
        Membership.objects.for_shop(shop)
        .filter(role=Membership.OWNER)
        .select_for_update()
        .order_by("id")
        .values_list("id", flat=True)
    )
    current = Membership.objects.for_shop(shop).select_for_update().filter(id=membership.id).first()
    return current, owner_ids


@transaction.atomic
def remove_member(*, shop: Shop, membership: Membership) -> None:
    """Remove a membership; refuses to remove the shop's last owner."""
    current, owner_ids = _lock_for_change(shop, membership)
    if current is None:
        return
    if current.is_owner and owner_ids == [current.id]:
        raise LastOwnerError("A shop needs at least one owner.")
    current.delete()


@transaction.atomic
def change_member_role(*, shop: Shop, membership: Membership, role: str) -> Membership:
    """Make a member an owner or an owner a member; refuses to demote the last owner."""
    if role not in {Membership.OWNER, Membership.MEMBER}:
        raise ValueError(f"unknown role {role!r}")
    current, owner_ids = _lock_for_change(shop, membership)
    if current is None:
        raise Membership.DoesNotExist
    if role == Membership.MEMBER and owner_ids == [current.id]:
        raise LastOwnerError("A shop needs at least one owner.")
    if current.role != role:
        current.role = role
        current.save(update_fields=["role"])
    return current
