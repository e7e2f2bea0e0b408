from django.contrib import admin

from personalize.shops.models import Membership, SecretKey, Shop


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "site_key", "created_at"]
    search_fields = ["name", "site_key"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["shop", "user", "role"]
    list_select_related = ["shop", "user"]


@admin.register(SecretKey)
class SecretKeyAdmin(admin.ModelAdmin):
    list_display = ["shop", "label", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "prefix"]
