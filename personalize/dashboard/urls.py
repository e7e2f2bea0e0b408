"""Accounts and the merchant dashboard; included at the site root."""

from django.contrib.auth import views as auth_views
from django.urls import path

from personalize.dashboard import campaign_views, forms, model_views, views, widget_views

app_name = "dashboard"

shop = "dashboard/shops/<int:shop_id>/"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=forms.EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    # POST only (Django 5): a link or an image tag cannot log a merchant out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", views.home, name="home"),
    path("dashboard/shops/new/", views.shop_create, name="shop_create"),
    path(shop, views.shop_home, name="shop_home"),
    path(shop + "settings/", views.shop_settings, name="shop_settings"),
    path(shop + "settings/keys/new/", views.key_create, name="key_create"),
    path(shop + "settings/keys/<int:key_id>/rotate/", views.key_rotate, name="key_rotate"),
    path(shop + "settings/keys/<int:key_id>/revoke/", views.key_revoke, name="key_revoke"),
    path(shop + "settings/members/add/", views.member_add, name="member_add"),
    path(shop + "settings/preferences/", views.shop_preferences, name="shop_preferences"),
    path(shop + "settings/invitations/new/", views.invite_create, name="invite_create"),
    path(
        shop + "settings/invitations/<int:invitation_id>/revoke/", views.invite_revoke, name="invite_revoke"
    ),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path(shop + "settings/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path(shop + "settings/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path(shop + "catalog/", views.catalog, name="catalog"),
    path(shop + "catalog/imports/<int:import_id>.json", views.import_status, name="import_status"),
    path(shop + "widgets/", widget_views.widgets_page, name="widgets"),
    path(shop + "widgets/<str:widget>/", widget_views.widget_edit, name="widget_edit"),
    path(shop + "widgets/<str:widget>/preview.json", widget_views.widget_preview, name="widget_preview"),
    path(shop + "campaigns/", campaign_views.campaigns_page, name="campaigns"),
    path(shop + "campaigns/budget/", campaign_views.campaigns_budget, name="campaigns_budget"),
    path(shop + "campaigns/new/", campaign_views.campaign_new, name="campaign_new"),
    path(
        shop + "campaigns/block-preview.json",
        campaign_views.campaign_block_preview,
        name="campaign_block_preview",
    ),
    path(shop + "campaigns/<int:campaign_id>/", campaign_views.campaign_edit, name="campaign_edit"),
    path(
        shop + "campaigns/<int:campaign_id>/status/", campaign_views.campaign_status, name="campaign_status"
    ),
    path(
        shop + "campaigns/<int:campaign_id>/delete/", campaign_views.campaign_delete, name="campaign_delete"
    ),
    path(shop + "models/", model_views.models_page, name="models"),
    path(shop + "models/retrain/", model_views.models_retrain, name="models_retrain"),
    path(shop + "models/status.json", model_views.models_status, name="models_status"),
]
