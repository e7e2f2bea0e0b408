"""The demo shop: its setup from the committed data slice, and the look-ups of the demo store."""

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.text import slugify

from personalize.campaigns.models import Campaign
from personalize.campaigns.services import create_campaign
from personalize.catalog.models import CATEGORY_SEPARATOR, FeedImport, Product
from personalize.catalog.services import import_feed
from personalize.events.history import ImportSummary, import_history
from personalize.events.models import OrderLine
from personalize.recommend.models import ModelVersion
from personalize.recommend.training import request_training
from personalize.shops.models import Membership, Shop
from personalize.shops.services import create_shop

DATA_DIR = Path(__file__).resolve().parent / "data"
PRODUCTS_FILE = DATA_DIR / "products.csv"
EVENTS_FILE = DATA_DIR / "events.csv.gz"
DEMO_SHOP_NAME = "Demo Gift Shop"
DEMO_DOMAINS = ["127.0.0.1", "localhost"]
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-123"
DEMO_LOCALE = "en-GB"
# The FeedImport row the demo catalog is loaded through, reused on every run.
FEED_SOURCE = "demo:products.csv"
# Made once, by name: a rerun neither duplicates them nor undoes a merchant's edits.
DEMO_CAMPAIGNS = [
    {
        "name": "Welcome offer",
        "kind": Campaign.POPUP,
        "status": Campaign.ACTIVE,
        "priority": 10,
        "trigger_type": Campaign.DELAY,
        "delay_seconds": 4,
        "targeting": {"visitor": "new"},
        "title": "Welcome to the Demo Gift Shop",
        "text": "Take 10% off your first order with this code at checkout.",
        "cta_text": "Start shopping",
        "cta_url": "/demo/",
        "coupon_code": "WELCOME10",
        "widget": "trending",
        "widget_limit": 4,
    },
    {
        "name": "Before you go",
        "kind": Campaign.EXIT_INTENT,
        "status": Campaign.ACTIVE,
        "priority": 5,
        "trigger_type": Campaign.EXIT,
        "targeting": {"min_page_views": 2},
        "title": "Before you go…",
        "text": "We picked these for you. Your basket is saved for when you come back.",
        "cta_text": "View basket",
        "cta_url": "/demo/cart/",
        "widget": "for_you",
        "widget_limit": 4,
    },
]


@dataclass
class DemoLoad:
    shop: Shop
    user: AbstractBaseUser
    shop_created: bool
    feed_import: FeedImport
    history: ImportSummary


def get_demo_shop() -> Shop | None:
    """The demo shop: the one of that name owned by the demo user (a merchant's namesake is not it)."""
    return (
        Shop.objects.filter(
            name=DEMO_SHOP_NAME, membership__user__username=DEMO_EMAIL, membership__role=Membership.OWNER
        )
        .order_by("id")
        .first()
    )


@transaction.atomic
def ensure_demo_shop() -> tuple[Shop, AbstractBaseUser, bool]:
    """The demo merchant and shop, made on first use; the printed password always works afterwards."""
    User = get_user_model()
    user = User.objects.filter(username=DEMO_EMAIL).first()
    if user is None:
        user = User.objects.create_user(username=DEMO_EMAIL, email=DEMO_EMAIL, password=DEMO_PASSWORD)
    elif not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    shop = get_demo_shop()
    if shop is not None:
        return shop, user, False
    return create_shop(name=DEMO_SHOP_NAME, domains=DEMO_DOMAINS, owner=user, currency="GBP"), user, True


def load_demo(*, progress: Callable[[int], None] | None = None) -> DemoLoad:
    """Create (or reuse) the demo shop and load its catalog and history; a rerun adds nothing."""
    shop, user, created = ensure_demo_shop()
    feed_import = FeedImport.objects.for_shop(shop).filter(source=FEED_SOURCE).first()
    if feed_import is None:
        feed_import = FeedImport.objects.create(shop=shop, source=FEED_SOURCE, created_by=user)
    with _catalog_feed() as feed:
        import_feed(shop=shop, feed_import=feed_import, fileobj=feed)
    with EVENTS_FILE.open("rb") as stream:
        history = import_history(shop=shop, stream=stream, progress=progress)
    cache.delete(_bestsellers_key(shop))
    ensure_demo_campaigns(shop=shop)
    if (
        not ModelVersion.objects.for_shop(shop)
        .exclude(status__in=[ModelVersion.FAILED, ModelVersion.REJECTED])
        .exists()
    ):
        # The worker `make run` starts trains it; until then the store shows trending and newest.
        request_training(shop=shop, reason="demo data loaded")
    return DemoLoad(shop=shop, user=user, shop_created=created, feed_import=feed_import, history=history)


def ensure_demo_campaigns(*, shop: Shop) -> None:
    """The demo's welcome pop-up and exit-intent overlay, and the shop's British locale."""
    if shop.locale != DEMO_LOCALE:
        shop.locale = DEMO_LOCALE
        shop.save(update_fields=["locale"])
    existing = set(Campaign.objects.for_shop(shop).values_list("name", flat=True))
    for fields in DEMO_CAMPAIGNS:
        if fields["name"] not in existing:
            create_campaign(shop=shop, **fields)


def _catalog_feed() -> io.BytesIO:
    """products.csv with its store links made absolute (the catalog keeps absolute URLs only), and
    the demo's generated tile as the image of each product (the data set has no photos)."""
    base = settings.PUBLIC_BASE_URL
    out = io.StringIO()
    with PRODUCTS_FILE.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in reader:
            if row["url"].startswith("/"):
                row["url"] = base + row["url"]
            if not row["image_url"]:
                row["image_url"] = base + reverse("demo:image", args=[row["product_id"]])
            writer.writerow(row)
    return io.BytesIO(out.getvalue().encode("utf-8"))


# --- the demo store's look-ups ------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    path: list[str]
    slug: str  # "home/candles": the URL form of the path
    count: int

    @property
    def name(self) -> str:
        return self.path[-1]


def list_categories(*, shop: Shop) -> list[Category]:
    """Every category path of the shop and its parents, with how many in-stock products are at or under it."""
    counts: dict[tuple[str, ...], int] = {}
    rows = (
        Product.objects.for_shop(shop)
        .filter(in_stock=True)
        .exclude(category_path="")
        .values_list("category_path")
        .annotate(n=Count("id"))
    )
    for path, n in rows:
        parts = tuple(path.split(CATEGORY_SEPARATOR))
        for depth in range(1, len(parts) + 1):
            counts[parts[:depth]] = counts.get(parts[:depth], 0) + n
    return [
        Category(path=list(parts), slug=category_slug(list(parts)), count=n)
        for parts, n in sorted(counts.items())
    ]


def category_slug(path: list[str]) -> str:
    return "/".join(slugify(part) or "-" for part in path)


def find_category(*, shop: Shop, slug: str) -> Category | None:
    slug = slug.strip("/")
    return next((c for c in list_categories(shop=shop) if c.slug == slug), None)


def category_products(*, shop: Shop, category: Category):
    path = CATEGORY_SEPARATOR.join(category.path)
    return (
        Product.objects.for_shop(shop)
        .filter(in_stock=True)
        .filter(Q(category_path=path) | Q(category_path__startswith=path + CATEGORY_SEPARATOR))
        .order_by("title", "product_id")
    )


def search_products(*, shop: Shop, query: str, limit: int = 48) -> list[Product]:
    products = Product.objects.for_shop(shop).filter(in_stock=True)
    for word in query.split()[:5]:
        products = products.filter(title__icontains=word)
    return list(products.order_by("title", "product_id")[:limit])


def _bestsellers_key(shop: Shop) -> str:
    return f"demo:bestsellers:{shop.id}"


def featured_products(*, shop: Shop, limit: int = 10) -> list[Product]:
    """The best sellers by order lines (cached a few minutes), topped up with the newest products."""
    key = _bestsellers_key(shop)
    ids = cache.get(key)
    if ids is None:
        ids = list(
            OrderLine.objects.for_shop(shop)
            .values_list("product_id", flat=True)
            .annotate(n=Count("id"))
            .order_by("-n", "product_id")[: limit * 2]
        )
        cache.set(key, ids, timeout=300)
    products = {
        p.product_id: p for p in Product.objects.for_shop(shop).filter(product_id__in=ids, in_stock=True)
    }
    featured = [products[i] for i in ids if i in products][:limit]
    if len(featured) < limit:
        seen = {p.product_id for p in featured}
        newest = Product.objects.for_shop(shop).filter(in_stock=True).order_by("-created_at", "product_id")
        featured += [p for p in newest[: limit * 2] if p.product_id not in seen][: limit - len(featured)]
    return featured


def tile_colors(product_id: str) -> tuple[str, str]:
    """A stable background and text colour for a product's placeholder image."""
    hue = int(hashlib.sha256(product_id.encode("utf-8", "surrogatepass")).hexdigest()[:4], 16) % 360
    return f"hsl({hue}, 55%, 78%)", f"hsl({hue}, 60%, 22%)"


def initials(text: str) -> str:
    words = [w for w in text.split() if any(c.isalnum() for c in w)]
    letters = "".join(next(c for c in w if c.isalnum()) for w in words[:2])
    return letters.upper() or "?"
