"""Accounts end to end: registration with mail through a real SMTP server, verification,
login and its rate limit, sessions and their cookies, password reset, CSRF, API tokens and
their scopes, the audit trail, and the ``techbridge users`` commands (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
from smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401  (provides smtp_sink)
from support import PASSWORD, TestClient, api_headers, api_login, committed, csrf, log_in
from techbridge.accounts import service as accounts
from techbridge.accounts import throttle
from techbridge.accounts.models import LoginSession, OutboxMessage, User
from techbridge.accounts.schemas import Login
from techbridge.audit import Actor, AuditEntry
from techbridge.catalog import service as catalog
from techbridge.cli import app as cli
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work, utcnow
from techbridge.errors import RateLimited
from techbridge.web.app import create_app
from techbridge.web.auth import SESSION_COOKIE, check_login

HOSTILE = "<script>alert(1)</script>"
NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    """The app's settings, with its mail going to a real SMTP server."""
    return smtp_sink.settings_for(settings)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The accounts service's clock, stopped: login delays stay as they were set until a
    test moves ``clock[0]`` on."""
    now = [utcnow()]
    monkeypatch.setattr(accounts, "utcnow", lambda: now[0])
    return now


def user_named(database_url: str, email: str) -> User | None:
    with committed(database_url) as session:
        return accounts.user_by_email(session, email)


def actions(database_url: str) -> list[str]:
    with committed(database_url) as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def registration(**changes: Any) -> dict[str, Any]:
    return {
        "email": "li.na@example.com",
        "name": "李娜",
        "password": PASSWORD,
        "organisation_name": "新材料有限公司",
        "organisation_kind": "enterprise",
        "roles": ["demander"],
        "language": "zh",
        **changes,
    }


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- registration, verification, login -----------------------------------------------------


def test_register_in_the_browser_verify_by_mail_and_log_in(
    client: TestClient, smtp_sink: SmtpSink, database_url: str
) -> None:
    client.cookies.set("lang", "en")
    form = {
        "csrftoken": csrf(client, "/register"),
        "name": "Li Na",
        "email": "Li.Na@Example.com",
        "password": PASSWORD,
        "organisation_name": "新材料有限公司",
        "organisation_kind": "enterprise",
        "roles": ["demander", "supplier"],
        "language": "en",
    }
    page = client.post("/register", data=form)
    assert page.status_code == 200
    assert "li.na@example.com" in page.text and "Check your mail" in page.text

    link = smtp_sink.link(smtp_sink.wait_for("li.na@example.com"), "/verify")
    assert link.startswith("http://testserver/verify?token=")
    # Opening the link (or a preview bot fetching it) only shows the button.
    shown = client.get(path_of(link))
    assert shown.status_code == 200 and 'action="/verify"' in shown.text
    refused = api_login(client, "li.na@example.com")
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "email"

    token = re.search(r'name="token" value="([^"]+)"', shown.text)
    assert token
    verified = client.post(
        "/verify",
        data={"csrftoken": csrf(client, "/login"), "token": token.group(1)},
        follow_redirects=False,
    )
    assert verified.status_code == 303 and verified.headers["location"] == "/login?done=verified"
    assert "You can log in now" in client.get(verified.headers["location"]).text

    logged_in = client.post(
        "/login",
        data={
            "csrftoken": csrf(client, "/login"),
            "email": "li.na@example.com",
            "password": PASSWORD,
            "next": "/account",
        },
        follow_redirects=False,
    )
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/account"
    me = client.get("/api/v1/me").json()
    assert (me["email"], me["name"], me["roles"]) == (
        "li.na@example.com",
        "Li Na",
        ["demander", "supplier"],
    )
    assert me["organisation_id"] is not None and me["email_verified_at"] is not None
    assert "li.na@example.com" in client.get("/account").text
    # The link works once.
    again = client.post(
        "/verify", data={"csrftoken": csrf(client, "/login"), "token": token.group(1)}
    )
    assert again.status_code == 422 and 'role="alert"' in again.text


def test_register_verify_and_log_in_through_the_api(
    client: TestClient, smtp_sink: SmtpSink
) -> None:
    created = client.post("/api/v1/auth/register", json=registration())
    assert created.status_code == 202, created.text
    link = smtp_sink.link(smtp_sink.wait_for("li.na@example.com"), "/verify")
    token = link.split("token=", 1)[1]
    assert client.post("/api/v1/auth/verify", json={"token": token}).status_code == 200
    assert client.get("/api/v1/me").status_code == 401

    response = api_login(client, "LI.NA@example.com")
    assert response.status_code == 200 and response.json()["name"] == "李娜"
    assert client.get("/api/v1/me").json()["email"] == "li.na@example.com"

    out = client.post("/api/v1/auth/logout", headers=api_headers(client))
    assert out.status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_unverified_user_cannot_log_in(client: TestClient, session: Session) -> None:
    factories.user(session, "new@example.com", verified=False)
    session.commit()
    response = api_login(client, "new@example.com")
    assert response.status_code == 403
    assert "verify your e-mail address" in response.json()["error"]["message"]
    client.cookies.set("lang", "en")
    page = client.post(
        "/login",
        data={
            "csrftoken": csrf(client, "/login"),
            "email": "new@example.com",
            "password": PASSWORD,
        },
    )
    assert page.status_code == 403 and 'role="alert"' in page.text
    assert SESSION_COOKIE not in client.cookies


def test_a_new_verification_link_can_be_asked_for_without_revealing_accounts(
    client: TestClient, session: Session, database_url: str, smtp_sink: SmtpSink
) -> None:
    factories.user(session, "new@example.com", verified=False)
    factories.user(session, "done@example.com")
    session.commit()
    answers = {
        email: client.post("/api/v1/auth/verify/resend", json={"email": email})
        for email in ("new@example.com", "done@example.com", "nobody@example.com")
    }
    assert {answer.status_code for answer in answers.values()} == {202}
    assert len({answer.text for answer in answers.values()}) == 1
    link = SmtpSink.link(smtp_sink.wait_for("new@example.com"), "/verify")
    token = link.split("token=", 1)[1]
    assert client.post("/api/v1/auth/verify", json={"token": token}).status_code == 200
    with committed(database_url) as stored:
        queued = stored.scalars(select(OutboxMessage.recipient)).all()
    assert queued == ["new@example.com"]
    page = client.post(
        "/verify/resend", data={"csrftoken": csrf(client, "/verify/resend"), "email": "x@y.z"}
    )
    assert page.status_code == 200 and 'id="resend-sent"' in page.text


def test_wrong_password_is_401_and_five_failures_slow_the_address_down(
    client: TestClient, session: Session, database_url: str, clock: list[datetime]
) -> None:
    factories.user(session, "ana@example.com")
    session.commit()
    for _ in range(5):
        wrong = api_login(client, "ana@example.com", "not the password")
        assert wrong.status_code == 401
        assert wrong.json() == {
            "error": {
                "code": "unauthenticated",
                "message": "wrong e-mail address or password",
                "field": None,
            }
        }
    # An unknown address gets the very same answer.
    unknown = api_login(client, "nobody@example.com", "not the password")
    assert unknown.json() == wrong.json()
    assert actions(database_url).count("login_failed") == 6

    locked = api_login(client, "ana@example.com")
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "1"  # then 2, 4, … up to 15 minutes
    page = client.post(
        "/login",
        data={
            "csrftoken": csrf(client, "/login"),
            "email": "ana@example.com",
            "password": PASSWORD,
        },
    )
    assert page.status_code == 429 and page.headers["retry-after"] == "1"
    assert "登录失败次数过多" in page.text  # the service's message, in the page's language
    assert SESSION_COOKIE not in client.cookies


def test_login_page_keeps_input_and_never_redirects_off_site(
    client: TestClient, session: Session
) -> None:
    factories.user(session, "ana@example.com")
    session.commit()
    client.cookies.set("lang", "en")
    wrong = client.post(
        "/login",
        data={
            "csrftoken": csrf(client, "/login"),
            "email": "ana@example.com",
            "password": "nope",
            "next": "/account",
        },
    )
    assert wrong.status_code == 401
    assert 'value="ana@example.com"' in wrong.text and 'value="/account"' in wrong.text
    assert "wrong e-mail address or password" in wrong.text and 'role="alert"' in wrong.text
    assert "nope" not in wrong.text

    for hostile, expected in [
        ("https://evil.example/", "/workspace"),
        ("//evil.example/", "/workspace"),
        ("/\\evil.example", "/workspace"),
        ("/\t/evil.example", "/workspace"),
        ("/search?q=电池", "/search?q=%E7%94%B5%E6%B1%A0"),
    ]:
        client.cookies.delete(SESSION_COOKIE)
        response = client.post(
            "/login",
            data={
                "csrftoken": csrf(client, "/login"),
                "email": "ana@example.com",
                "password": PASSWORD,
                "next": hostile,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == expected


def test_page_needing_login_sends_the_visitor_to_log_in_and_back(client: TestClient) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"
    assert 'name="next" value="/account"' in client.get(response.headers["location"]).text


# --- sessions and cookies ---------------------------------------------------------------------


@pytest.mark.parametrize("secure", [False, True])
def test_session_cookie_flags(settings: Settings, session: Session, secure: bool) -> None:
    factories.user(session, "ana@example.com")
    session.commit()
    with factories.client(settings, secure_cookies=secure) as client:
        response = api_login(client, "ana@example.com")
    assert response.status_code == 200
    cookie = next(
        header
        for header in response.headers.get_list("set-cookie")
        if header.startswith(f"{SESSION_COOKIE}=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert ("secure" in flags) is secure


def test_expired_or_idle_session_is_anonymous(
    client: TestClient, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    assert client.get("/api/v1/me").status_code == 200
    with unit_of_work(engine_for(database_url)) as stored:
        stored.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_session_reaches_its_maximum_age_however_active(
    client: TestClient, session: Session, database_url: str, settings: Settings
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    long_ago = utcnow() - timedelta(days=settings.session_max_days, minutes=1)
    with unit_of_work(engine_for(database_url)) as stored:
        stored.execute(
            update(LoginSession).values(
                created_at=long_ago, last_seen_at=utcnow() - timedelta(minutes=2)
            )
        )
    client.get("/api/v1/me")  # active now, but the extension stops at the maximum age
    with committed(database_url) as stored:
        found = stored.scalars(select(LoginSession)).one()
        assert found.expires_at <= found.created_at + timedelta(days=settings.session_max_days)


def test_logout_form_ends_the_session(
    client: TestClient, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    cookie = client.cookies[SESSION_COOKIE]
    response = client.post(
        "/logout", data={"csrftoken": csrf(client, "/login")}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    client.cookies.set(SESSION_COOKIE, cookie)  # a stolen copy is worthless now
    assert client.get("/api/v1/me").status_code == 401
    assert "logout" in actions(database_url)


def test_form_post_without_csrf_token_is_refused_and_changes_nothing(
    client: TestClient, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    csrf(client, "/login")
    response = client.post("/account/profile", data={"name": "Mallory", "language": "en"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf"
    forged = client.post(
        "/account/profile", data={"csrftoken": "forged", "name": "Mallory", "language": "en"}
    )
    assert forged.status_code == 403
    changed = user_named(database_url, "ana@example.com")
    assert changed is not None and changed.name == "ana"

    signup = client.post("/register", data={**registration(), "roles": "demander"})
    assert signup.status_code == 403
    assert user_named(database_url, "li.na@example.com") is None
    # JSON with the session cookie but without the header is refused too.
    assert client.patch("/api/v1/me", json={"name": "Mallory"}).status_code == 403


# --- password reset -------------------------------------------------------------------------


def test_password_reset_by_mail_ends_every_other_session(
    client: TestClient, settings: Settings, smtp_sink: SmtpSink, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    with factories.client(settings) as laptop:
        log_in(laptop, database_url, user.id)
        assert laptop.get("/api/v1/me").status_code == 200

        asked = client.post("/api/v1/auth/password/forgot", json={"email": "ana@example.com"})
        unknown = client.post("/api/v1/auth/password/forgot", json={"email": "nobody@example.com"})
        assert asked.status_code == unknown.status_code == 202
        assert asked.json() == unknown.json()

        link = smtp_sink.link(smtp_sink.wait_for("ana@example.com"), "/password/reset")
        form = client.get(path_of(link))
        assert form.status_code == 200 and 'name="password"' in form.text
        token = link.split("token=", 1)[1]
        short = client.post(
            "/password/reset",
            data={"csrftoken": csrf(client, "/login"), "token": token, "password": "short"},
        )
        assert short.status_code == 422 and 'role="alert"' in short.text
        done = client.post(
            "/password/reset",
            data={"csrftoken": csrf(client, "/login"), "token": token, "password": NEW_PASSWORD},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/login?done=reset"
        assert laptop.get("/api/v1/me").status_code == 401

    assert api_login(client, "ana@example.com").status_code == 401
    assert api_login(client, "ana@example.com", NEW_PASSWORD).status_code == 200
    assert smtp_sink.received("nobody@example.com") == []
    assert {"password_reset_requested", "password_reset"} <= set(actions(database_url))
    reused = client.post(
        "/api/v1/auth/password/reset",
        json={"token": token, "password": NEW_PASSWORD},
        headers=api_headers(client),
    )
    assert reused.status_code == 422 and reused.json()["error"]["field"] == "token"


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    client: TestClient, settings: Settings, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    with factories.client(settings) as phone:
        log_in(phone, database_url, user.id)
        wrong = client.post(
            "/api/v1/me/password",
            json={"current_password": "not it", "password": NEW_PASSWORD},
            headers=api_headers(client),
        )
        assert wrong.status_code == 422
        assert wrong.json()["error"]["field"] == "current_password"
        changed = client.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "password": NEW_PASSWORD},
            headers=api_headers(client),
        )
        assert changed.status_code == 204
        assert client.get("/api/v1/me").status_code == 200
        assert phone.get("/api/v1/me").status_code == 401


# --- profile and language -------------------------------------------------------------------


def test_a_link_on_another_site_cannot_change_the_accounts_language(
    client: TestClient, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    switched = client.get(
        "/lang/en", headers={"sec-fetch-site": "cross-site"}, follow_redirects=False
    )
    assert switched.cookies.get("lang") == "en"  # this browser follows the click
    stored = user_named(database_url, "ana@example.com")
    assert stored is not None and stored.language is None  # the account does not


def test_profile_and_language_are_remembered_on_the_account(
    client: TestClient, settings: Settings, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    switched = client.get(
        "/lang/en", headers={"referer": "http://testserver/account"}, follow_redirects=False
    )
    assert switched.headers["location"] == "/account"
    stored = user_named(database_url, "ana@example.com")
    assert stored is not None and stored.language == "en"
    with factories.client(settings) as other_browser:
        log_in(other_browser, database_url, user.id)
        assert '<html lang="en"' in other_browser.get("/account").text

    saved = client.post(
        "/account/profile",
        data={"csrftoken": csrf(client, "/login"), "name": "Ana Lima", "language": "zh"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.cookies.get("lang") == "zh"
    assert client.get("/api/v1/me").json()["name"] == "Ana Lima"
    bad = client.post(
        "/account/profile",
        data={"csrftoken": csrf(client, "/login"), "name": " ", "language": "fr"},
    )
    assert bad.status_code == 422 and bad.text.count('role="alert"') == 2
    patched = client.patch("/api/v1/me", json={"language": "en"}, headers=api_headers(client))
    assert patched.status_code == 200 and patched.json()["language"] == "en"


def test_hostile_names_are_escaped_on_pages(
    client: TestClient, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    user.name = HOSTILE
    session.commit()
    log_in(client, database_url, user.id)
    page = client.get("/account")
    assert page.status_code == 200
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    # A hostile value typed into the form comes back escaped too.
    form = client.post(
        "/register",
        data={
            **registration(name='"><img src=x onerror=alert(2)>'),
            "password": "short",
            "csrftoken": csrf(client, "/login"),
        },
    )
    assert form.status_code == 422
    assert "<img" not in form.text and "&lt;img" in form.text


# --- registration refusals ------------------------------------------------------------------


def test_registering_a_taken_address_answers_as_usual_and_tells_its_owner(
    client: TestClient, session: Session, database_url: str, smtp_sink: SmtpSink
) -> None:
    """Registration must not tell who is registered: same answer, and the mail goes to the
    address's owner instead of creating anything."""
    factories.user(session, "li.na@example.com")
    session.commit()
    fresh = client.post("/api/v1/auth/register", json=registration(email="new@example.com"))
    taken = client.post(
        "/api/v1/auth/register",
        json=registration(email="LI.NA@example.com", organisation_name="另一家公司"),
    )
    assert (taken.status_code, taken.json()) == (fresh.status_code, fresh.json())
    notice = smtp_sink.wait_for("li.na@example.com")
    assert "already has an account" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with committed(database_url) as stored:
        assert catalog.organisation_named(stored, "另一家公司") is None
    page = client.post(
        "/register",
        data={**registration(organisation_name=""), "csrftoken": csrf(client, "/login")},
    )
    assert page.status_code == 200 and 'id="registered"' in page.text
    assert PASSWORD not in page.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"password": "short"}, "password"),
        ({"roles": ["administrator"]}, "roles"),
        ({"roles": []}, "roles"),
        ({"name": "x" * 201}, "name"),
        ({"organisation_kind": "pirates"}, "organisation_kind"),
    ],
)
def test_bad_registrations_name_the_field(
    client: TestClient, database_url: str, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/auth/register", json=registration(**changes))
    assert response.status_code == 422
    assert response.json()["error"]["field"].split(".")[0] == field  # "roles.0": the item
    page = client.post(
        "/register", data={**registration(**changes), "csrftoken": csrf(client, "/login")}
    )
    assert page.status_code == 422
    assert f'id="register-{field}-error" role="alert"' in page.text
    assert user_named(database_url, "li.na@example.com") is None


# --- API tokens -----------------------------------------------------------------------------


def test_api_tokens_scopes_and_revocation(
    client: TestClient, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    headers = api_headers(client)
    made = {
        scope: client.post(
            "/api/v1/me/tokens",
            json={"name": f"{scope} script", "scopes": [scope]},
            headers=headers,
        )
        for scope in ("read", "write")
    }
    assert all(response.status_code == 201 for response in made.values())
    read_secret = made["read"].json()["token"]
    write_secret = made["write"].json()["token"]
    assert read_secret.startswith("tb_") and made["read"].json()["prefix"] == read_secret[:10]
    listed = client.get("/api/v1/me/tokens").json()
    assert [token["name"] for token in listed] == ["write script", "read script"]
    assert all("token" not in token for token in listed)

    with TestClient(client.app) as program:  # no cookies: only the token
        read = {"authorization": f"Bearer {read_secret}"}
        write = {"authorization": f"Bearer {write_secret}"}
        assert program.get("/api/v1/me", headers=read).json()["email"] == "ana@example.com"
        refused = program.patch("/api/v1/me", json={"name": "x"}, headers=read)
        assert refused.status_code == 403 and "scopes" in refused.json()["error"]["message"]
        token_id = made["write"].json()["id"]
        assert program.delete(f"/api/v1/me/tokens/{token_id}", headers=read).status_code == 403
        assert program.patch("/api/v1/me", json={"name": "Ana"}, headers=write).status_code == 200
        # Tokens never mint tokens nor change the password, whatever their scopes.
        for secret in (read, write):
            assert (
                program.post("/api/v1/me/tokens", json={"name": "more"}, headers=secret).status_code
                == 403
            )
            password = {"current_password": PASSWORD, "password": NEW_PASSWORD}
            assert (
                program.post("/api/v1/me/password", json=password, headers=secret).status_code
                == 403
            )

        revoked = client.delete(f"/api/v1/me/tokens/{token_id}", headers=headers)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        assert program.get("/api/v1/me", headers=write).status_code == 401
        assert (
            program.get("/api/v1/me", headers={"authorization": "Bearer tb_made_up"}).status_code
            == 401
        )

    assert client.delete("/api/v1/me/tokens/999999", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/me/tokens/{2**63}", headers=headers).status_code == 422
    trail = actions(database_url)
    assert trail.count("token_create") == 2 and trail.count("token_revoke") == 1


def test_tokens_on_the_account_page_show_the_secret_once(
    client: TestClient, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    other = factories.user(session, "rival@example.com")
    session.commit()
    log_in(client, database_url, user.id)
    client.cookies.set("lang", "en")
    created = client.post(
        "/account/tokens",
        data={
            "csrftoken": csrf(client, "/login"),
            "name": "nightly export",
            "scopes": ["read"],
            "expires_in_days": "30",
        },
    )
    assert created.status_code == 200
    secret = re.search(
        r'id="new-token-value" type="text" readonly value="(tb_[^"]+)"', created.text
    )
    assert secret, created.text
    assert secret.group(1) not in client.get("/account").text
    refused = client.post(
        "/account/tokens",
        data={"csrftoken": csrf(client, "/login"), "name": "", "expires_in_days": "0"},
    )
    assert refused.status_code == 422
    assert 'id="token-name-error"' in refused.text and 'id="profile-name-error"' not in refused.text

    with committed(database_url) as stored:
        (token,) = accounts.list_tokens(
            stored, accounts.principal_for(stored, accounts.get_user(stored, user.id))
        )
        rival_token, _ = factories.token(stored, accounts.get_user(stored, other.id), name="rival")
        stored.commit()
        token_id, rival_id = token.id, rival_token.id
    # Someone else's token is not found, not revoked.
    assert (
        client.post(
            f"/account/tokens/{rival_id}/revoke", data={"csrftoken": csrf(client, "/login")}
        ).status_code
        == 404
    )
    revoked = client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrftoken": csrf(client, "/login")},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert "Revoked" in client.get(revoked.headers["location"]).text
    assert "token_revoke" in actions(database_url)


def test_security_actions_are_audited(
    client: TestClient, session: Session, database_url: str
) -> None:
    user = factories.user(session, "ana@example.com")
    session.commit()
    api_login(client, "ana@example.com", "wrong password")
    api_login(client, "ana@example.com")
    client.post("/api/v1/auth/logout", headers=api_headers(client))
    with committed(database_url) as stored:
        entries = stored.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    security = [(e.action, str(e.actor), e.entity_id) for e in entries if e.action != "create"]
    assert security == [
        ("login_failed", "ip:testclient", "ana@example.com"),
        ("login", f"user:{user.id}", str(user.id)),
        ("logout", f"user:{user.id}", str(user.id)),
    ]


# --- the command line -----------------------------------------------------------------------


def test_users_commands(
    env: dict[str, str], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "users",
            "add",
            "Admin@TechBridge.example",
            "--name",
            "Admin",
            "--role",
            "administrator",
            "--verified",
            "--if-missing",
        ],
    )
    assert added.exit_code == 0, added.output
    password = re.search(r"^password: (\S+)$", added.output, re.MULTILINE)
    assert password and len(password.group(1)) >= 20
    with committed(database_url) as session:
        context = accounts.Context(base_url="http://x")
        data = Login(email="admin@techbridge.example", password=password.group(1))
        admin = check_login(session, data, context)
        assert admin is not None and admin.roles == ["administrator"]

    again = runner.invoke(
        cli, ["users", "add", "admin@techbridge.example", "--name", "Admin", "--if-missing"]
    )
    assert again.exit_code == 0 and "already exists" in again.output
    assert "password" not in again.output
    duplicate = runner.invoke(cli, ["users", "add", "admin@techbridge.example", "--name", "A"])
    assert duplicate.exit_code == 5 and "already exists" in duplicate.output

    chosen = runner.invoke(
        cli,
        [
            "users",
            "add",
            "wang@example.com",
            "--name",
            "王工",
            "--role",
            "demander",
            "--organisation",
            "新材料有限公司",
            "--password-stdin",
        ],
        input=f"{NEW_PASSWORD}\n",
    )
    assert chosen.exit_code == 0, chosen.output
    assert "password:" not in chosen.output and "verification link is queued" in chosen.output
    short = runner.invoke(
        cli, ["users", "add", "x@example.com", "--name", "X", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2 and "password" in short.output
    # email-validator refuses special-use domains such as .local: the login form would too.
    local = runner.invoke(cli, ["users", "add", "admin@techbridge.local", "--name", "A"])
    assert local.exit_code == 2 and "not an e-mail address" in local.output
    bad_role = runner.invoke(
        cli, ["users", "add", "x@example.com", "--name", "X", "--role", "king"]
    )
    assert bad_role.exit_code == 2 and "unknown role" in bad_role.output

    granted = runner.invoke(cli, ["users", "grant", "wang@example.com", "tech_manager"])
    assert granted.exit_code == 0 and "demander, tech_manager" in granted.output
    revoked = runner.invoke(cli, ["users", "revoke", "wang@example.com", "demander"])
    assert revoked.exit_code == 0
    missing = runner.invoke(cli, ["users", "grant", "ghost@example.com", "demander"])
    assert missing.exit_code == 3

    listed = runner.invoke(cli, ["users", "list", "--json"])
    assert listed.exit_code == 0
    users = {user["email"]: user for user in json.loads(listed.output)}
    assert users["wang@example.com"]["roles"] == ["tech_manager"]
    assert users["wang@example.com"]["organisation_id"] is not None
    assert users["wang@example.com"]["email_verified_at"] is None
    assert "王工" in runner.invoke(cli, ["users", "list"]).output

    # No SMTP server configured: the queued verification mail becomes an .eml file, and its
    # link is logged (the console is how a demo user gets it).
    with caplog.at_level("WARNING", logger="techbridge.mail"):
        sent = runner.invoke(cli, ["mail", "send"])
    assert sent.exit_code == 0 and "mail: 1 sent, 0 waiting" in sent.output
    (eml,) = (Path(env["TECHBRIDGE_DATA_DIR"]) / "mail").glob("*.eml")
    assert "wang@example.com" in eml.read_text()
    assert "/verify?token=" in caplog.text


def test_login_commits_before_the_response_is_sent(
    settings: Settings, session: Session, database_url: str
) -> None:
    factories.user(session, "ana@example.com")
    session.commit()
    app = create_app(settings)
    sessions_when_answering: list[int] = []

    async def probe(scope: Any, receive: Any, send: Any) -> None:
        async def watching(message: Any) -> None:
            if message["type"] == "http.response.start" and scope["method"] == "POST":
                with committed(database_url) as stored:
                    found = stored.scalars(select(LoginSession)).all()
                    sessions_when_answering.append(len(found))
            await send(message)

        await app(scope, receive, watching)

    with TestClient(probe) as client:
        assert api_login(client, "ana@example.com").status_code == 200
    assert sessions_when_answering == [1]


# --- found in review ------------------------------------------------------------------------


def test_mail_links_never_come_from_a_visitors_host_header(
    client: TestClient, database_url: str
) -> None:
    """Without TECHBRIDGE_PUBLIC_URL a reset link made from ``Host: evil.example`` would send
    the token to that site; only this machine's own names may stand in for the address."""
    with committed(database_url) as session:
        factories.user(session, "ana@example.com")
        session.commit()
    response = client.post(
        "/api/v1/auth/password/forgot",
        json={"email": "ana@example.com"},
        headers={"host": "evil.example"},
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "misconfigured"
    with committed(database_url) as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_password_reset_revokes_api_tokens(client: TestClient, database_url: str) -> None:
    with committed(database_url) as session:
        user = factories.user(session, "ana@example.com", ["demander"])
        _, secret = factories.token(session, user, name="ci", scopes=["read"])
        session.commit()
    token = {"authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=token).status_code == 200
    client.post("/api/v1/auth/password/forgot", json={"email": "ana@example.com"})
    with committed(database_url) as session:
        user = accounts.user_by_email(session, "ana@example.com")
        assert user is not None
        link = accounts._new_link(session, user, "reset", 1)
        session.commit()
    reset = client.post(
        "/api/v1/auth/password/reset", json={"token": link, "password": NEW_PASSWORD}
    )
    assert reset.status_code == 200, reset.text
    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_login_form_needs_the_csrf_token_even_without_cookies(
    client: TestClient, database_url: str
) -> None:
    """Login CSRF: another site must not log a victim into the attacker's account."""
    with committed(database_url) as session:
        factories.user(session, "ana@example.com")
        session.commit()
    client.cookies.clear()
    response = client.post(
        "/login",
        data={"email": "ana@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


def test_a_malformed_authorization_header_never_falls_back_to_the_cookie(
    client: TestClient, database_url: str
) -> None:
    """asgi-csrf lets any request with an Authorization header through; the session cookie
    must then not be used, or "Bearer " alone would skip the CSRF check."""
    with committed(database_url) as session:
        user = factories.user(session, "ana@example.com")
        session.commit()
    log_in(client, database_url, user.id)
    response = client.patch(
        "/api/v1/me", json={"name": "changed"}, headers={"authorization": "Bearer "}
    )
    assert response.status_code == 401
    assert user_named(database_url, "ana@example.com").name == "ana"  # type: ignore[union-attr]


# --- issue 9: login limits, enumeration, reset links, organisations on verification --------


class CountingHasher(PasswordHasher):
    """argon2id at its cheapest, counting how often it hashes and verifies: the expensive
    work whose presence or absence a stopwatch would notice."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls: Counter[str] = Counter()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls["hash"] += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.calls["verify"] += 1
        return super().verify(hash, password)


class SlowHasher(CountingHasher):
    """Holds every wrong guess inside its check until released, as a slow argon2 would hold
    a burst of them: the limit must already be decided by then."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        try:
            return super().verify(hash, password)
        finally:
            if password != PASSWORD:
                self.release.wait(timeout=60)


def test_a_burst_of_guesses_checks_five_passwords_and_then_not_even_the_right_one(
    database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch, clock: list[datetime]
) -> None:
    """23 wrong guesses at once for one address from 23 clients, each with its own
    connection, held inside the password check; then the right password from a 24th. Five
    passwords are checked (the free allowance), the other guesses are refused without one,
    and so is the right password: the burst has used the address up. (Attempts used to be
    counted after the check, so every guess of a burst was checked, and the right one logged
    in.) The clock stands still, so no delay ends during the burst."""
    hasher = SlowHasher()
    monkeypatch.setattr(accounts, "HASHER", hasher)
    factories.user(session, "ana@example.com")
    session.commit()
    engine = engine_for(database_url)
    start = threading.Barrier(23)

    def attempt(number: int, password: str) -> User | None:
        context = accounts.Context(base_url=None, client_ip=f"198.51.100.{number}")
        with unit_of_work(engine) as stored:
            return check_login(stored, Login(email="ana@example.com", password=password), context)

    def guess(number: int) -> str:
        start.wait()
        try:
            assert attempt(number, f"guess number {number}") is None
            return "checked"
        except RateLimited:
            return "refused"

    with ThreadPoolExecutor(max_workers=23) as pool:
        try:
            answers = pool.map(guess, range(23))
            deadline = time.monotonic() + 30
            while hasher.calls["verify"] < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            with pytest.raises(RateLimited):
                attempt(99, PASSWORD)
        finally:
            hasher.release.set()
        assert Counter(answers) == {"checked": 5, "refused": 18}
    assert hasher.calls["verify"] == 5


def test_failed_logins_slow_an_address_down_with_doubling_delays(
    session: Session, fast_hashing: None, clock: list[datetime]
) -> None:
    """Five failures are free; then each further attempt waits twice as long as the last,
    up to 15 minutes."""
    factories.user(session, "ana@example.com")
    context = accounts.Context(base_url=None, client_ip="198.51.100.7")
    guess = Login(email="ana@example.com", password="a guess")
    for _ in range(5):
        assert check_login(session, guess, context) is None
    waits = []
    for _ in range(12):
        with pytest.raises(RateLimited) as refused:
            check_login(session, guess, context)
        waits.append(refused.value.retry_after)
        clock[0] += timedelta(seconds=refused.value.retry_after)
        assert check_login(session, guess, context) is None  # the next guess is checked
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    right = Login(email="ana@example.com", password=PASSWORD)
    clock[0] += timedelta(seconds=900)
    assert check_login(session, right, context) is not None
    assert check_login(session, guess, context) is None  # a success starts over


def test_logins_that_succeed_never_slow_a_shared_client_down(
    session: Session, fast_hashing: None, clock: list[datetime]
) -> None:
    """Each attempt counts against its client before the check; a right password hands it
    back, so an office behind one address can log in all day."""
    factories.user(session, "ana@example.com")
    office = accounts.Context(base_url=None, client_ip="198.51.100.7")
    right = Login(email="ana@example.com", password=PASSWORD)
    for _ in range(throttle.FREE_FAILURES["client"] + 5):
        assert check_login(session, right, office) is not None


@pytest.mark.parametrize(
    ("seen", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # IPv6 by its /64
        # IPv4 clients of a dual-stack server (uvicorn on ::), and tunnelled IPv4 clients,
        # are counted by their IPv4 address, not all together in one /64.
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::ffff:8.8.8.8", "8.8.8.8"),
        ("2002:c000:204::1", "192.0.2.4"),  # 6to4
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),  # Teredo
    ],
)
def test_each_client_is_counted_by_its_own_address(seen: str, counted_as: str) -> None:
    assert throttle.client(seen) == throttle.Key("client", counted_as)


def test_failed_logins_from_anywhere_never_lock_the_owner_out(
    client: TestClient,
    settings: Settings,
    smtp_sink: SmtpSink,
    session: Session,
    clock: list[datetime],
) -> None:
    factories.user(session, "ana@example.com")
    session.commit()
    assert api_login(client, "ana@example.com").status_code == 200  # the owner's browser
    client.post("/api/v1/auth/logout", headers=api_headers(client))
    with factories.client(settings) as attacker:
        for _ in range(5):
            assert api_login(attacker, "ana@example.com", "a guess").status_code == 401
        slowed = api_login(attacker, "ana@example.com", "a guess")
        assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) < 60
    # A browser the owner has logged in from is not held back by the address's delays.
    assert api_login(client, "ana@example.com").status_code == 200
    # A new one is, until the owner proves the address with a reset link.
    with factories.client(settings) as new_phone:
        assert api_login(new_phone, "ana@example.com").status_code == 429
        headers = api_headers(new_phone)
        new_phone.post(
            "/api/v1/auth/password/forgot", json={"email": "ana@example.com"}, headers=headers
        )
        link = smtp_sink.link(smtp_sink.wait_for("ana@example.com"), "/password/reset")
        reset = new_phone.post(
            "/api/v1/auth/password/reset",
            json={"token": link.split("token=", 1)[1], "password": NEW_PASSWORD},
            headers=headers,
        )
        assert reset.status_code == 200, reset.text
        assert api_login(new_phone, "ana@example.com", NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "seen"),
    [
        ("10.0.0.2", "203.0.113.9", "", "10.0.0.2"),  # no trusted proxies: the header is ignored
        ("198.51.100.50", "203.0.113.9", "10.0.0.0/8", "198.51.100.50"),  # not from a proxy
        ("10.0.0.2", "203.0.113.9, 10.0.0.3", "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.3", "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.0/8,192.0.2.1", "10.0.0.4"),
        ("10.0.0.2", "not an address", "10.0.0.0/8", "10.0.0.2"),
        # An IPv4 proxy as a dual-stack server sees it.
        ("::ffff:10.0.0.2", "203.0.113.9", "10.0.0.0/8", "203.0.113.9"),
    ],
)
def test_the_client_address_comes_from_x_forwarded_for_only_behind_trusted_proxies(
    settings: Settings,
    session: Session,
    database_url: str,
    peer: str,
    forwarded: str,
    trusted: str,
    seen: str,
) -> None:
    factories.user(session, "ana@example.com")
    session.commit()
    with factories.client(settings, address=(peer, 50000), trusted_proxies=trusted) as client:
        response = client.post(
            "/api/v1/auth/login",
            json={"email": "ana@example.com", "password": "a guess"},
            headers={**api_headers(client), "x-forwarded-for": forwarded},
        )
    assert response.status_code == 401
    with committed(database_url) as stored:
        entry = stored.scalar(select(AuditEntry).where(AuditEntry.action == "login_failed"))
        assert entry is not None and entry.actor == Actor.ip(seen)


def test_login_and_registration_do_the_same_work_whether_or_not_the_address_exists(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The time an answer takes must not tell who is registered: an unknown address is
    checked against a dummy hash, and a taken one is hashed as a new one would be."""
    accounts.dummy_hash()  # made once per process, before the counting starts
    hasher = CountingHasher()
    monkeypatch.setattr(accounts, "HASHER", hasher)
    factories.user(session, "ana@example.com")
    session.commit()

    def work(call: Any) -> tuple[int, Any, dict[str, int]]:
        hasher.calls.clear()
        response = call()
        return response.status_code, response.json(), dict(hasher.calls)

    known = work(lambda: api_login(client, "ana@example.com", "a guess"))
    unknown = work(lambda: api_login(client, "nobody@example.com", "a guess"))
    assert known == unknown and known[2] == {"verify": 1}

    def register(email: str) -> Any:
        return client.post(
            "/api/v1/auth/register", json=registration(email=email), headers=api_headers(client)
        )

    taken = work(lambda: register("ana@example.com"))
    fresh = work(lambda: register("new@example.com"))
    assert taken == fresh and fresh[2] == {"hash": 1}


def test_registration_answers_the_same_whether_or_not_address_or_organisation_exist(
    client: TestClient, session: Session, database_url: str
) -> None:
    factories.user(session, "ana@example.com")
    factories.organisation(session, "新材料有限公司")
    session.commit()
    answers = [
        client.post("/api/v1/auth/register", json=registration(email=email, organisation_name=name))
        for email in ("ana@example.com", "new@example.com", "other@example.com")
        for name in ("新材料有限公司", "另一家公司")
        if (email, name) != ("other@example.com", "新材料有限公司")
    ]
    assert {(answer.status_code, answer.text) for answer in answers} == {(202, answers[0].text)}
    page = client.post(
        "/register",
        data={**registration(email="page@example.com"), "csrftoken": csrf(client, "/login")},
    )
    assert page.status_code == 200 and 'id="registered"' in page.text


def test_someone_tried_to_register_with_your_address_is_mailed_at_most_once_a_day(
    client: TestClient, session: Session, database_url: str
) -> None:
    factories.user(session, "ana@example.com")
    session.commit()

    def notices() -> int:
        with committed(database_url) as stored:
            query = select(OutboxMessage).where(OutboxMessage.recipient == "ana@example.com")
            return len(stored.scalars(query).all())

    for _ in range(3):
        answer = client.post("/api/v1/auth/register", json=registration(email="ana@example.com"))
        assert answer.status_code == 202
    assert notices() == 1
    assert actions(database_url).count("register_existing") == 3  # every attempt is audited


def test_a_reset_link_ends_with_a_newer_link_its_use_and_any_password_change(
    client: TestClient, smtp_sink: SmtpSink, session: Session, database_url: str
) -> None:
    factories.user(session, "ana@example.com")
    session.commit()

    def new_link(count: int) -> str:
        asked = client.post(
            "/api/v1/auth/password/forgot",
            json={"email": "ana@example.com"},
            headers=api_headers(client),
        )
        assert asked.status_code == 202
        link = smtp_sink.link(smtp_sink.wait_for("ana@example.com", count), "/password/reset")
        return link.split("token=", 1)[1]

    def reset(token: str, password: str = NEW_PASSWORD) -> Any:
        return client.post(
            "/api/v1/auth/password/reset",
            json={"token": token, "password": password},
            headers=api_headers(client),
        )

    older, newer = new_link(1), new_link(2)
    assert reset(older).status_code == 422  # a newer link was sent
    assert reset(newer).status_code == 200
    assert reset(older).json()["error"]["field"] == "token"  # …and used

    before_change = new_link(3)
    log_in(client, database_url, accounts.user_by_email(session, "ana@example.com").id)  # type: ignore[union-attr]
    changed = client.post(
        "/api/v1/me/password",
        json={"current_password": NEW_PASSWORD, "password": PASSWORD},
        headers=api_headers(client),
    )
    assert changed.status_code == 204
    stale = reset(before_change, "a third long passphrase")
    assert (stale.status_code, stale.json()["error"]["field"]) == (422, "token")
    assert api_login(client, "ana@example.com").status_code == 200


def test_an_organisation_is_created_only_when_its_first_member_verifies(
    client: TestClient, smtp_sink: SmtpSink, database_url: str
) -> None:
    def register_and_verify(email: str, organisation_name: str) -> Any:
        registered = client.post(
            "/api/v1/auth/register",
            json=registration(email=email, organisation_name=organisation_name),
        )
        assert registered.status_code == 202
        with committed(database_url) as session:
            assert catalog.organisation_named(session, organisation_name) is None
        link = smtp_sink.link(smtp_sink.wait_for(email), "/verify")
        return link.split("token=", 1)[1]

    first = register_and_verify("li.na@example.com", "新材料有限公司")
    second = register_and_verify("wang@example.com", "新材料有限公司\u200b")
    verified = client.post("/api/v1/auth/verify", json={"token": first})
    assert verified.status_code == 200
    with committed(database_url) as session:
        organisation = catalog.organisation_named(session, "新材料有限公司")
        assert organisation is not None
        assert verified.json()["organisation_id"] == organisation.id
    # By the time the second registrant verifies, the name is taken: they are verified, but
    # joining it is an administrator's decision, and the page says so.
    client.cookies.set("lang", "en")
    page = client.post(
        "/verify",
        data={"csrftoken": csrf(client, "/login"), "token": second},
        follow_redirects=False,
    )
    assert page.headers["location"] == "/login?done=verified_without_organisation"
    assert "ask a platform administrator" in client.get(page.headers["location"]).text
    wang = user_named(database_url, "wang@example.com")
    assert wang is not None and wang.email_verified_at is not None
    assert wang.organisation_id is None
