"""Invitations to join a shop: an owner invites an email address; the link's token lets that person
join once they have signed up or logged in with that address."""

from django.conf import settings
from django.db import models

from personalize.shops.models import Membership, ShopOwned


class InvitationQuerySet(models.QuerySet):
    def for_shop(self, shop):
        return self.filter(shop=shop)

    def open(self, now):
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


class Invitation(ShopOwned):
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Membership.ROLES, default=Membership.MEMBER)
    # Only a hash is kept, like secret keys: a database leak does not hand out memberships.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["shop", "email"])]

    def is_open(self, now) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now
