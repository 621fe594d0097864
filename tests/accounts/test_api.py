"""Accounts through the JSON API, in-process on both engines: registration with mail through
a real SMTP server, verification, login and its limits, sessions and their cookies, password
changes and resets, API tokens and their scopes, the audit trail; and the administration API
under /api/v1/admin."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import factories
from smtp_sink import SmtpSink
from support import (
    PASSWORD,
    TestClient,
    api_headers,
    api_login,
    authorization,
    committed,
    csrf,
    log_in,
)
from techbridge import audit
from techbridge.accounts import service as accounts
from techbridge.accounts.models import LoginSession, OutboxMessage
from techbridge.accounts.service import credentials as passwords
from techbridge.accounts.service import registration as links
from techbridge.audit import Actor, AuditEntry
from techbridge.catalog import service as catalog
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work, utcnow
from techbridge.web.app import create_app
from techbridge.web.auth import SESSION_COOKIE

from .conftest import NEW_PASSWORD, CountingHasher, actions, registration, user_named

# --- registration, verification, login -----------------------------------------------------


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


# --- password reset -------------------------------------------------------------------------


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


# --- the login's transaction ----------------------------------------------------------------


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
        link = links._new_link(session, user, "reset", 1)
        session.commit()
    reset = client.post(
        "/api/v1/auth/password/reset", json={"token": link, "password": NEW_PASSWORD}
    )
    assert reset.status_code == 200, reset.text
    assert client.get("/api/v1/me", headers=token).status_code == 401


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
    monkeypatch.setattr(passwords, "HASHER", hasher)
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


# --- administration ------------------------------------------------------------------------


def test_admin_lists_and_filters_users(client: TestClient, world: dict[str, int | str]) -> None:
    headers = authorization(world["admin_token"])
    everyone = client.get("/api/v1/admin/users", headers=headers).json()
    assert everyone["total"] == 2
    by_role = client.get("/api/v1/admin/users", params={"role": "demander"}, headers=headers)
    assert [user["email"] for user in by_role.json()["items"]] == ["demander@example.com"]
    by_org = client.get(
        "/api/v1/admin/users", params={"organisation_id": world["lab"]}, headers=headers
    )
    assert by_org.json()["total"] == 1
    by_search = client.get("/api/v1/admin/users", params={"search": "ADMIN@"}, headers=headers)
    assert [user["id"] for user in by_search.json()["items"]] == [world["admin"]]
    page = client.get("/api/v1/admin/users", params={"per_page": 1, "page": 2}, headers=headers)
    assert (page.json()["total"], len(page.json()["items"])) == (2, 1)


@pytest.mark.parametrize("search", ["%", "_", "\\", "a\\", "100%_\\x"])
def test_user_search_treats_like_characters_literally(
    client: TestClient, world: dict[str, int | str], search: str
) -> None:
    """A trailing backslash was a PostgreSQL error (500); % and _ were wildcards."""
    response = client.get(
        "/api/v1/admin/users",
        params={"search": search},
        headers=authorization(world["admin_token"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


def test_admin_changes_roles_and_organisation(
    client: TestClient, world: dict[str, int | str], session: Session
) -> None:
    response = client.patch(
        f"/api/v1/admin/users/{world['demander']}",
        json={"roles": ["supplier", "demander", "supplier"], "organisation_id": None},
        headers=authorization(world["admin_token"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["demander", "supplier"]
    assert response.json()["organisation_id"] is None
    got = client.get(
        f"/api/v1/admin/users/{world['demander']}", headers=authorization(world["admin_token"])
    )
    assert got.json()["roles"] == ["demander", "supplier"]
    trail = audit.trail(session, entity_type="user", action="user_update")
    assert trail[-1].actor == Actor.user(world["admin"])


@pytest.mark.parametrize("field", ["name", "active"])
def test_explicit_null_for_a_required_field_is_refused(
    client: TestClient, world: dict[str, int | str], field: str
) -> None:
    """null for a NOT NULL column was a database error (500)."""
    response = client.patch(
        f"/api/v1/admin/users/{world['demander']}",
        json={field: None},
        headers=authorization(world["admin_token"]),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_admin_cannot_lock_themselves_out(client: TestClient, world: dict[str, int | str]) -> None:
    response = client.patch(
        f"/api/v1/admin/users/{world['admin']}",
        json={"active": False},
        headers=authorization(world["admin_token"]),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "roles"


def test_organisations_are_created_and_changed_by_administrators_only(
    client: TestClient, world: dict[str, int | str]
) -> None:
    created = client.post(
        "/api/v1/admin/organisations",
        json={"name": "复旦大学", "kind": "university"},
        headers=authorization(world["admin_token"]),
    )
    assert created.status_code == 201, created.text
    organisation_id = created.json()["id"]
    changed = client.patch(
        f"/api/v1/admin/organisations/{organisation_id}",
        json={"name_en": "Fudan University"},
        headers=authorization(world["admin_token"]),
    )
    assert changed.json()["name_en"] == "Fudan University"
    duplicate = client.post(
        "/api/v1/admin/organisations",
        json={"name": "复旦大学"},
        headers=authorization(world["admin_token"]),
    )
    assert (duplicate.status_code, duplicate.json()["error"]["field"]) == (409, "name")
    for secret, status in [(world["demander_token"], 403), (world["admin_read_token"], 403)]:
        refused = client.post(
            "/api/v1/admin/organisations", json={"name": "X"}, headers=authorization(secret)
        )
        assert refused.status_code == status
    assert client.post("/api/v1/admin/organisations", json={"name": "X"}).status_code == 401


def test_read_only_token_may_look_but_not_change(
    client: TestClient, world: dict[str, int | str]
) -> None:
    headers = authorization(world["admin_read_token"])
    assert client.get("/api/v1/admin/users", headers=headers).status_code == 200
    assert client.get("/api/v1/admin/audit", headers=headers).status_code == 200
    refused = client.patch(
        f"/api/v1/admin/users/{world['demander']}", json={"name": "x"}, headers=headers
    )
    assert refused.status_code == 403


def test_audit_log_is_paginated_newest_first(
    client: TestClient, world: dict[str, int | str]
) -> None:
    response = client.get(
        "/api/v1/admin/audit", params={"per_page": 2}, headers=authorization(world["admin_token"])
    )
    body = response.json()
    assert body["total"] > 2 and len(body["items"]) == 2
    assert body["items"][0]["id"] > body["items"][1]["id"]
    assert {"at", "actor", "action", "entity_type", "entity_id", "changes"} <= set(body["items"][0])


LOOK_ALIKES = [
    "Alpha Ltd\u200b",  # a zero-width space
    "alpha LTD",  # case
    "Alpha\u3000 Ltd",  # an ideographic and an ordinary space
    "\u202dAlpha Ltd",  # a bidi override
    "Ａｌｐｈａ Ｌｔｄ",  # fullwidth letters (NFKC)
    "Alpha\u034f Ltd",  # a combining grapheme joiner
    "Alpha Ltd\ufe0f",  # a variation selector
    "Alpha\u3164 Ltd",  # a Hangul filler
    "Alpha\u2800Ltd",  # the braille blank for the space
]


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_look_alike_organisation_names_are_refused(
    client: TestClient, world: dict[str, int | str], name: str
) -> None:
    headers = authorization(world["admin_token"])
    original = client.post(
        "/api/v1/admin/organisations", json={"name": "Alpha Ltd"}, headers=headers
    )
    assert original.status_code == 201
    look_alike = client.post("/api/v1/admin/organisations", json={"name": name}, headers=headers)
    assert (look_alike.status_code, look_alike.json()["error"]["field"]) == (409, "name")
    renamed = client.patch(
        f"/api/v1/admin/organisations/{world['lab']}", json={"name": name}, headers=headers
    )
    assert (renamed.status_code, renamed.json()["error"]["field"]) == (409, "name")
    # Its own name in another spelling is not a conflict.
    respelt = client.patch(
        f"/api/v1/admin/organisations/{original.json()['id']}",
        json={"name": name},
        headers=headers,
    )
    assert respelt.status_code == 200
