from django import forms
from django.contrib import admin

from personalize.campaigns.models import Campaign, SnippetSettings, WidgetSettings


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "shop", "kind", "status", "priority", "starts_at", "ends_at", "updated_at")
    list_filter = ("status", "kind", "trigger_type")
    list_select_related = ("shop",)
    search_fields = ("name", "title", "shop__name")
    raw_id_fields = ("shop",)
    readonly_fields = ("created_at", "updated_at")
    ordering = ("shop", "-priority", "id")
    fieldsets = (
        (None, {"fields": ("shop", "name", "kind", "status", "priority", "starts_at", "ends_at")}),
        ("Trigger", {"fields": ("trigger_type", "delay_seconds", "scroll_percent")}),
        ("Targeting", {"fields": ("targeting",)}),
        (
            "Content",
            {
                "fields": (
                    "title",
                    "text",
                    "image_url",
                    "cta_text",
                    "cta_url",
                    "coupon_code",
                    "widget",
                    "widget_limit",
                )
            },
        ),
        (None, {"fields": ("created_at", "updated_at")}),
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "text":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 4})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(SnippetSettings)
class SnippetSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "shop",
        "campaigns_per_session",
        "campaigns_per_day",
        "consent_required",
        "honor_gpc",
        "honor_dnt",
        "updated_at",
    )
    list_filter = ("consent_required",)
    list_select_related = ("shop",)
    raw_id_fields = ("shop",)


@admin.register(WidgetSettings)
class WidgetSettingsAdmin(admin.ModelAdmin):
    list_display = ("shop", "widget", "title", "limit", "layout")
    list_filter = ("widget",)
    list_select_related = ("shop",)
    raw_id_fields = ("shop",)
