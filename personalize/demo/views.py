"""The demo store: a small shop front that integrates only through the public tag, like a merchant's."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from personalize.catalog.models import CATEGORY_SEPARATOR, Product
from personalize.demo import services
from personalize.shops.tenancy import get_for_shop_or_404

PAGE_SIZE = 24


def _render(request, template: str, context: dict, *, shop=None, status: int = 200):
    shop = shop or services.get_demo_shop()
    if shop is None:
        return render(request, "demo/not_loaded.html", status=200)
    categories = services.list_categories(shop=shop)
    context = {
        "shop": shop,
        "site_key": shop.site_key,
        "nav_categories": [c for c in categories if len(c.path) == 1],
        **context,
    }
    return render(request, template, context, status=status)


@require_safe
def home(request):
    shop = services.get_demo_shop()
    if shop is None:
        return _render(request, "demo/home.html", {})
    query = request.GET.get("q", "").strip()[:100]
    return _render(
        request,
        "demo/home.html",
        {
            "query": query,
            "results": services.search_products(shop=shop, query=query) if query else None,
            "featured": services.featured_products(shop=shop),
            "categories": services.list_categories(shop=shop),
        },
        shop=shop,
    )


@require_safe
def category(request, slug: str):
    shop = services.get_demo_shop()
    if shop is None:
        return _render(request, "demo/category.html", {})
    found = services.find_category(shop=shop, slug=slug)
    if found is None:
        raise Http404("No such category")
    page = Paginator(services.category_products(shop=shop, category=found), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    children = [
        c
        for c in services.list_categories(shop=shop)
        if len(c.path) == len(found.path) + 1 and c.path[: len(found.path)] == found.path
    ]
    return _render(
        request,
        "demo/category.html",
        {
            "category": found,
            "breadcrumbs": _breadcrumbs(found.path),
            "children": children,
            "page": page,
        },
        shop=shop,
    )


@require_safe
def product(request, product_id: str):
    shop = services.get_demo_shop()
    if shop is None:
        return _render(request, "demo/product.html", {})
    item = get_for_shop_or_404(Product, shop, product_id=product_id)
    page_url = request.build_absolute_uri(reverse("demo:product", args=[item.product_id]))
    image = item.image_url or request.build_absolute_uri(reverse("demo:image", args=[item.product_id]))
    ld = {
        "@context": "https://schema.org",
        "@type": "Product",
        "sku": item.product_id,
        "productID": item.product_id,
        "name": item.title,
        "image": image,
        "url": page_url,
        "offers": {
            "@type": "Offer",
            "price": f"{item.price:.2f}" if item.price is not None else None,
            "priceCurrency": item.currency or shop.currency,
            "availability": "https://schema.org/" + ("InStock" if item.in_stock else "OutOfStock"),
            "url": page_url,
        },
    }
    if item.categories:
        ld["category"] = CATEGORY_SEPARATOR.join(item.categories)
    if item.brand:
        ld["brand"] = {"@type": "Brand", "name": item.brand}
    return _render(
        request,
        "demo/product.html",
        {
            "product": item,
            "breadcrumbs": _breadcrumbs(item.categories),
            "ld": ld,
        },
        shop=shop,
    )


@require_safe
def cart(request):
    return _render(request, "demo/cart.html", {})


@require_safe
def checkout(request):
    return _render(request, "demo/checkout.html", {})


@require_safe
def thank_you(request):
    return _render(request, "demo/thank_you.html", {})


@require_safe
@cache_control(max_age=3600, public=True)
def product_image(request, product_id: str):
    """A generated tile standing in for the product photo the data does not have."""
    shop = services.get_demo_shop()
    title = ""
    if shop is not None:
        title = (
            Product.objects.for_shop(shop)
            .filter(product_id=product_id)
            .values_list("title", flat=True)
            .first()
        )
    background, ink = services.tile_colors(product_id)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" width="400" height="400" role="img">'
        f"<title>{escape(title or product_id)}</title>"
        f'<rect width="400" height="400" fill="{background}"/>'
        f'<circle cx="200" cy="185" r="110" fill="{ink}" fill-opacity="0.08"/>'
        f'<text x="200" y="225" text-anchor="middle" font-family="Georgia, serif" font-size="120" '
        f'fill="{ink}">{escape(services.initials(title or product_id))}</text>'
        f'<text x="200" y="350" text-anchor="middle" font-family="sans-serif" font-size="22" '
        f'fill="{ink}" fill-opacity="0.6">{escape(product_id[:24])}</text>'
        "</svg>"
    )
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    # Opened on its own, the SVG may run nothing.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _breadcrumbs(path: list[str]) -> list[dict]:
    return [
        {"name": name, "url": reverse("demo:category", args=[services.category_slug(path[: i + 1])])}
        for i, name in enumerate(path)
    ]
