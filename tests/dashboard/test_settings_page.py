"""Settings added for the dashboard issue: measurement/privacy/locale preferences, invitations by
email, and the production settings passing Django's deployment checklist.

Email goes through Django's email backend; pytest-django swaps in the locmem backend, whose outbox
stands in for the outside SMTP server (the only stand-in here).
"""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from django.core import mail
from django.test import Client
from django.utils import timezone

from personalize.campaigns.models import SnippetSettings
from personalize.campaigns.services import snippet_config
from personalize.dashboard.models import Invitation
from personalize.recommend.models import RecommenderConfig
from personalize.shops.models import Membership
from tests.dashboard.conftest import client_for, snapshot
from tests.factories import PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"https?://\S+/invitations/([A-Za-z0-9_-]+)/")


def settings_url(shop, rest=""):
    return f"/dashboard/shops/{shop.id}/settings/{rest}"


PREFS = {
    "prefs-holdout_percent": "10",
    "prefs-attribution_window_hours": "48",
    "prefs-locale": "de-DE",
    "prefs-consent_required": "on",
    "prefs-honor_gpc": "on",
}


# --- preferences ----------------------------------------------------------------------------------


def test_it_shows_the_defaults(bob_client, shop):
    response = bob_client.get(settings_url(shop))
    assert response.status_code == 200
    form = response.context["preferences_form"]
    assert form.initial == {
        "holdout_percent": 5.0,
        "attribution_window_hours": 24,
        "locale": "",
        "consent_required": False,
        "honor_gpc": True,
        "honor_dnt": True,
        "event_retention_days": 0,
    }
    # a member sees them, disabled, with no save button
    assert all(field.disabled for field in form.fields.values())
    assert "Save measurement and privacy" not in response.content.decode()
    assert not RecommenderConfig.objects.filter(shop=shop).exists()  # reading wrote nothing


def test_an_owner_saves_hold_out_window_consent_and_locale(alice_client, shop):
    response = alice_client.post(settings_url(shop, "preferences/"), PREFS)
    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.attribution_window_hours, shop.locale, shop.event_retention_days) == (48, "de-DE", 0)
    assert RecommenderConfig.objects.get(shop=shop).holdout_share == 0.1
    s = SnippetSettings.objects.get(shop=shop)
    assert (s.consent_required, s.honor_gpc, s.honor_dnt) == (True, True, False)
    # the snippet's config follows at once
    config = snippet_config(shop=shop)
    assert config["holdout"]["share"] == 0.1
    assert config["consent"] == {"required": True, "honor_gpc": True, "honor_dnt": False}
    assert config["shop"]["locale"] == "de-DE"


def test_an_owner_sets_how_long_shopper_activity_is_kept(alice_client, shop):
    response = alice_client.post(
        settings_url(shop, "preferences/"), {**PREFS, "prefs-event_retention_days": "395"}
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.event_retention_days == 395
    negative = alice_client.post(
        settings_url(shop, "preferences/"), {**PREFS, "prefs-event_retention_days": "-1"}
    )
    assert negative.status_code == 400
    assert set(negative.context["preferences_form"].errors) == {"event_retention_days"}


def test_bad_preferences_show_per_field_errors_and_change_nothing(alice_client, shop):
    before = snapshot()
    response = alice_client.post(
        settings_url(shop, "preferences/"),
        {
            "prefs-holdout_percent": "80",
            "prefs-attribution_window_hours": "0",
            "prefs-locale": "not a locale!",
        },
    )
    assert response.status_code == 400
    errors = response.context["preferences_form"].errors
    assert set(errors) == {"holdout_percent", "attribution_window_hours", "locale"}
    html = response.content.decode()
    assert 'id="id_prefs-holdout_percent_error"' in html
    assert snapshot() == before
    assert not RecommenderConfig.objects.filter(shop=shop).exists()


def test_a_member_cannot_change_preferences(bob_client, shop):
    assert bob_client.post(settings_url(shop, "preferences/"), PREFS).status_code == 404
    shop.refresh_from_db()
    assert shop.attribution_window_hours == 24
    assert not SnippetSettings.objects.filter(shop=shop).exists()


def test_outsiders_get_404(charlie_client, shop):
    assert charlie_client.post(settings_url(shop, "preferences/"), PREFS).status_code == 404
    assert (
        charlie_client.post(
            settings_url(shop, "invitations/new/"), {"invite-email": "x@example.com"}
        ).status_code
        == 404
    )
    assert not Invitation.objects.exists() and not mail.outbox


# --- invitations ----------------------------------------------------------------------------------


def invite(client, shop, email="dana@example.com", role="member", django_capture_on_commit_callbacks=None):
    return client.post(settings_url(shop, "invitations/new/"), {"invite-email": email, "invite-role": role})


def test_an_invitee_signs_up_and_joins(alice_client, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(alice_client, shop, "Dana@Example.com")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@example.com"] and shop.name in message.subject
    token = LINK.search(message.body).group(1)
    invitation = Invitation.objects.for_shop(shop).get()
    assert token not in invitation.token_hash  # only a hash is stored
    assert "dana@example.com" in alice_client.get(settings_url(shop)).content.decode()

    visitor = Client()
    page = visitor.get(f"/invitations/{token}/")
    assert page.status_code == 200 and "Join Alice&#x27;s Shop" in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0")
    # sign up through the invitation's link (the address is filled in), and come back to it
    form = visitor.get(f"/signup/?next=/invitations/{token}/").context["form"]
    assert form.initial["email"] == "dana@example.com"
    signup = visitor.post(
        "/signup/", {"email": "dana@example.com", "password": PASSWORD, "next": f"/invitations/{token}/"}
    )
    assert signup.status_code == 302 and signup["Location"] == f"/invitations/{token}/"
    joined = visitor.post(f"/invitations/{token}/")
    assert joined.status_code == 302 and joined["Location"] == f"/dashboard/shops/{shop.id}/"
    membership = Membership.objects.for_shop(shop).get(user__username="dana@example.com")
    assert membership.role == Membership.MEMBER
    assert visitor.get(f"/dashboard/shops/{shop.id}/").status_code == 200
    # the link works once
    assert visitor.post(f"/invitations/{token}/").status_code == 404


def test_only_the_invited_address_can_accept(alice_client, shop, charlie, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(alice_client, shop, "dana@example.com", "owner")
    token = LINK.search(mail.outbox[0].body).group(1)
    response = client_for(charlie).post(f"/invitations/{token}/")
    assert response.status_code == 400 and "for dana@example.com" in response.content.decode()
    assert not Membership.objects.for_shop(shop).filter(user=charlie).exists()
    # logged out, accepting sends you to log in first
    response = Client().post(f"/invitations/{token}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/invitations/")
    # the right person, already signed up, joins as owner
    dana = make_user("dana@example.com")
    assert client_for(dana).post(f"/invitations/{token}/").status_code == 302
    assert Membership.objects.for_shop(shop).get(user=dana).role == Membership.OWNER


def test_withdrawn_expired_and_unknown_links_do_not_work(
    alice_client, shop, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(alice_client, shop, "dana@example.com")
        invite(alice_client, shop, "erin@example.com")
    dana_token, erin_token = (LINK.search(m.body).group(1) for m in mail.outbox)
    dana_inv = Invitation.objects.get(email="dana@example.com")
    assert alice_client.post(settings_url(shop, f"invitations/{dana_inv.id}/revoke/")).status_code == 302
    Invitation.objects.filter(email="erin@example.com").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    dana, erin = make_user("dana@example.com"), make_user("erin@example.com")
    for user, token in ((dana, dana_token), (erin, erin_token), (dana, "nonsense-token")):
        client = client_for(user)
        assert client.get(f"/invitations/{token}/").status_code == 404
        assert client.post(f"/invitations/{token}/").status_code == 404
    assert Membership.objects.for_shop(shop).count() == 2  # alice and bob


def test_inviting_again_replaces_the_old_link(alice_client, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(alice_client, shop, "dana@example.com")
        invite(alice_client, shop, "dana@example.com")
    first, second = (LINK.search(m.body).group(1) for m in mail.outbox)
    dana = client_for(make_user("dana@example.com"))
    assert dana.post(f"/invitations/{first}/").status_code == 404
    assert dana.post(f"/invitations/{second}/").status_code == 302


def test_bad_invitations_show_field_errors(alice_client, shop):
    response = invite(alice_client, shop, "not-an-email", "king")
    assert response.status_code == 400
    assert set(response.context["invite_form"].errors) == {"email", "role"}
    response = invite(alice_client, shop, "bob@example.com")  # already a member
    assert response.status_code == 400
    assert "already a member" in response.context["invite_form"].errors["email"][0]
    assert not Invitation.objects.exists() and not mail.outbox


def test_members_cannot_invite_or_withdraw(
    bob_client, alice_client, shop, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(alice_client, shop, "dana@example.com")
    invitation = Invitation.objects.get()
    assert invite(bob_client, shop, "eve@example.com").status_code == 404
    assert bob_client.post(settings_url(shop, f"invitations/{invitation.id}/revoke/")).status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and Invitation.objects.count() == 1 and len(mail.outbox) == 1
    html = bob_client.get(settings_url(shop)).content.decode()
    assert "Invite by email" not in html and "dana@example.com" not in html


def test_another_shops_owner_cannot_withdraw_our_invitation(charlie_client, alice_client, shop):
    invite(alice_client, shop, "dana@example.com")
    invitation = Invitation.objects.get()
    assert charlie_client.post(settings_url(shop, f"invitations/{invitation.id}/revoke/")).status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_every_settings_form_posts_with_a_csrf_token(alice, shop):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    html = client.get(settings_url(shop)).content.decode()
    forms = re.findall(r"<form method=\"post\".*?</form>", html, re.S)
    assert len(forms) >= 6
    assert all("csrfmiddlewaretoken" in form for form in forms)
    assert client.post(settings_url(shop, "preferences/"), PREFS).status_code == 403


# --- production settings --------------------------------------------------------------------------


def test_production_settings_pass_check_deploy(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "EMAIL_"))
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="personalize.example.com",
        CSRF_TRUSTED_ORIGINS="https://personalize.example.com",
        PZ_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="personalize.settings",
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    # and the same settings really are the production ones
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, "
            "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_HTTPONLY, s.EMAIL_BACKEND.rsplit('.', 2)[-2])",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.stdout.split() == ["False", "True", "True", "True", "True", "True", "smtp"], probe.stderr
