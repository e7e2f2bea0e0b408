"""Per-shop recommender settings, widget rules, and trained model versions."""

from django.db import models

from personalize.shops.models import Shop, ShopOwned

WIDGETS = ("for_you", "similar", "bought_together", "trending", "recently_viewed", "cart")


class RecommenderConfig(models.Model):
    """How a shop's interactions are weighted and its answers shaped. Defaults serve a typical shop."""

    HOLDOUT_ANSWERS = [("trending", "trending, not personal"), ("none", "nothing")]

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="recommender_config")
    weight_view = models.FloatField(default=1.0)
    weight_click = models.FloatField(default=1.5, help_text="A click on a recommendation.")
    weight_cart = models.FloatField(default=4.0)
    weight_purchase = models.FloatField(default=8.0)
    half_life_days = models.FloatField(
        default=30.0,
        help_text="An interaction this old counts half (30 won on both benchmark datasets' folds).",
    )
    exclude_purchased = models.BooleanField(
        default=True, help_text="Hide what the shopper already bought (off for grocery: buy-again)."
    )
    max_per_category = models.PositiveSmallIntegerField(
        default=0, help_text="Diversity: at most this many items of one category per list; 0 = no cap."
    )
    holdout_share = models.FloatField(
        default=0.05, help_text="Share of visitors who get the hold-out answer."
    )
    holdout_answer = models.CharField(max_length=16, choices=HOLDOUT_ANSWERS, default="trending")
    retrain_after_events = models.PositiveIntegerField(default=20_000)
    retrain_every_hours = models.PositiveIntegerField(default=24)

    @classmethod
    def for_shop(cls, shop: Shop) -> "RecommenderConfig":
        config, _ = cls.objects.get_or_create(shop=shop)
        return config


class WidgetRule(ShopOwned):
    """Merchandising per widget: pin, boost or bury a product or a category."""

    PIN, BOOST, BURY = "pin", "boost", "bury"
    ACTIONS = [(PIN, "pin"), (BOOST, "boost"), (BURY, "bury")]
    PRODUCT, CATEGORY = "product", "category"
    TARGETS = [(PRODUCT, "product"), (CATEGORY, "category")]

    widget = models.CharField(max_length=24, choices=[(w, w) for w in WIDGETS] + [("*", "every widget")])
    action = models.CharField(max_length=8, choices=ACTIONS)
    target = models.CharField(max_length=16, choices=TARGETS)
    value = models.CharField(max_length=1000, help_text="A product id, or a category path ('A > B').")
    factor = models.FloatField(default=1.5, help_text="For boost: score multiplier.")
    position = models.PositiveSmallIntegerField(default=0, help_text="For pin: 0-based slot.")

    class Meta:
        indexes = [models.Index(fields=["shop", "widget"])]


class ModelVersionQuerySet(models.QuerySet):
    def for_shop(self, shop: Shop):
        return self.filter(shop=shop)

    def active(self):
        return self.filter(status=ModelVersion.ACTIVE)


class ModelVersion(ShopOwned):
    QUEUED, TRAINING, FAILED, REJECTED, READY, ACTIVE, RETIRED = (
        "queued",
        "training",
        "failed",
        "rejected",
        "ready",
        "active",
        "retired",
    )
    STATUSES = [(s, s) for s in (QUEUED, TRAINING, FAILED, REJECTED, READY, ACTIVE, RETIRED)]

    status = models.CharField(max_length=16, choices=STATUSES, default=QUEUED)
    reason = models.CharField(
        max_length=64, blank=True, help_text="Why training ran: schedule, events, manual…"
    )
    algorithm = models.CharField(max_length=64, blank=True)
    decision = models.TextField(blank=True, help_text="Why it was activated or not.")
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="{model: {...}, popularity: {...}} at k=10."
    )
    data_start = models.DateTimeField(null=True, blank=True)
    data_end = models.DateTimeField(null=True, blank=True)
    n_users = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    train_seconds = models.FloatField(null=True, blank=True)
    artifact = models.CharField(
        max_length=500, blank=True, help_text="Path of the arrays, under PZ_MODEL_DIR."
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop"], condition=models.Q(status="active"), name="one_active_model"
            ),
        ]
        indexes = [models.Index(fields=["shop", "created_at"])]


class ErasedUser(ShopOwned):
    """A shopper erased through the privacy API, as a hash of their model user id ("v:…", "c:…").

    Their events are gone, so the next training leaves them out; until then the active version's
    arrays still hold their row, which serving must not use. A version whose training started after
    the erasure was trained without their old data and may serve them again (they may have come
    back). The hash keeps no readable id; see store.erased_user_hash."""

    user_hash = models.CharField(max_length=64)
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "erased_at"])]
