"""What the snippet is told when a shop has not said otherwise: widget titles and sizes, the locale."""

from personalize.recommend.models import WIDGETS

LAYOUTS = ("grid", "carousel", "list")
DEFAULT_WIDGET_LIMIT = 8

WIDGET_TITLES = {
    "for_you": "Recommended for you",
    "similar": "You may also like",
    "bought_together": "Frequently bought together",
    "trending": "Trending now",
    "recently_viewed": "Recently viewed",
    "cart": "Complete your basket",
}
assert set(WIDGET_TITLES) == set(WIDGETS)

# The texts the snippet shows are English, so a currency maps to an English locale where one is
# usual (EUR: en-IE writes €12.50) and to the country's own otherwise.
CURRENCY_LOCALES = {
    "USD": "en-US",
    "GBP": "en-GB",
    "EUR": "en-IE",
    "CAD": "en-CA",
    "AUD": "en-AU",
    "NZD": "en-NZ",
    "INR": "en-IN",
    "SGD": "en-SG",
    "ZAR": "en-ZA",
    "CHF": "de-CH",
    "SEK": "sv-SE",
    "NOK": "nb-NO",
    "DKK": "da-DK",
    "PLN": "pl-PL",
    "CZK": "cs-CZ",
    "JPY": "ja-JP",
    "BRL": "pt-BR",
    "MXN": "es-MX",
}
DEFAULT_LOCALE = "en-US"


def default_locale(currency: str) -> str:
    """The usual locale for prices in `currency` ('GBP' -> 'en-GB'), en-US when unknown."""
    return CURRENCY_LOCALES.get((currency or "").upper(), DEFAULT_LOCALE)
