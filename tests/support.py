"""Helpers for tests of the web application that make no data: settings, logins, CSRF
tokens and headers, and a session for checking what was stored. Test data comes from
``factories``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from techbridge.accounts import service as accounts
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.web.auth import SESSION_COOKIE

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # TestClient's notice about a future httpx
    from fastapi.testclient import TestClient


PASSWORD = "correct horse battery"
# argon2id at its cheapest, for tests that hash many passwords (the ``fast_hashing`` fixture);
# the real parameters are tested by the accounts tests.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_settings(database_url: str, tmp_path: Path) -> Settings:
    # No reminders' schedule inside the app unless a test turns it on.
    return Settings(  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=tmp_path / "var",
        reminders_every_minutes=0,
        _env_file=None,
    )


def committed(database_url: str) -> Session:
    """A session of its own for checking what the app committed (``with committed(url) as s``)."""
    return Session(engine_for(database_url), expire_on_commit=False)


def log_in(client: TestClient, database_url: str, user_id: int) -> None:
    """Give the client a session cookie for this user (as the login form would)."""
    settings = test_settings(database_url, Path("/nonexistent"))
    with unit_of_work(engine_for(database_url)) as session:
        user = accounts.get_user(session, user_id)
        context = accounts.Context(base_url="http://testserver", client_ip="testclient")
        secret = accounts.start_session(session, user, settings, context)
    client.cookies.set(SESSION_COOKIE, secret)


def log_in_as(client: TestClient, database_url: str, user_id: int | None) -> str:
    """Switch the client to this user (None: anonymous) and return a fresh CSRF token."""
    client.cookies.clear()
    if user_id is not None:
        log_in(client, database_url, user_id)
    return csrf(client)


def csrf(client: TestClient, page: str = "/") -> str:
    """The CSRF token for form posts: a page sets the cookie, forms echo it back."""
    client.get(page)
    token = client.cookies.get("csrftoken")
    assert token, "the page did not set a csrftoken cookie"
    return token


def api_headers(client: TestClient) -> dict[str, str]:
    """JSON calls made with the session cookie echo the CSRF cookie in a header."""
    return {"x-csrftoken": csrf(client, "/login")}


def api_login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    """Log in through the JSON API, as a script with a browser session would."""
    return client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        headers=api_headers(client),
    )


def authorization(secret: str | int) -> dict[str, str]:
    """Headers for JSON API calls with this API token's secret."""
    return {"authorization": f"Bearer {secret}"}


def assert_error(response: Any, status: int, code: str, field: str | None) -> str:
    """Check a JSON error answer: its status, the one shape every error has, its code and
    field; return its message."""
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert (body["error"]["code"], body["error"]["field"]) == (code, field)
    assert body["error"]["message"]
    message: str = body["error"]["message"]
    return message
