"""The catalog API (secret key): bulk upsert, list, retrieve and delete products."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from personalize.catalog import services
from personalize.catalog.models import Product
from personalize.catalog.serializers import ProductInputSerializer, ProductSerializer, UpsertResultSerializer
from personalize.shops.tenancy import ShopScopedViewSet, get_for_shop_or_404

# A 1,000-row call with modest attributes is far below this; it only stops absurd bodies early.
MAX_UPSERT_BYTES = 16 * 1024 * 1024

_ERROR = OpenApiResponse(description='{FIELD: [REASON]} or {"detail": REASON}')
_PRODUCT_ID = OpenApiParameter(
    "product_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The merchant's product id, URL-encoded (it may contain '/', '.', spaces).",
)


class ProductPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


def _parse_bool_param(value: str) -> bool | None:
    word = value.strip().lower()
    if word in ("true", "1", "yes"):
        return True
    if word in ("false", "0", "no"):
        return False
    return None


@extend_schema_view(
    list=extend_schema(
        summary="List products",
        description="The shop's products, ordered by product_id, paginated by page number.",
        parameters=[
            OpenApiParameter(
                "category",
                OpenApiTypes.STR,
                description=(
                    'A category path such as "Women > Dresses": matches products in it and in every category '
                    "below it."
                ),
            ),
            OpenApiParameter(
                "in_stock", OpenApiTypes.BOOL, description="Only products in (or out of) stock."
            ),
        ],
        responses={200: ProductSerializer(many=True), 400: _ERROR},
    ),
    retrieve=extend_schema(
        summary="Get one product", parameters=[_PRODUCT_ID], responses={200: ProductSerializer, 404: _ERROR}
    ),
    destroy=extend_schema(
        summary="Delete one product", parameters=[_PRODUCT_ID], responses={204: None, 404: _ERROR}
    ),
)
class ProductViewSet(ShopScopedViewSet):
    model = Product
    queryset = Product.objects.none()  # for the schema generator; requests go through get_queryset()
    serializer_class = ProductSerializer
    pagination_class = ProductPagination
    lookup_field = "product_id"

    def get_object(self):
        return get_for_shop_or_404(Product, self.shop, product_id=self.kwargs["product_id"])

    def list(self, request):
        in_stock = None
        if "in_stock" in request.query_params:
            in_stock = _parse_bool_param(request.query_params["in_stock"])
            if in_stock is None:
                return Response({"in_stock": ["must be true or false"]}, status=status.HTTP_400_BAD_REQUEST)
        products = services.filter_products(
            shop=self.shop, category=request.query_params.get("category"), in_stock=in_stock
        ).order_by("product_id")
        page = self.paginate_queryset(products)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, product_id: str):
        return Response(self.get_serializer(self.get_object()).data)

    def destroy(self, request, product_id: str):
        services.delete_product(shop=self.shop, product_id=product_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Create or replace products in bulk",
        description=(
            f"Upsert by product_id, at most {settings.PZ_PRODUCTS_MAX_PER_CALL} products a call. The body "
            'is a list of products, or {"products": [...]}. Each row replaces the whole product (omitted '
            "fields get their defaults). Rows are validated one by one: good rows are stored even when "
            "others are rejected. A product_id repeated in one call: the last row wins."
        ),
        request=ProductInputSerializer(many=True),
        responses={200: UpsertResultSerializer, 400: _ERROR, 413: _ERROR},
    )
    def create(self, request):
        max_rows = settings.PZ_PRODUCTS_MAX_PER_CALL
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_UPSERT_BYTES:
            return Response(
                {"products": [f"the body must be at most {MAX_UPSERT_BYTES // (1024 * 1024)} MB"]},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        rows = request.data
        if isinstance(rows, dict):
            rows = rows.get("products")
        if not isinstance(rows, list):
            return Response(
                {"products": ['expected a list of products, or {"products": [...]}']},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if len(rows) > max_rows:
            return Response(
                {"products": [f"at most {max_rows} products a call; this one has {len(rows)}"]},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        result = services.upsert_products(shop=self.shop, rows=rows)
        return Response(result.as_dict())
