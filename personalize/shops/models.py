"""Tenants: shops, who may act for them (memberships) and how machines reach them (keys)."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from personalize.lib.keys import new_site_key

DEV_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


class Shop(models.Model):
    name = models.CharField(max_length=200)
    site_key = models.CharField(max_length=64, unique=True, default=new_site_key, editable=False)
    allowed_domains = models.JSONField(
        default=list,
        blank=True,
        help_text="Hosts the snippet may send from; 'example.com' also allows its subdomains.",
    )
    currency = models.CharField(max_length=3, default="USD")
    locale = models.CharField(
        max_length=35,
        blank=True,
        validators=[
            RegexValidator(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", "Enter a language tag such as en-GB.")
        ],
        help_text="How the snippet formats prices and dates (a language tag, e.g. en-GB); "
        "empty: the usual one for the currency.",
    )
    attribution_window_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text="A purchase counts as attributed when the shopper clicked the product in a widget "
        "or campaign this many hours before.",
    )
    collect_rate_limit = models.PositiveIntegerField(
        default=60_000, help_text="Events accepted per minute before /collect answers 429."
    )
    event_retention_days = models.PositiveIntegerField(
        default=0,
        help_text="Events, visitor profiles and per-visitor analytics days older than this many days "
        "are deleted every night (orders and daily totals stay); 0 keeps everything.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def is_development(self) -> bool:
        """A shop on localhost takes events from any origin, so a developer's test page just works."""
        return bool(self.allowed_domains) and all(d in DEV_HOSTS for d in self.allowed_domains)

    def allows_origin_host(self, host: str) -> bool:
        if self.is_development:
            return True
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)


class ShopQuerySet(models.QuerySet):
    def for_shop(self, shop: Shop):
        return self.filter(shop=shop)


class ShopOwned(models.Model):
    """Base of every tenant-owned model: a shop column and the scoped manager.

    No index on `shop` alone: every such model has a composite index or constraint starting with it.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, db_index=False)

    objects = ShopQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(ShopOwned):
    OWNER = "owner"
    MEMBER = "member"
    ROLES = [(OWNER, "Owner"), (MEMBER, "Member")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=ROLES, default=MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="membership_unique_user")]

    @property
    def is_owner(self) -> bool:
        return self.role == self.OWNER


class SecretKey(ShopOwned):
    """A server-to-server key. Only its hash is stored; the raw key is shown once."""

    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "created_at"])]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
