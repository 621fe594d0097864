"""Hardening (加固): no input makes the platform fail with a 5xx, and hostile text is either
stored and shown escaped or refused with a 422 that names the field.

schemathesis generates requests for every operation of ``/api/v1/openapi.json`` of the
in-process app, anonymously and as an administrator, on both databases (bounded and
deterministic, so the run stays short).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session

import support
from conftest import _empty_all_tables
from techbridge.accounts import service as accounts
from techbridge.accounts.models import ApiToken
from techbridge.accounts.schemas import TokenCreate
from techbridge.catalog import service as catalog
from techbridge.catalog.schemas import DemandCreate, OfferCreate, OrganisationCreate
from techbridge.db import engine_for, unit_of_work
from techbridge.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "attribute": '" onmouseover="alert(1)',
    "sql": "'; DROP TABLE offer; -- OR 1=1",
    "like": "100%_\\",
    "rtl": "\u202etxt.exe\u202c 甲方",
    "zero_width": "a\u200bb\u200dc\ufeff",
    "astral": "𝕋𝕖𝕔𝕙 😀 𠀀",
    "huge": "长" * 100_000,
    "nul": "a\x00b",
}
# Refused with a 422 naming the field: too long for any name or title, or not storable.
REFUSED = {"huge", "nul"}
EXAMPLES = 6  # per operation and database: about a quarter of a minute each


class Api:
    """The app on one database, with an administrator's token that outlives the fuzzing
    (a generated DELETE /me/tokens/{id} may revoke it: a new one is made)."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.app = create_app(support.test_settings(database_url, tmp_path))
        with self.session() as session:
            lab = catalog.create_organisation(session, OrganisationCreate(name="实验室"), actor="t")
            self.admin_id = support.make_user(session, "admin@example.com", ["administrator"]).id
            supplier = support.make_user(session, "supplier@example.com", ["supplier"], lab.id)
            self.supplier_token = self._token(session, supplier.id)
            for status in ("published", "draft"):
                offer = OfferCreate(title="电池", lang="zh", status=status, organisation_id=lab.id)
                catalog.create_offer(session, offer, actor="t")
                demand = DemandCreate(title="需求", lang="zh", status=status, confidential=True)
                catalog.create_demand(session, demand, actor="t")
        self.admin_token = ""

    def session(self) -> Any:
        return unit_of_work(engine_for(self.database_url))

    def _token(self, session: Session, user_id: int) -> str:
        user = accounts.get_user(session, user_id)
        return accounts.create_token(
            session, user, TokenCreate(name="t", scopes=["read", "write"])
        )[1]

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        with self.session() as session:
            live = session.query(ApiToken).filter_by(user_id=self.admin_id, revoked_at=None).first()
            if live is None or not self.admin_token:
                self.admin_token = self._token(session, self.admin_id)
        return {"authorization": f"Bearer {self.admin_token}"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    url: str = request.getfixturevalue(f"{request.param}_url")
    _empty_all_tables(engine_for(url))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "HASHER", support.FAST_HASHER)  # registrations hash passwords
        yield Api(url, tmp_path_factory.mktemp("hardening"))


def test_no_server_errors(api: Api) -> None:
    """Valid and invalid requests for every operation, anonymous and as an administrator.
    (Each operation is driven through its Hypothesis strategy: the pytest plugin's lazy
    loader does not run under this pytest.)"""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.generate],  # report the first failure, do not spend time shrinking
        )
        @given(case=cases)
        def run(case: Any) -> None:
            for caller in ("anonymous", "administrator"):
                case.call_and_validate(headers=api.headers(caller), checks=[not_a_server_error])

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert not failures, "\n\n".join(failures)


# --- hostile strings ------------------------------------------------------------------------


@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    with TestClient(api.app) as test_client:
        yield test_client


def post_json(client: TestClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    """The body sent as raw JSON text, so that escapes like \\ud800 arrive as they are."""
    return client.post(
        url,
        content=json.dumps(body, ensure_ascii=True),
        headers={"content-type": "application/json", **headers},
    )


def assert_shown_escaped(page: str, text: str) -> None:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = escaped.replace('"', "&#34;").replace("'", "&#39;")
    if escaped != text:
        assert text not in page
    assert escaped in page


def check_refused_or_kept(response: Any, kind: str, field: str) -> dict[str, Any] | None:
    assert response.status_code < 500, response.text
    if kind in REFUSED:
        assert response.status_code == 422, response.text[:300]
        assert response.json()["error"]["field"] == field
        return None
    assert response.status_code in (200, 201, 202), response.text[:300]
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_registration_names(client: TestClient, api: Api, kind: str) -> None:
    email = f"hostile-{kind}@example.com"
    body = {"email": email, "name": HOSTILE[kind], "password": support.PASSWORD}
    response = post_json(client, "/api/v1/auth/register", body, {})
    if check_refused_or_kept(response, kind, "name") is None:
        return
    listed = client.get(
        "/api/v1/admin/users", params={"search": email}, headers=api.headers("administrator")
    )
    (created,) = listed.json()["items"]
    assert created["name"] == HOSTILE[kind].strip()
    page = client.get(f"/admin/users/{created['id']}", headers=api.headers("administrator"))
    assert page.status_code == 200
    assert_shown_escaped(page.text, HOSTILE[kind].strip())


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_listing_titles(client: TestClient, api: Api, kind: str) -> None:
    headers = {"authorization": f"Bearer {api.supplier_token}"}
    body = {"title": HOSTILE[kind], "lang": "zh", "status": "published"}
    created = check_refused_or_kept(
        post_json(client, "/api/v1/offers", body, headers), kind, "title"
    )
    if created is None:
        return
    title = HOSTILE[kind].strip()
    assert client.get(f"/api/v1/offers/{created['id']}").json()["title"] == title
    page = client.get(f"/offers/{created['id']}")
    assert page.status_code == 200
    assert_shown_escaped(page.text, title)


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_organisation_names(client: TestClient, api: Api, kind: str) -> None:
    headers = api.headers("administrator")
    body = {"name": f"{HOSTILE[kind]} {kind}"}
    response = post_json(client, "/api/v1/admin/organisations", body, headers)
    created = check_refused_or_kept(response, kind, "name")
    if created is None:
        return
    page = client.get(f"/admin/organisations/{created['id']}", headers=headers)
    assert page.status_code == 200
    assert_shown_escaped(page.text, created["name"])


@pytest.mark.parametrize("field", ["name", "title"])
def test_lone_surrogates_in_json_are_refused(client: TestClient, api: Api, field: str) -> None:
    """JSON may spell an unpaired surrogate (\\ud800); no database can store it."""
    url, headers, body = {
        "name": ("/api/v1/admin/organisations", api.headers("administrator"), {}),
        "title": (
            "/api/v1/offers",
            {"authorization": f"Bearer {api.supplier_token}"},
            {"lang": "zh"},
        ),
    }[field]
    raw = json.dumps({**body, field: "x"}).replace('"x"', '"a\\ud800b"')
    response = client.post(
        url, content=raw, headers={"content-type": "application/json", **headers}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_registration_form(client: TestClient, kind: str) -> None:
    """The page re-renders with the message (or thanks the user): never a 5xx, never raw."""
    form = {
        "csrftoken": support.csrf(client, "/register"),
        "email": f"form-{kind}@example.com",
        "name": HOSTILE[kind],
        "password": support.PASSWORD,
        "organisation_name": HOSTILE[kind],
        "roles": "demander",
    }
    response = client.post("/register", data=form)
    assert response.status_code in (200, 409, 422), response.text[:300]
    assert HOSTILE["script"] not in response.text


def test_error_page_for_a_logged_in_user(client: TestClient, api: Api) -> None:
    """A failed request rolls back and closes its session: the error page used to read the
    user's name from the detached row and fail with a 500."""
    support.log_in(client, api.database_url, api.admin_id)
    response = client.get("/offers/999999")
    assert response.status_code == 404
    assert "admin" in response.text  # the menu still names who is logged in
