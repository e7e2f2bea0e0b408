from django.urls import path

from personalize.catalog.api import ProductViewSet

app_name = "catalog"

urlpatterns = [
    path("products", ProductViewSet.as_view({"get": "list", "post": "create"}), name="products"),
    # `path` matches any text, '/' included: merchants' ids may contain it (sent URL-encoded).
    path(
        "products/<path:product_id>",
        ProductViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="product-detail",
    ),
]
