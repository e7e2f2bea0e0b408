"""API key material: generation and hashing. Django-free."""

import hashlib
import secrets

SITE_KEY_PREFIX = "pk_"
SECRET_KEY_PREFIX = "sk_"


def new_site_key() -> str:
    return SITE_KEY_PREFIX + secrets.token_urlsafe(18)


def new_secret_key() -> str:
    return SECRET_KEY_PREFIX + secrets.token_urlsafe(30)


def hash_secret_key(raw: str) -> str:
    """SHA-256 is enough here: the keys carry 240 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(raw.encode()).hexdigest()
