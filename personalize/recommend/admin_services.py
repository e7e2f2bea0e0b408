"""Writes and reads behind the dashboard's widget editor and models page.

Kept apart from serving/training (which the engine's maintainers own): the dashboard only calls
their public functions, plus `preview`, which runs the serving steps with a merchant's unsaved
rules instead of the stored ones.
"""

from dataclasses import dataclass, replace

from django.db import transaction

from personalize.recommend import serving, store
from personalize.recommend.models import WIDGETS, ModelVersion, RecommenderConfig, WidgetRule
from personalize.recommend.rules import Rule, normalize_category
from personalize.recommend.training import request_training
from personalize.shops.models import Shop

RULE_FIELDS = ("action", "target", "value", "factor", "position")
MAX_RULES_PER_WIDGET = 50


@dataclass(frozen=True)
class DraftRule:
    action: str
    target: str
    value: str
    factor: float = 1.5
    position: int = 0

    def as_rule(self) -> Rule:
        value = self.value.strip() if self.target == WidgetRule.PRODUCT else normalize_category(self.value)
        return Rule(self.action, self.target, value, float(self.factor), int(self.position))


# --- settings -------------------------------------------------------------------------------------


def get_recommender_config(*, shop: Shop) -> RecommenderConfig:
    """The shop's config, or unsaved defaults: reading must not write."""
    return RecommenderConfig.objects.filter(shop=shop).first() or RecommenderConfig(shop=shop)


def _rules_changed_on_commit(shop: Shop) -> None:
    # Serving holds rules in process memory; the token tells every process to reload them.
    shop_id = shop.id
    transaction.on_commit(lambda: store.rules_changed(shop_id))


@transaction.atomic
def update_recommender_config(*, shop: Shop, **fields) -> RecommenderConfig:
    """Change the shop's diversity cap or hold-out share (validated by the caller's form)."""
    unknown = set(fields) - {"max_per_category", "holdout_share"}
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    config, _ = RecommenderConfig.objects.select_for_update().get_or_create(shop=shop)
    for name, value in fields.items():
        setattr(config, name, value)
    config.save(update_fields=list(fields))
    _rules_changed_on_commit(shop)
    return config


def widget_rules(*, shop: Shop, widget: str) -> list[WidgetRule]:
    return list(WidgetRule.objects.for_shop(shop).filter(widget=widget).order_by("id"))


@transaction.atomic
def set_widget_rules(*, shop: Shop, widget: str, rules: list[DraftRule]) -> list[WidgetRule]:
    """Replace a widget type's pins, boosts and buries with `rules`, in this order."""
    if widget not in WIDGETS:
        raise ValueError(f"unknown widget {widget!r}")
    if len(rules) > MAX_RULES_PER_WIDGET:
        raise ValueError(f"at most {MAX_RULES_PER_WIDGET} rules a widget")
    WidgetRule.objects.for_shop(shop).filter(widget=widget).delete()
    rows = WidgetRule.objects.bulk_create(
        [WidgetRule(shop=shop, widget=widget, **{f: getattr(r, f) for f in RULE_FIELDS}) for r in rules]
    )
    _rules_changed_on_commit(shop)
    return rows


# --- the live preview -----------------------------------------------------------------------------


def preview(
    *,
    shop: Shop,
    query: serving.Query,
    rules: list[DraftRule],
    max_per_category: int,
) -> dict:
    """What `serving.recommend` would answer for an anonymous shopper once these (unsaved) rules and
    diversity cap are saved: the same candidates, model, fallbacks and `arrange`.

    No visitor, so no hold-out and no personal history: the preview shows the shop's general answer.
    """
    view, _ = store.shop_view(shop)
    draft = replace(
        view.rules,
        max_per_category=max_per_category,
        by_widget={**view.rules.by_widget, query.widget: [r.as_rule() for r in rules if r.value.strip()]},
    )
    query = replace(query, visitor_id="", session_id="", customer_id="")
    answer = serving.recommend(shop=shop, query=query, rules=draft)
    return {key: answer[key] for key in ("widget", "model_version", "items")}


# --- model versions and training ------------------------------------------------------------------


def model_versions(*, shop: Shop, limit: int = 50) -> list[ModelVersion]:
    """The shop's training history, newest first (the active one included wherever it falls)."""
    return list(ModelVersion.objects.for_shop(shop).order_by("-created_at", "-id")[:limit])


def pending_training(*, shop: Shop) -> ModelVersion | None:
    return (
        ModelVersion.objects.for_shop(shop)
        .filter(status__in=[ModelVersion.QUEUED, ModelVersion.TRAINING])
        .order_by("-created_at", "-id")
        .first()
    )


def retrain(*, shop: Shop) -> tuple[ModelVersion | None, ModelVersion | None]:
    """Queue a training now: (the new version or None, the one already queued or running)."""
    version = request_training(shop=shop, reason="manual")
    return version, (None if version else pending_training(shop=shop))
