"""A/B variants: which one a visitor sees, computed the same way by the snippet (campaigns.js)."""

from personalize.lib.hashing import unit_hash

ORIGINAL = "A"
CONTENT_FIELDS = ("title", "text", "image_url", "cta_text", "cta_url", "coupon_code")


def variant_bucket(campaign_id: int | str, visitor_id: str) -> float:
    """A visitor's fixed place in [0, 1) for one campaign: `unit_hash` of "VISITOR_ID:CAMPAIGN_ID".

    The visitor id comes first so the string never equals the hold-out's "SHOP_ID:VISITOR_ID".
    """
    return unit_hash(f"{visitor_id}:{campaign_id}")


def split(variants) -> list[tuple[str, float]]:
    """[(key, cumulative upper bound)], the original first; the last bound is exactly 1."""
    shares = [(v.key, v.share) for v in variants]
    original = max(0, 100 - sum(share for _, share in shares))
    bounds, total = [], 0
    for key, share in ([(ORIGINAL, original)] if original else []) + shares:
        total += share
        bounds.append((key, round(total / 100, 6)))
    if bounds:
        bounds[-1] = (bounds[-1][0], 1.0)
    return bounds


def assign(variants, campaign_id: int | str, visitor_id: str) -> str:
    """The key of the variant this visitor sees (what the snippet picks from the config)."""
    h = variant_bucket(campaign_id, visitor_id)
    for key, upto in split(variants):
        if h < upto:
            return key
    return ORIGINAL
