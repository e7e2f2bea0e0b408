"""How an API request finds its shop, and the base views that keep every query inside it."""

from django.http import Http404
from rest_framework import viewsets
from rest_framework.views import APIView

from personalize.shops.models import Shop


class ShopAPIView(APIView):
    """An API view whose request carries exactly one shop, taken from its secret key."""

    shop: Shop

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.shop = request.auth.shop


class ShopScopedViewSet(ShopAPIView, viewsets.GenericViewSet):
    """The one place that filters a viewset's rows by shop; subclasses set `model`."""

    model = None

    def get_queryset(self):
        return self.model.objects.for_shop(self.shop)

    def perform_create(self, serializer):
        serializer.save(shop=self.shop)


def get_for_shop_or_404(model, shop: Shop, **lookup):
    """One row of `shop`: missing and foreign rows raise the same 404."""
    obj = model.objects.for_shop(shop).filter(**lookup).first()
    if obj is None:
        raise Http404
    return obj
