"""What shoppers did: visitors, their events, and orders (from events, the API or imports)."""

from django.db import models

from personalize.shops.models import Shop, ShopOwned

# The two append-only, high-volume tables skip the database's foreign-key checks: three checks per
# imported purchase line cost more than the insert itself. Django still cascades deletes, and every
# write goes through services that take the shop object.


class Visitor(ShopOwned):
    visitor_id = models.CharField(max_length=64)
    customer_id = models.CharField(max_length=128, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "visitor_id"], name="visitor_unique_id")]
        indexes = [models.Index(fields=["shop", "customer_id"])]


class Event(ShopOwned):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    event_id = models.UUIDField(help_text="Made by the client; an event is stored once per shop.")
    type = models.CharField(max_length=24)
    visitor_id = models.CharField(max_length=64)
    session_id = models.CharField(max_length=64)
    customer_id = models.CharField(max_length=128, blank=True)
    ts = models.DateTimeField(help_text="Client time (server time when the client sent none).")
    received_at = models.DateTimeField()
    url = models.CharField(max_length=2048, blank=True)
    referrer = models.CharField(max_length=2048, blank=True)
    product_id = models.CharField(max_length=128, blank=True)
    quantity = models.IntegerField(null=True)
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    currency = models.CharField(max_length=3, blank=True)
    order_id = models.CharField(max_length=128, blank=True)
    revenue = models.DecimalField(max_digits=16, decimal_places=4, null=True)
    items = models.JSONField(null=True)
    query = models.CharField(max_length=512, blank=True)
    rec_id = models.CharField(max_length=64, blank=True)
    campaign_id = models.CharField(max_length=64, blank=True)
    properties = models.JSONField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "event_id"], name="event_unique_id")]
        indexes = [
            models.Index(fields=["shop", "visitor_id", "ts"]),
            models.Index(fields=["shop", "ts"]),
        ]


class Order(ShopOwned):
    SOURCES = [("event", "purchase event"), ("api", "orders API"), ("import", "history import")]

    order_id = models.CharField(max_length=128)
    visitor_id = models.CharField(max_length=64, blank=True)
    customer_id = models.CharField(max_length=128, blank=True)
    revenue = models.DecimalField(max_digits=16, decimal_places=4)
    currency = models.CharField(max_length=3, blank=True)
    ts = models.DateTimeField()
    source = models.CharField(max_length=8, choices=SOURCES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "order_id"], name="order_unique_id")]
        indexes = [
            models.Index(fields=["shop", "visitor_id"]),
            models.Index(fields=["shop", "customer_id"]),
            models.Index(fields=["shop", "ts"]),
        ]


class OrderLine(ShopOwned):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_constraint=False)
    product_id = models.CharField(max_length=128)
    quantity = models.IntegerField(default=1)
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "product_id"])]
