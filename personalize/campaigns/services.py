"""Writes on campaigns and snippet settings, and the snippet's config built from them."""

import math
from datetime import datetime

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone

from personalize.campaigns.defaults import DEFAULT_WIDGET_LIMIT, LAYOUTS, WIDGET_TITLES, default_locale
from personalize.campaigns.models import Campaign, CampaignVariant, SnippetSettings, WidgetSettings
from personalize.campaigns.variants import CONTENT_FIELDS, split
from personalize.recommend.models import WIDGETS, RecommenderConfig
from personalize.shops.models import Shop
from personalize.shops.tenancy import get_for_shop_or_404

# How long a built config is reused; also its Cache-Control max-age in browsers.
CONFIG_SECONDS = 60
CAMPAIGN_FIELDS = frozenset(
    f.name for f in Campaign._meta.concrete_fields if f.name not in {"id", "shop", "created_at", "updated_at"}
)
SETTINGS_FIELDS = frozenset(
    ("campaigns_per_session", "campaigns_per_day", "consent_required", "honor_gpc", "honor_dnt")
)


# --- campaigns ------------------------------------------------------------------------------------


def get_campaign(*, shop: Shop, campaign_id: int) -> Campaign:
    """One of the shop's campaigns; missing and foreign ones raise the same 404."""
    return get_for_shop_or_404(Campaign, shop, id=campaign_id)


def create_campaign(*, shop: Shop, **fields) -> Campaign:
    """Validate (ValidationError naming the fields) and store a new campaign."""
    _check_names(fields, CAMPAIGN_FIELDS)
    campaign = Campaign(shop=shop, **fields)
    campaign.full_clean()
    campaign.save()
    return campaign


def update_campaign(*, shop: Shop, campaign: Campaign, **fields) -> Campaign:
    _check_names(fields, CAMPAIGN_FIELDS)
    _check_owner(shop, campaign)
    for name, value in fields.items():
        setattr(campaign, name, value)
    campaign.full_clean()
    campaign.save()
    return campaign


def delete_campaign(*, shop: Shop, campaign: Campaign) -> None:
    _check_owner(shop, campaign)
    campaign.delete()


MAX_VARIANTS = 5
VARIANT_KEYS = "BCDEFGHIJKLMNOPQRSTUVWXYZ"


@transaction.atomic
def set_campaign_variants(*, shop: Shop, campaign: Campaign, variants: list[dict]) -> list[CampaignVariant]:
    """Replace a campaign's A/B variants. Each dict has `share`, the content fields and, for a variant
    that already exists, its `key`: keys stay stable (they are what analytics groups by); new
    variants get the next unused letter. ValidationError naming `variants` or a variant's field."""
    _check_owner(shop, campaign)
    if len(variants) > MAX_VARIANTS:
        raise ValidationError({"variants": [f"at most {MAX_VARIANTS} variants besides the original"]})
    if sum(int(v.get("share") or 0) for v in variants) > 100:
        raise ValidationError({"variants": ["the variants' shares add up to more than 100%"]})
    existing = {v.key: v for v in CampaignVariant.objects.for_shop(shop).filter(campaign=campaign)}
    kept_keys = {v.get("key") for v in variants if v.get("key") in existing}
    used = set(existing)  # not even the letter of a variant deleted in this save is reused
    rows = []
    for data in variants:
        key = data.get("key") if data.get("key") in existing else None
        row = existing.get(key) or CampaignVariant(shop=shop, campaign=campaign)
        if key is None:
            key = next(k for k in VARIANT_KEYS if k not in used)
            used.add(key)
        row.key = key
        for name in ("share", *CONTENT_FIELDS):
            if name in data:
                setattr(row, name, data[name])
        row.full_clean(exclude=["campaign", "shop"], validate_unique=False)
        rows.append(row)
    CampaignVariant.objects.for_shop(shop).filter(campaign=campaign).exclude(key__in=kept_keys).delete()
    for row in rows:
        row.save()
    return rows


def _check_owner(shop: Shop, campaign: Campaign) -> None:
    if campaign.shop_id != shop.id:
        raise Http404


# --- settings -------------------------------------------------------------------------------------


def get_snippet_settings(*, shop: Shop) -> SnippetSettings:
    """The shop's settings, or unsaved defaults when it never changed them: reading must not write."""
    return SnippetSettings.objects.filter(shop=shop).first() or SnippetSettings(shop=shop)


def update_snippet_settings(*, shop: Shop, **fields) -> SnippetSettings:
    _check_names(fields, SETTINGS_FIELDS)
    snippet_settings = get_snippet_settings(shop=shop)
    for name, value in fields.items():
        setattr(snippet_settings, name, value)
    snippet_settings.full_clean(validate_unique=False)
    snippet_settings.save()
    return snippet_settings


def set_widget_settings(
    *,
    shop: Shop,
    widget: str,
    title: str = "",
    limit: int | None = None,
    layout: str = "",
    category: str = "",
    min_price=None,
    max_price=None,
) -> WidgetSettings:
    """A widget type's title, size, layout and default filters for this shop; empty values keep the
    defaults."""
    row = WidgetSettings.objects.for_shop(shop).filter(widget=widget).first() or WidgetSettings(
        shop=shop, widget=widget
    )
    row.title, row.limit, row.layout = title, limit, layout
    row.category, row.min_price, row.max_price = category, min_price, max_price
    row.full_clean(validate_unique=False)
    row.save()
    return row


def _check_names(fields: dict, allowed: frozenset) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")


# --- the snippet's config -------------------------------------------------------------------------


def config_cache_key(shop_id: int) -> str:
    return f"campaigns:config:{shop_id}"


def config_changed(shop_id: int) -> None:
    """Forget the shop's built config, now and again once the transaction commits: a request that
    rebuilt it from the old rows in between would otherwise serve them for a minute."""
    key = config_cache_key(shop_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def snippet_config(*, shop: Shop) -> dict:
    """What GET /api/v1/config answers, from the cache when it is there (no query then)."""
    key = config_cache_key(shop.id)
    config = cache.get(key)
    if config is None:
        config, seconds = build_snippet_config(shop=shop, now=timezone.now())
        cache.set(key, config, timeout=seconds)
    return config


def build_snippet_config(*, shop: Shop, now: datetime) -> tuple[dict, int]:
    """(the config, how many seconds it stays true): at most CONFIG_SECONDS, less when a campaign's
    schedule starts or ends sooner, so the change is not served late. Six queries (five without live
    campaigns)."""
    # Re-read: `shop` may be a per-process copy of the site key's shop, up to a minute old.
    current = Shop.objects.filter(id=shop.id).values("currency", "locale").first() or {
        "currency": shop.currency,
        "locale": shop.locale,
    }
    snippet_settings = get_snippet_settings(shop=shop)
    overrides = {row.widget: row for row in WidgetSettings.objects.for_shop(shop)}
    holdout_share = (
        RecommenderConfig.objects.filter(shop=shop).first() or RecommenderConfig(shop=shop)
    ).holdout_share
    campaigns = list(
        Campaign.objects.for_shop(shop)
        .active()
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("-priority", "id")
        .prefetch_related(Prefetch("variants", queryset=CampaignVariant.objects.order_by("key")))
    )

    changes = [t for c in campaigns for t in (c.starts_at, c.ends_at) if t is not None and t > now]
    seconds = CONFIG_SECONDS
    if changes:
        seconds = max(1, min(CONFIG_SECONDS, math.ceil((min(changes) - now).total_seconds())))

    config = {
        "shop": {
            "id": shop.id,
            "currency": current["currency"],
            "locale": current["locale"] or default_locale(current["currency"]),
        },
        "consent": {
            "required": snippet_settings.consent_required,
            "honor_gpc": snippet_settings.honor_gpc,
            "honor_dnt": snippet_settings.honor_dnt,
        },
        # The snippet computes unit_hash(seed + ":" + visitor_id) < share, as
        # recommend.rules.holdout_bucket does, and shows a hold-out visitor no campaign.
        "holdout": {"share": holdout_share, "seed": str(shop.id)},
        "widgets": {widget: _widget_json(widget, overrides.get(widget)) for widget in WIDGETS},
        "budget": {
            "per_session": snippet_settings.campaigns_per_session,
            "per_day": snippet_settings.campaigns_per_day,
        },
        "campaigns": [campaign_json(c) for c in campaigns if c.is_live(now)],
    }
    return config, seconds


def _widget_json(widget: str, override: WidgetSettings | None) -> dict:
    answer = {
        "title": (override and override.title) or WIDGET_TITLES[widget],
        "limit": (override and override.limit) or DEFAULT_WIDGET_LIMIT,
        "layout": (override and override.layout) or LAYOUTS[0],
    }
    # Default filters only when set, so shops without them get the same config as before.
    if override is not None:
        if override.category:
            answer["category"] = override.category
        for name in ("min_price", "max_price"):
            if getattr(override, name) is not None:
                answer[name] = float(getattr(override, name))
    return answer


def campaign_json(campaign: Campaign) -> dict:
    """A campaign as the snippet receives it; `variants` only when it is A/B tested."""
    answer = {
        "id": str(campaign.id),
        "name": campaign.name,
        "kind": campaign.kind,
        "priority": campaign.priority,
        "trigger": {
            "type": campaign.trigger_type,
            "delay_seconds": campaign.delay_seconds,
            "scroll_percent": campaign.scroll_percent,
        },
        "targeting": campaign.targeting,
        "content": {
            "title": campaign.title,
            "text": campaign.text,
            "image_url": campaign.image_url,
            "cta_text": campaign.cta_text,
            "cta_url": campaign.cta_url,
            "coupon_code": campaign.coupon_code,
            "widget": campaign.widget or None,
            "widget_limit": campaign.widget_limit,
        },
    }
    variants = list(campaign.variants.all())
    if variants:
        by_key = {v.key: v for v in variants}
        answer["variants"] = [
            {"key": key, "upto": upto}
            | ({"content": _variant_content(answer["content"], by_key[key])} if key in by_key else {})
            for key, upto in split(variants)
        ]
    return answer


def _variant_content(content: dict, variant: CampaignVariant) -> dict:
    # The campaign's embedded block comes along; the texts, image and coupon are the variant's.
    return content | {name: getattr(variant, name) for name in CONTENT_FIELDS}
