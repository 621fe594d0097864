"""Accounts in the pages, in-process on both engines: registering in the browser with mail
through a real SMTP server, the login form and where it leads, logout, CSRF on every form,
password reset, the profile and its language, tokens on the account page, escaping; and the
administration pages under /admin."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

import factories
from smtp_sink import SmtpSink
from support import PASSWORD, TestClient, api_headers, api_login, committed, csrf, log_in
from techbridge.accounts import service as accounts
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.web.auth import SESSION_COOKIE

from .conftest import HOSTILE, NEW_PASSWORD, actions, path_of, registration, user_named

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


# --- API tokens -----------------------------------------------------------------------------


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


# --- found in review ------------------------------------------------------------------------


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


# --- administration ------------------------------------------------------------------------


def test_admin_pages_are_for_administrators(
    client: TestClient, world: dict[str, int | str], database_url: str
) -> None:
    anonymous = client.get("/admin/users", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fadmin%2Fusers"
    log_in(client, database_url, int(world["demander"]))
    assert client.get("/admin").status_code == 403
    log_in(client, database_url, int(world["admin"]))
    for page in ["/admin", "/admin/users", "/admin/organisations", "/admin/audit"]:
        response = client.get(page)
        assert response.status_code == 200, page
        assert 'href="/admin/users"' in response.text


def test_admin_edits_a_user_through_the_form(
    client: TestClient, world: dict[str, int | str], database_url: str, session: Session
) -> None:
    log_in(client, database_url, int(world["admin"]))
    page = client.get(f"/admin/users/{world['demander']}")
    assert 'name="roles" value="tech_manager"' in page.text
    response = client.post(
        f"/admin/users/{world['demander']}",
        data={
            "csrftoken": csrf(client, "/admin"),
            "name": "新名字",
            "roles": ["demander", "tech_manager"],
            "organisation_id": str(world["lab"]),
            "active": "1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    user = accounts.get_user(session, int(world["demander"]))
    assert (user.name, user.roles, user.organisation_id) == (
        "新名字",
        ["demander", "tech_manager"],
        world["lab"],
    )
    assert "新名字" in client.get(response.headers["location"]).text


def test_user_form_errors_are_shown_inline_with_the_input_kept(
    client: TestClient, world: dict[str, int | str], database_url: str, session: Session
) -> None:
    log_in(client, database_url, int(world["admin"]))
    response = client.post(
        f"/admin/users/{world['demander']}",
        data={
            "csrftoken": csrf(client, "/admin"),
            "name": "",
            "roles": ["demander", "wizard"],
            "organisation_id": "999999",
        },
    )
    assert response.status_code == 422
    assert 'id="name-error" role="alert"' in response.text
    assert 'id="roles-error" role="alert"' in response.text
    assert 'value="demander" checked' in response.text
    assert accounts.get_user(session, int(world["demander"])).name == "demander"


def test_organisation_forms(
    client: TestClient, world: dict[str, int | str], database_url: str
) -> None:
    log_in(client, database_url, int(world["admin"]))
    token = csrf(client, "/admin")
    created = client.post(
        "/admin/organisations",
        data={"csrftoken": token, "name": "<b>新机构</b>", "kind": "enterprise"},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    page = client.get(created.headers["location"])
    assert "&lt;b&gt;新机构&lt;/b&gt;" in page.text and "<b>新机构" not in page.text
    duplicate = client.post(
        "/admin/organisations",
        data={"csrftoken": token, "name": "张江实验室", "credit_code": "bad"},
    )
    assert duplicate.status_code == 422
    assert 'id="credit_code-error" role="alert"' in duplicate.text
    assert 'value="张江实验室"' in duplicate.text
    renamed = client.post(
        f"/admin/organisations/{world['lab']}",
        data={"csrftoken": token, "name": "<b>新机构</b>"},
    )
    assert renamed.status_code == 422
    assert 'id="name-error" role="alert"' in renamed.text
    assert client.post("/admin/organisations", data={"name": "x"}).status_code == 403  # no csrf


@pytest.mark.usefixtures("fast_hashing")
def test_the_audit_log_reads_as_words(client: TestClient, database_url: str) -> None:
    """Found in a walk-through: raw action codes, ``user:2`` actors and ``\\u65b0…``
    escapes made the audit log unreadable."""
    with unit_of_work(engine_for(database_url)) as session:
        admin = factories.user(session, "root@example.com", ["administrator"])
        factories.organisation(session, "新材料公司")
    log_in(client, database_url, admin.id)
    page = client.get("/admin/audit").text
    assert "root@example.com" in page and "新材料公司" in page and "\\u" not in page
    assert "创建" in page and "机构" in page
