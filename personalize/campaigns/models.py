"""Pop-ups and exit-intent overlays, and the per-shop settings the snippet is configured with."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, ProhibitNullCharactersValidator
from django.db import models

from personalize.campaigns.defaults import LAYOUTS
from personalize.campaigns.validation import (
    clean_targeting,
    validate_coupon_code,
    validate_safe_url,
    validate_targeting,
)
from personalize.recommend.models import WIDGETS
from personalize.shops.models import Shop, ShopOwned

WIDGET_CHOICES = [(w, w) for w in WIDGETS]
NO_NUL = [ProhibitNullCharactersValidator()]


class CampaignQuerySet(models.QuerySet):
    def for_shop(self, shop: Shop):
        return self.filter(shop=shop)

    def active(self):
        return self.filter(status=Campaign.ACTIVE)


class Campaign(ShopOwned):
    """A message the snippet shows a shopper when the trigger fires and the targeting matches.

    Validation lives in the fields' validators and `clean`; save through `full_clean` (the admin and
    services.py do).
    """

    POPUP, EXIT_INTENT = "popup", "exit_intent"
    KINDS = [(POPUP, "pop-up"), (EXIT_INTENT, "exit-intent overlay")]
    DRAFT, ACTIVE, PAUSED = "draft", "active", "paused"
    STATUSES = [(DRAFT, "draft"), (ACTIVE, "active"), (PAUSED, "paused")]
    LOAD, DELAY, SCROLL, EXIT = "load", "delay", "scroll", "exit"
    TRIGGERS = [
        (LOAD, "on page load"),
        (DELAY, "after a delay"),
        (SCROLL, "after scrolling"),
        (EXIT, "on exit intent"),
    ]

    name = models.CharField(max_length=200, validators=NO_NUL, help_text="For the merchant; not shown.")
    kind = models.CharField(max_length=16, choices=KINDS, default=POPUP)
    status = models.CharField(max_length=16, choices=STATUSES, default=DRAFT)
    priority = models.IntegerField(
        default=0,
        validators=[MinValueValidator(-1000), MaxValueValidator(1000)],
        help_text="When several match, the highest is shown first.",
    )
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Empty: from now.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until paused.")

    trigger_type = models.CharField(max_length=8, choices=TRIGGERS, default=LOAD)
    delay_seconds = models.PositiveIntegerField(
        default=5, validators=[MaxValueValidator(3600)], help_text="For the delay trigger."
    )
    scroll_percent = models.PositiveSmallIntegerField(
        default=50, validators=[MaxValueValidator(100)], help_text="For the scroll trigger."
    )
    targeting = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_targeting],
        help_text=(
            "Who sees it; every rule set must match. Keys: url_contains [text], devices "
            '["desktop", "mobile"], visitor any|new|returning, min_page_views, min_seconds_on_page, '
            "min_scroll_percent, min_cart_value, max_cart_value, cart_contains [product_id], "
            "viewed_category, customer any|known|anonymous."
        ),
    )

    title = models.CharField(max_length=200, blank=True, validators=NO_NUL)
    text = models.CharField(max_length=2000, blank=True, validators=NO_NUL)
    image_url = models.CharField(max_length=2048, blank=True, validators=[validate_safe_url])
    cta_text = models.CharField(max_length=100, blank=True, validators=NO_NUL, verbose_name="button text")
    cta_url = models.CharField(
        max_length=2048, blank=True, validators=[validate_safe_url], verbose_name="button link"
    )
    coupon_code = models.CharField(max_length=64, blank=True, validators=[validate_coupon_code])
    widget = models.CharField(
        max_length=24, choices=WIDGET_CHOICES, blank=True, help_text="A recommendations block shown inside."
    )
    widget_limit = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["shop", "status", "-priority"])]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors: dict[str, list[str]] = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = ["must be after starts_at"]
        if self.kind == self.EXIT_INTENT and self.trigger_type != self.EXIT:
            errors["trigger_type"] = ["an exit-intent overlay opens on the exit trigger"]
        if self.cta_url and not self.cta_text:
            errors["cta_text"] = ["is required with a button link"]
        if not (self.title or self.text or self.image_url or self.widget):
            errors["title"] = ["a campaign shows a title, a text, an image or a widget: set at least one"]
        cleaned, targeting_errors = clean_targeting(self.targeting)
        if not targeting_errors:
            self.targeting = cleaned
        if errors:
            raise ValidationError(errors)

    def is_live(self, now) -> bool:
        """Active and inside its schedule at `now`."""
        return (
            self.status == self.ACTIVE
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


class SnippetSettings(models.Model):
    """How the snippet behaves on a shop's pages. A shop without a row gets the field defaults
    (reading never writes one); services.update_snippet_settings makes it."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="snippet_settings")
    campaigns_per_session = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(20)],
        help_text="Attention budget: at most this many campaigns shown per visit (0: none).",
    )
    campaigns_per_day = models.PositiveSmallIntegerField(
        default=2,
        validators=[MaxValueValidator(50)],
        help_text="Attention budget: at most this many campaigns shown to a visitor per day (0: none).",
    )
    consent_required = models.BooleanField(
        default=False,
        help_text="Track and personalize only after the page calls pz('consent', true).",
    )
    honor_gpc = models.BooleanField(
        default=True, help_text="A browser's Global Privacy Control signal means no tracking."
    )
    honor_dnt = models.BooleanField(
        default=True, help_text="A browser's Do Not Track signal means no tracking."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "snippet settings"

    def __str__(self) -> str:
        return f"Snippet settings of shop {self.shop_id}"

    def clean(self):
        if self.campaigns_per_session > self.campaigns_per_day:
            raise ValidationError({"campaigns_per_session": ["must not be above campaigns_per_day"]})


class WidgetSettings(ShopOwned):
    """A shop's own title, size or layout for one widget type; what is left empty keeps the default."""

    widget = models.CharField(max_length=24, choices=WIDGET_CHOICES)
    title = models.CharField(max_length=200, blank=True, validators=NO_NUL, help_text="Empty: the default.")
    limit = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Empty: the default (8).",
    )
    layout = models.CharField(
        max_length=16, choices=[(x, x) for x in LAYOUTS], blank=True, help_text="Empty: the default."
    )
    # Filters every placeholder of this type gets unless it names its own (data-pz-category, …).
    category = models.CharField(
        max_length=1000, blank=True, validators=NO_NUL, help_text="Only this category or below it."
    )
    min_price = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    max_price = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )

    class Meta:
        verbose_name_plural = "widget settings"
        constraints = [models.UniqueConstraint(fields=["shop", "widget"], name="widget_settings_unique")]

    def __str__(self) -> str:
        return f"{self.widget} of shop {self.shop_id}"

    def clean(self):
        if self.min_price is not None and self.max_price is not None and self.max_price < self.min_price:
            raise ValidationError({"max_price": ["must not be below the minimum price"]})


class CampaignVariant(ShopOwned):
    """An A/B variant of a campaign's content. The campaign's own content is variant "A"; it gets the
    share the variants leave (100 - their shares). The snippet puts a visitor in a variant by
    `variants.variant_bucket`, the same on every page, and reports the key on campaign events."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    key = models.CharField(max_length=2, help_text='"B", "C", …: sent as properties.variant.')
    share = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100)], help_text="Percent of the visitors."
    )
    title = models.CharField(max_length=200, blank=True, validators=NO_NUL)
    text = models.CharField(max_length=2000, blank=True, validators=NO_NUL)
    image_url = models.CharField(max_length=2048, blank=True, validators=[validate_safe_url])
    cta_text = models.CharField(max_length=100, blank=True, validators=NO_NUL, verbose_name="button text")
    cta_url = models.CharField(
        max_length=2048, blank=True, validators=[validate_safe_url], verbose_name="button link"
    )
    coupon_code = models.CharField(max_length=64, blank=True, validators=[validate_coupon_code])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "campaign", "key"], name="campaign_variant_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} of campaign {self.campaign_id}"

    def clean(self):
        errors = {}
        if self.cta_url and not self.cta_text:
            errors["cta_text"] = ["is required with a button link"]
        if not (self.title or self.text or self.image_url):
            errors["title"] = ["a variant shows a title, a text or an image: set at least one"]
        if errors:
            raise ValidationError(errors)
