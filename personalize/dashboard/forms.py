"""Dashboard forms. Validation lives here; the writes are in the services."""

import re

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import URLValidator

from personalize.campaigns.defaults import LAYOUTS
from personalize.campaigns.models import Campaign, SnippetSettings
from personalize.campaigns.validation import (
    CUSTOMERS,
    DEVICES,
    MAX_MONEY,
    TARGETING_KEYS,
    VISITORS,
    clean_targeting,
)
from personalize.recommend.admin_services import MAX_RULES_PER_WIDGET, DraftRule
from personalize.recommend.models import WidgetRule
from personalize.recommend.rules import normalize_category
from personalize.shops.models import Membership, Shop
from personalize.shops.services import DomainError, normalize_domain

# Offered as suggestions; any ISO 4217 code is accepted.
COMMON_CURRENCIES = [
    "USD",
    "EUR",
    "GBP",
    "CAD",
    "AUD",
    "JPY",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "INR",
    "BRL",
]
USERNAME_MAX_LENGTH = 150


def split_domains(text: str) -> list[str]:
    """One domain per line (commas and spaces also separate them)."""
    return [part for part in re.split(r"[\s,]+", text) if part]


class SignupForm(forms.Form):
    email = forms.EmailField(
        max_length=USERNAME_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(username=email).exists():
            raise forms.ValidationError("An account with this email already exists. Log in instead.")
        return email

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if email and password:
            # An unsaved user, so the similarity validator compares the password with the email.
            candidate = get_user_model()(username=email, email=email)
            try:
                password_validation.validate_password(password, user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, asking for the email that sign-up stored (lower-cased) as the username."""

    username = forms.CharField(
        label="Email",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account.",
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class CurrencyField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("min_length", 3)
        kwargs.setdefault("help_text", "A three-letter ISO 4217 code, e.g. USD, EUR, GBP.")
        kwargs.setdefault("widget", forms.TextInput(attrs={"list": "currency-codes", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value).strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise forms.ValidationError("Enter a three-letter currency code, e.g. USD.")
        return value


class DomainsField(forms.CharField):
    """A textarea of domains, one per line; cleans to a list of raw entries that all normalize."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}))
        kwargs.setdefault(
            "help_text",
            "One per line, e.g. shop.example.com. A domain also allows its subdomains. "
            "Use localhost while developing.",
        )
        super().__init__(**kwargs)

    def clean(self, value):
        domains = split_domains(super().clean(value))
        if not domains:
            raise forms.ValidationError("Enter at least one domain.")
        bad = []
        for domain in domains:
            try:
                normalize_domain(domain)
            except DomainError as exc:
                bad.append(str(exc))
        if bad:
            raise forms.ValidationError(bad)
        return domains


class ShopForm(forms.Form):
    name = forms.CharField(max_length=200, label="Shop name")
    domains = DomainsField(label="Store domains")
    currency = CurrencyField(initial="USD")


class ShopSettingsForm(forms.Form):
    domains = DomainsField(label="Allowed domains")
    currency = CurrencyField()


class SecretKeyForm(forms.Form):
    label = forms.CharField(
        max_length=100, required=False, help_text="Where the key is used, e.g. 'nightly catalog sync'."
    )


class MemberAddForm(forms.Form):
    email = forms.EmailField(help_text="They need an account here first: ask them to sign up.")
    role = forms.ChoiceField(choices=Membership.ROLES, initial=Membership.MEMBER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.ROLES)


class FeedImportForm(forms.Form):
    file = forms.FileField(
        required=False,
        label="Feed file",
        help_text="CSV (product_id, title, url, image_url, price, currency, categories, brand, tags, "
        "in_stock) or Google Shopping XML.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xml,.tsv,.txt,.gz,text/csv,application/xml"}),
    )
    url = forms.URLField(
        required=False,
        label="…or feed URL",
        assume_scheme="https",
        max_length=2048,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="A public http(s) address of a CSV or Google Shopping XML feed.",
    )

    def clean(self):
        cleaned = super().clean()
        has_file, has_url = bool(cleaned.get("file")), bool(cleaned.get("url"))
        if not self.errors and has_file == has_url:
            message = (
                "Choose a file or enter a URL, not both." if has_file else "Choose a file or enter a URL."
            )
            raise forms.ValidationError(message)
        return cleaned


class InviteForm(forms.Form):
    email = forms.EmailField(help_text="We email them a link; it works once they sign up or log in with it.")
    role = forms.ChoiceField(choices=Membership.ROLES, initial=Membership.MEMBER)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class ShopPreferencesForm(forms.Form):
    """What is measured and who is tracked; the hold-out is edited as a percentage."""

    holdout_percent = forms.FloatField(
        label="Hold-out share (%)",
        min_value=0,
        max_value=50,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
        help_text="Visitors who get no personalization, so the ROI page can measure incremental revenue "
        "against them. 5% is usual; 0 turns the measurement off.",
    )
    attribution_window_hours = forms.IntegerField(
        label="Attribution window (hours)",
        min_value=1,
        max_value=720,
        help_text="A purchase counts as attributed when the shopper clicked the product in a widget or "
        "campaign at most this long before (1 to 720).",
    )
    locale = forms.CharField(
        required=False,
        max_length=35,
        validators=[Shop._meta.get_field("locale").validators[0]],
        help_text="How prices are written in widgets, e.g. en-GB or de-DE. Empty: the usual one for the "
        "currency.",
    )
    consent_required = forms.BooleanField(
        required=False,
        label="Wait for consent",
        help_text="Track and personalize only after your page calls pz('consent', true).",
    )
    honor_gpc = forms.BooleanField(required=False, label="Honour Global Privacy Control")
    honor_dnt = forms.BooleanField(required=False, label="Honour Do Not Track")
    event_retention_days = forms.IntegerField(
        required=False,
        label="Keep shopper activity (days)",
        min_value=0,
        max_value=3650,
        help_text="Events, visitor profiles and per-visitor analytics older than this are deleted every "
        "night; orders and daily totals stay. Empty or 0: keep everything.",
    )

    def clean_locale(self) -> str:
        return self.cleaned_data["locale"].strip()


# --- widgets --------------------------------------------------------------------------------------


class WidgetSettingsForm(forms.Form):
    """One widget type's placement settings, its default filters, and the shop's diversity cap."""

    title = forms.CharField(required=False, max_length=200, help_text="Empty: the default title.")
    limit = forms.IntegerField(
        required=False, min_value=1, max_value=50, help_text="Products shown, 1 to 50. Empty: 8."
    )
    layout = forms.ChoiceField(required=False, choices=[("", "default (grid)")] + [(x, x) for x in LAYOUTS])
    category = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Only products in this category or below it, e.g. Home > Candles. Empty: any.",
    )
    min_price = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2)
    max_price = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2)
    max_per_category = forms.IntegerField(
        min_value=0,
        max_value=50,
        label="Diversity: at most this many per category",
        help_text="Applies to every widget of the shop. 0: no cap.",
    )
    preview_product = forms.CharField(
        required=False,
        max_length=128,
        label="Preview on product",
        help_text="A product id to preview 'similar' and 'bought together' with (not saved).",
    )

    def clean_category(self) -> str:
        return normalize_category(self.cleaned_data["category"])

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and high < low:
            self.add_error("max_price", "Must not be below the minimum price.")
        return cleaned


class RuleForm(forms.Form):
    """A pin, boost or bury; a row left blank is ignored."""

    action = forms.ChoiceField(required=False, choices=[("", "—")] + WidgetRule.ACTIONS)
    target = forms.ChoiceField(choices=WidgetRule.TARGETS, initial=WidgetRule.PRODUCT)
    value = forms.CharField(required=False, max_length=1000, label="Product id or category")
    factor = forms.FloatField(
        required=False,
        min_value=0.01,
        max_value=100,
        label="Boost ×",
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    slot = forms.IntegerField(required=False, min_value=1, max_value=50, label="Pin slot")

    def clean(self):
        cleaned = super().clean()
        action, value = cleaned.get("action"), (cleaned.get("value") or "").strip()
        if not action and not value:
            return cleaned
        if not action:
            self.add_error("action", "Choose pin, boost or bury.")
        if not value:
            self.add_error("value", "Enter a product id or a category.")
        if action == WidgetRule.BOOST and not cleaned.get("factor"):
            self.add_error("factor", "A boost needs a factor, e.g. 1.5.")
        if action == WidgetRule.PIN and not cleaned.get("slot"):
            self.add_error("slot", "A pin needs a slot, 1 being the first.")
        return cleaned

    def draft(self) -> DraftRule | None:
        data = self.cleaned_data
        if not data.get("action") or self.cleaned_data.get("DELETE"):
            return None
        return DraftRule(
            action=data["action"],
            target=data["target"],
            value=data["value"].strip(),
            factor=data.get("factor") or 1.5,
            position=(data.get("slot") or 1) - 1,
        )


RuleFormSet = forms.formset_factory(RuleForm, extra=3, can_delete=True, max_num=MAX_RULES_PER_WIDGET)


# --- campaigns ------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class CampaignForm(forms.ModelForm):
    """A campaign's settings and content, with the targeting rules as one field each."""

    url_contains = forms.CharField(
        required=False,
        label="Page address contains",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="One text per line; any may match, e.g. /products/. Empty: every page.",
    )
    devices = forms.MultipleChoiceField(
        required=False,
        choices=[(d, d) for d in DEVICES],
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every device.",
    )
    visitor = forms.ChoiceField(choices=[(v, v) for v in VISITORS], initial="any", label="Visitors")
    min_page_views = forms.IntegerField(
        required=False, min_value=0, max_value=10_000, label="At least page views"
    )
    min_seconds_on_page = forms.IntegerField(
        required=False, min_value=0, max_value=86_400, label="At least seconds on the page"
    )
    min_scroll_percent = forms.IntegerField(
        required=False, min_value=0, max_value=100, label="Scrolled at least (%)"
    )
    min_cart_value = forms.FloatField(
        required=False, min_value=0, max_value=MAX_MONEY, label="Cart value from"
    )
    max_cart_value = forms.FloatField(
        required=False, min_value=0, max_value=MAX_MONEY, label="Cart value up to"
    )
    cart_contains = forms.CharField(
        required=False,
        label="Cart contains product",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="Product ids, one per line; any may match.",
    )
    viewed_category = forms.CharField(required=False, max_length=1000, help_text="e.g. Home > Candles")
    customer = forms.ChoiceField(
        choices=[(c, c) for c in CUSTOMERS], initial="any", label="Logged-in customers"
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "kind",
            "status",
            "priority",
            "starts_at",
            "ends_at",
            "trigger_type",
            "delay_seconds",
            "scroll_percent",
            "title",
            "text",
            "image_url",
            "cta_text",
            "cta_url",
            "coupon_code",
            "widget",
            "widget_limit",
        ]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 3}),
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }
        help_texts = {"starts_at": "UTC. Empty: from now.", "ends_at": "UTC. Empty: until paused."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        targeting = self.instance.targeting or {}
        for key in TARGETING_KEYS:
            value = targeting.get(key)
            if value is None:
                continue
            self.initial[key] = "\n".join(value) if key in ("url_contains", "cart_contains") else value

    def clean(self):
        cleaned = super().clean()
        raw = {
            "url_contains": _lines(cleaned.get("url_contains")),
            "devices": cleaned.get("devices") or [],
            "visitor": None if cleaned.get("visitor") in (None, "any") else cleaned["visitor"],
            "min_page_views": cleaned.get("min_page_views"),
            "min_seconds_on_page": cleaned.get("min_seconds_on_page"),
            "min_scroll_percent": cleaned.get("min_scroll_percent"),
            "min_cart_value": cleaned.get("min_cart_value"),
            "max_cart_value": cleaned.get("max_cart_value"),
            "cart_contains": _lines(cleaned.get("cart_contains")),
            "viewed_category": normalize_category(cleaned.get("viewed_category") or "") or None,
            "customer": None if cleaned.get("customer") in (None, "any") else cleaned["customer"],
        }
        if len(raw["devices"]) == len(DEVICES):
            raw["devices"] = []  # every device: no rule
        targeting, errors = clean_targeting({k: v for k, v in raw.items() if k not in self.errors})
        for error in errors:
            key, _, reason = error.partition(": ")
            self.add_error(key if key in self.fields else None, reason or error)
        self.targeting = targeting
        return cleaned

    def campaign_fields(self) -> dict:
        """What services.create_campaign / update_campaign take."""
        fields = {name: self.cleaned_data[name] for name in self.Meta.fields}
        fields["targeting"] = self.targeting
        return fields

    def _post_clean(self):
        # Validate the instance with the targeting the form assembled (ModelForm skips that field).
        if hasattr(self, "targeting"):
            self.instance.targeting = self.targeting
        super()._post_clean()


class VariantForm(forms.Form):
    """An A/B variant's share and content; a row left blank is ignored."""

    key = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2)
    share = forms.IntegerField(required=False, min_value=1, max_value=100, label="Share (%)")
    title = forms.CharField(required=False, max_length=200)
    text = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    image_url = forms.CharField(required=False, max_length=2048, label="Image URL")
    cta_text = forms.CharField(required=False, max_length=100, label="Button text")
    cta_url = forms.CharField(required=False, max_length=2048, label="Button link")
    coupon_code = forms.CharField(required=False, max_length=64)

    CONTENT = ("title", "text", "image_url", "cta_text", "cta_url", "coupon_code")

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not data.get("share") and not any((data.get(name) or "").strip() for name in self.CONTENT)

    def clean(self):
        cleaned = super().clean()
        if not self.is_blank() and not cleaned.get("share") and "share" not in self.errors:
            self.add_error("share", "Give the variant a share of the visitors, 1 to 100.")
        return cleaned


VariantFormSet = forms.formset_factory(VariantForm, extra=1, can_delete=True, max_num=5, validate_max=True)


class BudgetForm(forms.ModelForm):
    class Meta:
        model = SnippetSettings
        fields = ["campaigns_per_session", "campaigns_per_day"]
        labels = {"campaigns_per_session": "Per visit", "campaigns_per_day": "Per visitor per day"}
