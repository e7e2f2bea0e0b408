"""Dashboard forms. Validation lives here; the writes are in the services."""

import re

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import URLValidator

from personalize.campaigns.defaults import LAYOUTS
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
