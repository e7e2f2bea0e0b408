"""Sign-up, log-in and log-out."""

from django.contrib.auth import get_user_model
from django.test import Client

from tests.factories import PASSWORD

User = get_user_model()


def test_it_signs_up_logs_in_and_sends_to_create_shop(db):
    client = Client()
    response = client.post("/signup/", {"email": "  Dana@Example.COM ", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/shops/new/"
    user = User.objects.get()
    assert user.username == "dana@example.com"
    assert user.email == "dana@example.com"
    assert user.check_password(PASSWORD)
    # Logged in: the create-shop form answers instead of redirecting to /login/.
    assert client.get("/dashboard/shops/new/").status_code == 200


def test_signup_form_is_accessible(db):
    response = Client().get("/signup/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_email">' in html
    assert '<label for="id_password">' in html
    assert "csrfmiddlewaretoken" in html


def test_it_rejects_weak_passwords_with_the_error_next_to_the_field(db):
    response = Client().post("/signup/", {"email": "dana@example.com", "password": "12345678"})
    assert response.status_code == 200
    form = response.context["form"]
    assert "password" in form.errors
    assert any("too common" in e or "entirely numeric" in e for e in form.errors["password"])
    html = response.content.decode()
    assert 'id="id_password_error"' in html and 'aria-invalid="true"' in html
    assert not User.objects.exists()


def test_it_rejects_a_password_like_the_email(db):
    response = Client().post("/signup/", {"email": "dana.longname@example.com", "password": "dana.longname"})
    assert "password" in response.context["form"].errors
    assert not User.objects.exists()


def test_it_rejects_an_email_that_already_has_an_account(alice):
    response = Client().post("/signup/", {"email": "ALICE@example.com", "password": PASSWORD + "x"})
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert User.objects.filter(username__iexact="alice@example.com").count() == 1


def test_it_rejects_an_invalid_email(db):
    response = Client().post("/signup/", {"email": "not-an-email", "password": PASSWORD})
    assert "email" in response.context["form"].errors
    assert not User.objects.exists()


def test_signed_in_user_visiting_signup_goes_to_dashboard(alice):
    client = Client()
    client.force_login(alice)
    response = client.get("/signup/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_it_logs_in_by_email_in_any_case(alice, shop):
    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "Alice@Example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_it_follows_next_after_login(alice, shop):
    client = Client()
    response = client.get(f"/dashboard/shops/{shop.id}/settings/")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/dashboard/shops/{shop.id}/settings/"
    response = client.post(response["Location"], {"username": "alice@example.com", "password": PASSWORD})
    assert response["Location"] == f"/dashboard/shops/{shop.id}/settings/"


def test_it_rejects_a_wrong_password(alice):
    client = Client()
    response = client.post("/login/", {"username": "alice@example.com", "password": "wrong-password"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    assert client.get("/dashboard/").status_code == 302


def fail_logins(client, email: str, times: int, **extra) -> None:
    for _ in range(times):
        response = client.post("/login/", {"username": email, "password": "wrong-password"}, **extra)
        assert response.status_code == 200


def test_ten_failed_logins_pause_that_account_from_that_address(alice):
    client = Client(REMOTE_ADDR="203.0.113.7")
    fail_logins(client, "alice@example.com", 9)
    tenth = client.post("/login/", {"username": "alice@example.com", "password": "wrong-password"})
    assert tenth.status_code == 429
    # Even the right password (in another case) is refused now, with a page that says why.
    response = client.post("/login/", {"username": "ALICE@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "paused for 15 minutes" in response.content.decode()
    assert client.get("/dashboard/").status_code == 302
    # The same account from another address, and another account from this one, still log in.
    other_address = Client(REMOTE_ADDR="198.51.100.2")
    assert (
        other_address.post("/login/", {"username": "alice@example.com", "password": PASSWORD}).status_code
        == 302
    )


def test_another_account_from_a_locked_address_still_logs_in(alice, bob):
    client = Client(REMOTE_ADDR="203.0.113.7")
    fail_logins(client, "alice@example.com", 9)
    client.post("/login/", {"username": "alice@example.com", "password": "wrong-password"})
    assert client.post("/login/", {"username": bob.username, "password": PASSWORD}).status_code == 302


def test_a_successful_login_clears_the_failures(alice):
    client = Client(REMOTE_ADDR="203.0.113.7")
    fail_logins(client, "alice@example.com", 9)
    assert client.post("/login/", {"username": "alice@example.com", "password": PASSWORD}).status_code == 302
    client.post("/logout/")
    fail_logins(client, "alice@example.com", 9)
    assert client.post("/login/", {"username": "alice@example.com", "password": PASSWORD}).status_code == 302


def test_behind_a_proxy_the_lockout_counts_the_address_the_proxy_saw(alice, settings):
    settings.PZ_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    fail_logins(Client(**proxy), "alice@example.com", 9, HTTP_X_FORWARDED_FOR="203.0.113.7")
    Client(**proxy).post(
        "/login/", {"username": "alice@example.com", "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    # Another shopper behind the same proxy is not locked out; the forger's own prefix is ignored.
    assert (
        Client(**proxy)
        .post(
            "/login/",
            {"username": "alice@example.com", "password": PASSWORD},
            HTTP_X_FORWARDED_FOR="198.51.100.2",
        )
        .status_code
        == 302
    )
    locked = Client(**proxy).post(
        "/login/",
        {"username": "alice@example.com", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.7",
    )
    assert locked.status_code == 429


def test_logout_is_post_only_and_ends_the_session(alice, shop):
    client = Client()
    client.force_login(alice)
    assert client.get("/logout/").status_code == 405
    assert client.get("/dashboard/").status_code == 200
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_every_page_has_a_logout_form_with_csrf(alice, shop):
    client = Client()
    client.force_login(alice)
    html = client.get(f"/dashboard/shops/{shop.id}/").content.decode()
    assert 'action="/logout/"' in html
    assert 'method="post"' in html
