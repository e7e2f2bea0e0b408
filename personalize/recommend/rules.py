"""Business rules applied to a ranked list: merchandising (pin, boost, bury), diversity, hold-out.

`load_rules` reads a shop's RecommenderConfig and WidgetRules (two queries; serving keeps the result
in process memory). `arrange` is plain Python over catalog indices, so it is cheap and easy to test.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from personalize.catalog.models import CATEGORY_SEPARATOR
from personalize.lib.hashing import unit_hash
from personalize.recommend.models import RecommenderConfig, WidgetRule
from personalize.shops.models import Shop

FEATURED = "Featured"


@dataclass(frozen=True)
class Rule:
    action: str  # WidgetRule.PIN / BOOST / BURY
    target: str  # WidgetRule.PRODUCT / CATEGORY
    value: str  # a product id, or a category path in the stored 'A > B' form
    factor: float = 1.5
    position: int = 0

    def matches(self, product_id: str, category_path: str) -> bool:
        if self.target == WidgetRule.PRODUCT:
            return product_id == self.value
        return category_matches(category_path, self.value)


@dataclass
class ShopRules:
    """A shop's recommender config and merchandising rules, detached from the database."""

    exclude_purchased: bool = True
    max_per_category: int = 0
    holdout_share: float = 0.05
    holdout_answer: str = "trending"
    # Fold-in weight of each event type in the real-time user vector.
    type_weights: dict[str, float] = field(
        default_factory=lambda: {"product_view": 1.0, "rec_click": 1.5, "add_to_cart": 4.0, "purchase": 8.0}
    )
    by_widget: dict[str, list[Rule]] = field(default_factory=dict)

    def for_widget(self, widget: str) -> list[Rule]:
        return self.by_widget.get(widget, []) + self.by_widget.get("*", [])


@dataclass
class Pick:
    """One recommended item: a catalog index, its score and why it was chosen."""

    index: int
    score: float
    reason: str


def category_matches(path: str, value: str) -> bool:
    """`value` is the category itself or one of its ancestors ('Women' matches 'Women > Dresses')."""
    return bool(value) and (path == value or path.startswith(value + CATEGORY_SEPARATOR))


def normalize_category(value: str) -> str:
    """'Women>Dresses' or ' Women >  Dresses ' -> 'Women > Dresses', the stored form."""
    return CATEGORY_SEPARATOR.join(part.strip() for part in value.split(">") if part.strip())


def load_rules(*, shop: Shop) -> ShopRules:
    """The shop's config (defaults when it never saved one: reading must not write) and rules."""
    config = RecommenderConfig.objects.filter(shop=shop).first() or RecommenderConfig(shop=shop)
    by_widget: dict[str, list[Rule]] = {}
    for row in WidgetRule.objects.for_shop(shop).order_by("id"):
        value = row.value.strip() if row.target == WidgetRule.PRODUCT else normalize_category(row.value)
        if value:
            by_widget.setdefault(row.widget, []).append(
                Rule(row.action, row.target, value, float(row.factor), int(row.position))
            )
    return ShopRules(
        exclude_purchased=config.exclude_purchased,
        max_per_category=config.max_per_category,
        holdout_share=config.holdout_share,
        holdout_answer=config.holdout_answer,
        type_weights={
            "product_view": config.weight_view,
            "rec_click": config.weight_click,
            "add_to_cart": config.weight_cart,
            "purchase": config.weight_purchase,
        },
        by_widget=by_widget,
    )


def holdout_bucket(shop_id: int, visitor_id: str) -> float:
    """A visitor's fixed place in [0, 1) for this shop: the same on every request and process.

    `unit_hash` of "SHOP_ID:VISITOR_ID": the snippet computes the same in a few bytes of
    JavaScript, so it knows without asking whether to show campaigns to a hold-out visitor.
    """
    return unit_hash(f"{shop_id}:{visitor_id}")


def is_holdout(*, shop_id: int, visitor_id: str, share: float) -> bool:
    """Whether this visitor belongs to the shop's hold-out group (no personalization)."""
    return bool(visitor_id) and share > 0 and holdout_bucket(shop_id, visitor_id) < share


def arrange(
    picks: list[Pick],
    *,
    limit: int,
    rules: list[Rule],
    product_id_of: Callable[[int], str],
    category_of: Callable[[int], str],
    pinnable_product: Callable[[str], int | None],
    best_in_category: Callable[[str, set[int]], int | None],
    max_per_category: int = 0,
) -> list[Pick]:
    """The final list from a ranking, best first.

    Each pick's score becomes 1 / (1 + rank); a boost multiplies it by the rule's factor, a bury
    sends the item behind every unburied one. Then at most `max_per_category` items per category
    (0 = no cap), then pins take their 0-based slots. `pinnable_product` gives the catalog index of a
    product id when it may be shown (in stock, passes filters, not excluded), else None;
    `best_in_category` the best such item in a category outside a set, for a category pin that the
    ranking did not reach.
    """
    weighting = [r for r in rules if r.action in (WidgetRule.BOOST, WidgetRule.BURY)]
    ranked = []
    for rank, pick in enumerate(picks):
        score = 1.0 / (1 + rank)
        buried = False
        if weighting:
            product_id, category = product_id_of(pick.index), category_of(pick.index)
            for rule in weighting:
                if rule.matches(product_id, category):
                    if rule.action == WidgetRule.BOOST and rule.factor > 0:
                        score *= rule.factor
                    elif rule.action == WidgetRule.BURY:
                        buried = True
        ranked.append((buried, -score, rank, Pick(pick.index, round(score, 6), pick.reason)))
    ranked.sort(key=lambda entry: entry[:3])
    ordered = [entry[3] for entry in ranked]

    if max_per_category > 0:
        counts: dict[str, int] = {}
        kept = []
        for pick in ordered:
            category = category_of(pick.index)
            if category:
                if counts.get(category, 0) >= max_per_category:
                    continue
                counts[category] = counts.get(category, 0) + 1
            kept.append(pick)
        ordered = kept

    pins = sorted((r for r in rules if r.action == WidgetRule.PIN), key=lambda r: r.position)
    if not pins:
        return ordered[:limit]
    by_index = {pick.index: pick for pick in ordered}
    pinned: list[tuple[int, Pick]] = []
    taken: set[int] = set()
    for rule in pins:
        if rule.target == WidgetRule.PRODUCT:
            index = pinnable_product(rule.value)
        else:
            index = next(
                (
                    p.index
                    for p in ordered
                    if p.index not in taken and category_matches(category_of(p.index), rule.value)
                ),
                None,
            )
            if index is None:
                index = best_in_category(rule.value, taken)
        if index is None or index in taken:
            continue
        taken.add(index)
        known = by_index.get(index)
        pinned.append(
            (rule.position, Pick(index, known.score if known else 1.0, known.reason if known else FEATURED))
        )
    result = [pick for pick in ordered if pick.index not in taken][:limit]
    # Ascending slots: an insert never moves a pin placed before it.
    for position, pick in pinned:
        result.insert(min(position, len(result)), pick)
    return result[:limit]
