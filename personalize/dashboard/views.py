"""The merchant dashboard: sign-up, shops, the script tag, settings (keys, members) and the catalog.

Every shop page resolves access once through `access_shop`, which gives the same 404 for a missing
shop and for someone else's; owner-only pages and actions pass `owner_only=True`.
"""

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from personalize.analytics.views import roi_context
from personalize.campaigns.services import get_snippet_settings
from personalize.catalog.models import FeedImport, Product
from personalize.catalog.services import FeedSourceError, start_feed_import
from personalize.dashboard import forms
from personalize.dashboard.models import Invitation
from personalize.dashboard.services import (
    AccountExists,
    InvitationError,
    LastOwnerError,
    accept_invitation,
    change_member_role,
    create_account,
    find_invitation,
    find_user_by_email,
    invite_member,
    remove_member,
    revoke_invitation,
    update_shop_preferences,
    update_shop_settings,
)
from personalize.recommend.admin_services import get_recommender_config
from personalize.shops.models import Membership, SecretKey, Shop
from personalize.shops.services import (
    DomainError,
    access_shop,
    add_member,
    create_shop,
    issue_secret_key,
    revoke_secret_key,
    rotate_secret_key,
    shops_of,
)
from personalize.shops.tenancy import get_for_shop_or_404

RECENT_IMPORTS = 10


def script_tag(shop: Shop) -> str:
    """The one tag a merchant pastes into their store."""
    return f'<script async src="{settings.PUBLIC_BASE_URL}/p.js" data-site-key="{shop.site_key}"></script>'


def _shop_page(
    request: HttpRequest,
    template: str,
    shop: Shop,
    membership: Membership,
    tab: str,
    status: int = 200,
    **context,
) -> HttpResponse:
    context.update(shop=shop, membership=membership, is_owner=membership.is_owner, tab=tab)
    return render(request, template, context, status=status)


# --- accounts -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    form = forms.SignupForm(request.POST) if request.method == "POST" else forms.SignupForm()
    if not form.is_bound:
        # Coming from an invitation: sign up with the address it was sent to.
        invited = re.fullmatch(r"/invitations/([A-Za-z0-9_-]+)/", request.GET.get("next", ""))
        found = find_invitation(invited.group(1)) if invited else None
        if found is not None and found.is_open(timezone.now()):
            form.initial["email"] = found.email
    if form.is_bound and form.is_valid():
        try:
            user = create_account(email=form.cleaned_data["email"], password=form.cleaned_data["password"])
        except AccountExists:
            form.add_error("email", "An account with this email already exists. Log in instead.")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            # An invitee comes back to their invitation instead of making a shop.
            next_url = request.POST.get("next", "")
            if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
                return redirect(next_url)
            return redirect("dashboard:shop_create")
    return render(
        request,
        "registration/signup.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
    )


# --- shops --------------------------------------------------------------------------------------


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    shops = list(shops_of(request.user))
    if not shops:
        return redirect("dashboard:shop_create")
    return render(request, "dashboard/home.html", {"shops": shops})


@login_required
@require_http_methods(["GET", "POST"])
def shop_create(request: HttpRequest) -> HttpResponse:
    form = forms.ShopForm(request.POST) if request.method == "POST" else forms.ShopForm()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            shop = create_shop(
                name=data["name"], domains=data["domains"], owner=request.user, currency=data["currency"]
            )
        except DomainError as exc:
            form.add_error("domains", str(exc))
        else:
            messages.success(request, f"{shop.name} is ready. Paste the tag below into your store.")
            return redirect("dashboard:shop_home", shop_id=shop.id)
    has_shops = shops_of(request.user).exists()
    return render(
        request,
        "dashboard/shop_create.html",
        {"form": form, "has_shops": has_shops, "currencies": forms.COMMON_CURRENCIES},
    )


@login_required
@require_GET
def shop_home(request: HttpRequest, shop_id: int) -> HttpResponse:
    """The overview: the install check until the first event, then the ROI of a date range (rollups only)."""
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    context, status = roi_context(request=request, shop=shop)
    return _shop_page(
        request,
        "dashboard/shop_home.html",
        shop,
        membership,
        "home",
        status=status,
        script_tag=script_tag(shop),
        has_products=Product.objects.for_shop(shop).exists(),
        **context,
    )


# --- settings: domains, currency, keys, members -------------------------------------------------


def _render_settings(
    request: HttpRequest,
    shop: Shop,
    membership: Membership,
    *,
    status: int = 200,
    settings_form=None,
    key_form=None,
    member_form=None,
    preferences_form=None,
    invite_form=None,
) -> HttpResponse:
    if settings_form is None:
        settings_form = forms.ShopSettingsForm(
            initial={"domains": "\n".join(shop.allowed_domains), "currency": shop.currency}, prefix="shop"
        )
    if preferences_form is None:
        snippet_settings = get_snippet_settings(shop=shop)
        preferences_form = forms.ShopPreferencesForm(
            initial={
                "holdout_percent": round(get_recommender_config(shop=shop).holdout_share * 100, 2),
                "attribution_window_hours": shop.attribution_window_hours,
                "locale": shop.locale,
                "consent_required": snippet_settings.consent_required,
                "honor_gpc": snippet_settings.honor_gpc,
                "honor_dnt": snippet_settings.honor_dnt,
                "event_retention_days": shop.event_retention_days,
            },
            prefix="prefs",
        )
    if not membership.is_owner:
        for field in preferences_form.fields.values():
            field.disabled = True
    members = Membership.objects.for_shop(shop).select_related("user").order_by("-role", "user__email", "id")
    context = {
        "settings_form": settings_form,
        "preferences_form": preferences_form,
        "members": members,
        "currencies": forms.COMMON_CURRENCIES,
    }
    if membership.is_owner:
        context.update(
            keys=SecretKey.objects.for_shop(shop)
            .select_related("created_by")
            .order_by(F("revoked_at").asc(nulls_first=True), "-created_at", "-id"),
            key_form=key_form or forms.SecretKeyForm(prefix="key"),
            member_form=member_form or forms.MemberAddForm(prefix="member"),
            roles=Membership.ROLES,
            invite_form=invite_form or forms.InviteForm(prefix="invite"),
            invitations=Invitation.objects.for_shop(shop)
            .open(timezone.now())
            .select_related("invited_by")
            .order_by("-created_at", "-id"),
        )
    return _shop_page(
        request, "dashboard/shop_settings.html", shop, membership, "settings", status=status, **context
    )


@login_required
@require_http_methods(["GET", "POST"])
def shop_settings(request: HttpRequest, shop_id: int) -> HttpResponse:
    # Allowed domains decide who may send events as this shop: only owners change them.
    shop, membership = access_shop(user=request.user, shop_id=shop_id, owner_only=request.method == "POST")
    if request.method == "POST":
        form = forms.ShopSettingsForm(request.POST, prefix="shop")
        if form.is_valid():
            try:
                update_shop_settings(
                    shop=shop, domains=form.cleaned_data["domains"], currency=form.cleaned_data["currency"]
                )
            except DomainError as exc:
                form.add_error("domains", str(exc))
            else:
                messages.success(request, "Settings saved.")
                return redirect("dashboard:shop_settings", shop_id=shop.id)
        return _render_settings(request, shop, membership, settings_form=form)
    return _render_settings(request, shop, membership)


@login_required
@require_POST
def shop_preferences(request: HttpRequest, shop_id: int) -> HttpResponse:
    # Consent and the hold-out decide who is tracked and how ROI is measured: owners only.
    shop, membership = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    form = forms.ShopPreferencesForm(request.POST, prefix="prefs")
    if not form.is_valid():
        return _render_settings(request, shop, membership, preferences_form=form, status=400)
    data = form.cleaned_data
    update_shop_preferences(
        shop=shop,
        holdout_share=round(data["holdout_percent"] / 100, 6),
        attribution_window_hours=data["attribution_window_hours"],
        locale=data["locale"],
        consent_required=data["consent_required"],
        honor_gpc=data["honor_gpc"],
        honor_dnt=data["honor_dnt"],
        event_retention_days=data["event_retention_days"] or 0,
    )
    messages.success(request, "Measurement and privacy settings saved.")
    return redirect(reverse("dashboard:shop_settings", args=[shop.id]) + "#preferences")


@login_required
@require_POST
def invite_create(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    form = forms.InviteForm(request.POST, prefix="invite")
    if form.is_valid():
        try:
            invitation, _ = invite_member(
                shop=shop,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except InvitationError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect(reverse("dashboard:shop_settings", args=[shop.id]) + "#members")
    return _render_settings(request, shop, membership, invite_form=form, status=400)


@login_required
@require_POST
def invite_revoke(request: HttpRequest, shop_id: int, invitation_id: int) -> HttpResponse:
    shop, _ = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    invitation = get_for_shop_or_404(Invitation, shop, pk=invitation_id)
    revoke_invitation(shop=shop, invitation=invitation)
    messages.success(request, f"Invitation to {invitation.email} withdrawn; its link no longer works.")
    return redirect(reverse("dashboard:shop_settings", args=[shop.id]) + "#members")


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link in an invitation email: shows whom it is for; a logged-in invitee accepts it."""
    found = find_invitation(token)
    if found is None or not found.is_open(timezone.now()):
        response = render(request, "dashboard/invitation.html", {"invitation": None}, status=404)
        add_never_cache_headers(response)
        return response
    error = ""
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('dashboard:login')}?next={request.path}")
        try:
            accept_invitation(invitation=found, user=request.user)
        except InvitationError as exc:
            error = str(exc)
        else:
            messages.success(request, f"Welcome to {found.shop.name}.")
            return redirect("dashboard:shop_home", shop_id=found.shop_id)
    response = render(
        request,
        "dashboard/invitation.html",
        {"invitation": found, "error": error, "next": request.path},
        status=400 if error else 200,
    )
    add_never_cache_headers(response)  # the page's URL holds the token
    return response


def _key_created(
    request: HttpRequest, shop: Shop, membership: Membership, key: SecretKey, raw: str, rotated: bool
) -> HttpResponse:
    # The raw key exists only in this response: never in a redirect, the session or a message,
    # and no cache may keep it.
    response = _shop_page(
        request,
        "dashboard/key_created.html",
        shop,
        membership,
        "settings",
        key=key,
        raw_key=raw,
        rotated=rotated,
    )
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def key_create(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    form = forms.SecretKeyForm(request.POST, prefix="key")
    if not form.is_valid():
        return _render_settings(request, shop, membership, key_form=form)
    key, raw = issue_secret_key(shop=shop, label=form.cleaned_data["label"], created_by=request.user)
    return _key_created(request, shop, membership, key, raw, rotated=False)


@login_required
@require_POST
def key_rotate(request: HttpRequest, shop_id: int, key_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    old = get_for_shop_or_404(SecretKey, shop, pk=key_id, revoked_at__isnull=True)
    key, raw = rotate_secret_key(shop=shop, key=old, created_by=request.user)
    return _key_created(request, shop, membership, key, raw, rotated=True)


@login_required
@require_POST
def key_revoke(request: HttpRequest, shop_id: int, key_id: int) -> HttpResponse:
    shop, _ = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    key = get_for_shop_or_404(SecretKey, shop, pk=key_id)
    revoke_secret_key(shop=shop, key=key)
    messages.success(request, f"Key {key.prefix}… revoked. Requests with it are now refused.")
    return redirect(reverse("dashboard:shop_settings", args=[shop.id]) + "#keys")


@login_required
@require_POST
def member_add(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    form = forms.MemberAddForm(request.POST, prefix="member")
    if form.is_valid():
        user = find_user_by_email(form.cleaned_data["email"])
        if user is None:
            form.add_error("email", "No account uses this email. Ask them to sign up first, then add them.")
        elif Membership.objects.for_shop(shop).filter(user=user).exists():
            form.add_error("email", "They are already a member of this shop.")
        else:
            add_member(shop=shop, user=user, role=form.cleaned_data["role"])
            messages.success(request, f"{user.email or user.get_username()} can now use {shop.name}.")
            return redirect(reverse("dashboard:shop_settings", args=[shop.id]) + "#members")
    return _render_settings(request, shop, membership, member_form=form)


@login_required
@require_POST
def member_remove(request: HttpRequest, shop_id: int, membership_id: int) -> HttpResponse:
    shop, _ = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    target = get_for_shop_or_404(Membership, shop, pk=membership_id)
    try:
        remove_member(shop=shop, membership=target)
    except LastOwnerError:
        messages.error(request, "You cannot remove the last owner. Make someone else an owner first.")
        return redirect(reverse("dashboard:shop_settings", args=[shop.id]) + "#members")
    if target.user_id == request.user.id:
        messages.success(request, f"You left {shop.name}.")
        return redirect("dashboard:home")
    messages.success(request, "Member removed.")
    return redirect(reverse("dashboard:shop_settings", args=[shop.id]) + "#members")


@login_required
@require_POST
def member_role(request: HttpRequest, shop_id: int, membership_id: int) -> HttpResponse:
    shop, _ = access_shop(user=request.user, shop_id=shop_id, owner_only=True)
    target = get_for_shop_or_404(Membership, shop, pk=membership_id)
    form = forms.MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
    else:
        try:
            change_member_role(shop=shop, membership=target, role=form.cleaned_data["role"])
        except LastOwnerError:
            messages.error(request, "The shop needs at least one owner. Make someone else an owner first.")
        else:
            messages.success(request, "Role changed.")
    return redirect(reverse("dashboard:shop_settings", args=[shop.id]) + "#members")


# --- catalog ------------------------------------------------------------------------------------


def _error_messages(errors) -> list[str]:
    if isinstance(errors, dict):
        return [
            f"{field}: {reason}"
            for field, reasons in errors.items()
            for reason in (reasons if isinstance(reasons, list | tuple) else [reasons])
        ]
    if isinstance(errors, list | tuple):
        return [str(reason) for reason in errors]
    return [str(errors)]


def feed_import_progress(feed_import: FeedImport) -> dict:
    """What the catalog page shows of an import, and what its progress endpoint answers."""
    rows = []
    for entry in feed_import.errors or []:
        entry = entry if isinstance(entry, dict) else {"errors": entry}
        # CSV rows are numbered by line, XML ones by item.
        if entry.get("line") is not None:
            where = f"Line {entry['line']}"
        elif entry.get("item") is not None:
            where = f"Item {entry['item']}"
        else:
            where = ""
        rows.append(
            {
                "line": entry.get("line"),
                "item": entry.get("item"),
                "where": where,
                "product_id": entry.get("product_id") or "",
                "messages": _error_messages(entry.get("errors", "")),
            }
        )
    return {
        "id": feed_import.id,
        "source": feed_import.source,
        "format": feed_import.format,
        "status": feed_import.status,
        "finished": feed_import.status in (FeedImport.DONE, FeedImport.FAILED),
        "progress": round(feed_import.progress, 4),
        "percent": int(feed_import.progress * 100),
        "rows_read": feed_import.rows_read,
        "created": feed_import.created,
        "updated": feed_import.updated,
        "rejected": feed_import.rejected,
        "errors": rows,
        "failure": feed_import.failure,
        "created_at": feed_import.created_at.isoformat(),
        "finished_at": feed_import.finished_at.isoformat() if feed_import.finished_at else None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def catalog(request: HttpRequest, shop_id: int) -> HttpResponse:
    shop, membership = access_shop(user=request.user, shop_id=shop_id)
    form = (
        forms.FeedImportForm(request.POST, request.FILES)
        if request.method == "POST"
        else forms.FeedImportForm()
    )
    if form.is_bound and form.is_valid():
        try:
            feed_import = start_feed_import(
                shop=shop,
                uploaded_file=form.cleaned_data["file"] or None,
                url=form.cleaned_data["url"] or None,
                created_by=request.user,
            )
        except FeedSourceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, f"Import of {feed_import.source} started.")
            return redirect("dashboard:catalog", shop_id=shop.id)
    imports = FeedImport.objects.for_shop(shop).order_by("-created_at", "-id")[:RECENT_IMPORTS]
    return _shop_page(
        request,
        "dashboard/catalog.html",
        shop,
        membership,
        "catalog",
        form=form,
        product_count=Product.objects.for_shop(shop).count(),
        imports=[dict(feed_import_progress(i), created_at_dt=i.created_at) for i in imports],
    )


@login_required
@require_GET
def import_status(request: HttpRequest, shop_id: int, import_id: int) -> JsonResponse:
    shop, _ = access_shop(user=request.user, shop_id=shop_id)
    feed_import = get_for_shop_or_404(FeedImport, shop, pk=import_id)
    data = feed_import_progress(feed_import)
    data["product_count"] = Product.objects.for_shop(shop).count()
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response
