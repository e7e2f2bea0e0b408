"""Writes behind the merchant dashboard: accounts, shop settings, memberships and invitations."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from personalize.campaigns.services import update_snippet_settings
from personalize.dashboard.models import Invitation
from personalize.recommend.admin_services import update_recommender_config
from personalize.shops.models import Membership, Shop
from personalize.shops.services import add_member, normalize_domain

INVITATION_DAYS = 7


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


# --- preferences: measurement, consent, locale ----------------------------------------------------


@transaction.atomic
def update_shop_preferences(
    *,
    shop: Shop,
    holdout_share: float,
    attribution_window_hours: int,
    locale: str,
    consent_required: bool,
    honor_gpc: bool,
    honor_dnt: bool,
    event_retention_days: int,
) -> None:
    """The settings that decide what is measured, who is tracked and for how long (validated by
    the form)."""
    shop.attribution_window_hours = attribution_window_hours
    shop.locale = locale
    shop.event_retention_days = event_retention_days
    shop.save(update_fields=["attribution_window_hours", "locale", "event_retention_days"])
    update_recommender_config(shop=shop, holdout_share=holdout_share)
    update_snippet_settings(
        shop=shop, consent_required=consent_required, honor_gpc=honor_gpc, honor_dnt=honor_dnt
    )


# --- invitations ----------------------------------------------------------------------------------


class InvitationError(ValueError):
    pass


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL + reverse("dashboard:invitation", args=[token])


def invite_member(
    *, shop: Shop, email: str, role: str, invited_by: AbstractBaseUser
) -> tuple[Invitation, str]:
    """Store an invitation and email its link; returns it and the raw token (which is not stored).

    A new invitation to the same address replaces the open one, so only the latest link works.
    """
    email = email.strip().lower()
    if role not in {Membership.OWNER, Membership.MEMBER}:
        raise InvitationError(f"unknown role {role!r}")
    if Membership.objects.for_shop(shop).filter(user__username=email).exists():
        raise InvitationError("They are already a member of this shop.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.for_shop(shop).open(now).filter(email=email).update(revoked_at=now)
        invitation = Invitation.objects.create(
            shop=shop,
            email=email,
            role=role,
            token_hash=_token_hash(token),
            invited_by=invited_by,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
    context = {
        "shop": shop,
        "invitation": invitation,
        "url": invitation_url(token),
        "inviter": invited_by.email or invited_by.get_username(),
        "days": INVITATION_DAYS,
    }
    # Sent after commit: a rolled-back invitation must not reach anyone's inbox.
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {shop.name} on Personalize",
            message=render_to_string("dashboard/email/invitation.txt", context),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation, token


def find_invitation(token: str) -> Invitation | None:
    """The invitation a link's token names (any shop: the token is the capability), or None."""
    if not token or len(token) > 100:
        return None
    return Invitation.objects.select_related("shop").filter(token_hash=_token_hash(token)).first()


@transaction.atomic
def accept_invitation(*, invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """Make `user` a member of the invitation's shop; only the invited address may accept, once."""
    current = Invitation.objects.select_for_update().get(id=invitation.id)
    if not current.is_open(timezone.now()):
        raise InvitationError(
            "This invitation was already used, withdrawn or has expired. Ask for a new one."
        )
    emails = {(user.email or "").strip().lower(), user.get_username().strip().lower()}
    if current.email not in emails:
        raise InvitationError(
            f"This invitation is for {current.email}. Log in with that address to accept it."
        )
    membership = Membership.objects.for_shop(current.shop).filter(user=user).first()
    if membership is None:
        membership = add_member(shop=current.shop, user=user, role=current.role)
    current.accepted_at, current.accepted_by = timezone.now(), user
    current.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def revoke_invitation(*, shop: Shop, invitation: Invitation) -> None:
    if invitation.shop_id != shop.id:
        raise Invitation.DoesNotExist
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
