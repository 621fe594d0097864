"""Hardening (加固): no input makes the platform fail with a 5xx, and hostile text is either
stored and shown escaped or refused with a 422 that names the field.

schemathesis generates requests for every operation of ``/api/v1/openapi.json`` of the
in-process app, anonymously and as an administrator, on both databases (bounded and
deterministic, so the run stays short).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session

import factories
import support
from conftest import _empty_all_tables
from support import TestClient
from techbridge.accounts import service as accounts
from techbridge.accounts.models import ApiToken
from techbridge.accounts.service import credentials as passwords
from techbridge.catalog.schemas import (
    BIDI_CONTROLS,
    MAX_ROW_ID,
    MAX_TEXT,
)
from techbridge.db import engine_for, unit_of_work
from techbridge.web.app import create_app
from techbridge.web.auth import SESSION_COOKIE
from techbridge.web.i18n import LANGUAGE_COOKIE

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
SCENARIOS = 15  # linked sequences per database, each from the seeded rows: ~10 s


class Api:
    """The app on one database, with an administrator's token that outlives the fuzzing
    (a generated DELETE /me/tokens/{id} may revoke it: a new one is made)."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.app = create_app(support.test_settings(database_url, tmp_path))
        self.seed()

    def seed(self) -> None:
        """The rows every test starts from."""
        with self.session() as session:
            lab = factories.organisation(session, "实验室")
            self.admin_id = factories.user(session, "admin@example.com", ["administrator"]).id
            supplier = factories.user(session, "supplier@example.com", ["supplier"], lab.id)
            self.supplier_id = supplier.id
            self.supplier_token = self._token(session, supplier.id)
            for status in ("published", "draft"):
                factories.offer(session, "电池", status=status, organisation_id=lab.id)
                factories.demand(session, "需求", status=status, confidential=True)
        self.admin_token = ""

    def reset(self) -> None:
        """Back to the seeded rows: each stateful scenario must meet the same database, or
        Hypothesis sees the same choices lead elsewhere (FlakyStrategyDefinition)."""
        _empty_all_tables(engine_for(self.database_url))
        self.seed()

    def session(self) -> Any:
        return unit_of_work(engine_for(self.database_url))

    def _token(self, session: Session, user_id: int) -> str:
        user = accounts.get_user(session, user_id)
        return factories.token(session, user, name="t", scopes=["read", "write"])[1]

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        with self.session() as session:
            live = session.query(ApiToken).filter_by(user_id=self.admin_id, revoked_at=None).first()
            if live is None or not self.admin_token:
                self.admin_token = self._token(session, self.admin_id)
        return support.authorization(self.admin_token)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    url: str = request.getfixturevalue(f"{request.param}_url")
    _empty_all_tables(engine_for(url))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "HASHER", support.FAST_HASHER)  # registrations hash passwords
        yield Api(url, tmp_path_factory.mktemp("hardening"))


# Headers a browser, a proxy or an attacker may add: cookies (a CSRF cookie makes asgi-csrf
# read the body itself), content types that do not match the body, stray CSRF tokens.
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def header_text(alphabet: st.SearchStrategy[str] = PRINTABLE) -> st.SearchStrategy[str]:
    return st.text(alphabet, max_size=40).map(str.strip)  # clients refuse edge whitespace


FUZZED_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "cookie": st.builds(
            "{}={}".format,
            st.sampled_from(["csrftoken", SESSION_COOKIE, LANGUAGE_COOKIE]),
            header_text(PRINTABLE.filter(lambda char: char not in ';,"\\')),
        ),
        "content-type": st.sampled_from(
            [
                "multipart/form-data",
                "multipart/form-data; boundary=x",
                "multipart/form-data;boundary=",
                "application/x-www-form-urlencoded",
                "application/json; charset=latin-1",
                "text/plain",
            ]
        )
        | header_text(),
        "x-csrftoken": header_text(),
    },
)
FAST = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
    phases=[Phase.generate],  # report the first failure, do not spend time shrinking
)


def test_no_server_errors(api: Api) -> None:
    """Valid and invalid requests for every operation, anonymous and as an administrator,
    with fuzzed headers. (Each operation is driven through its Hypothesis strategy: the
    pytest plugin's lazy loader does not run under this pytest.)"""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(FAST, max_examples=EXAMPLES)
        @given(case=cases, fuzzed=FUZZED_HEADERS)
        def run(case: Any, fuzzed: dict[str, str]) -> None:
            for caller in ("anonymous", "administrator"):
                headers = {**api.headers(caller), **fuzzed}
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert not failures, "\n\n".join(failures)


def test_no_server_errors_along_links(api: Api) -> None:
    """Sequences that follow the schema's links (create an offer, then read, change, withdraw
    and match it...), as an administrator, so later steps work on rows the earlier made."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app)

    class Scenarios(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            api.reset()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": api.headers("administrator")}

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=[not_a_server_error])

    Scenarios.run(settings=settings(FAST, max_examples=SCENARIOS, stateful_step_count=6))


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
    headers = support.authorization(api.supplier_token)
    body = {"title": HOSTILE[kind], "lang": "zh", "status": "published"}
    created = check_refused_or_kept(
        post_json(client, "/api/v1/offers", body, headers), kind, "title"
    )
    if created is None:
        return
    title = HOSTILE[kind].translate(BIDI_CONTROLS).strip()
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
            support.authorization(api.supplier_token),
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


# --- issue 9: bad requests answer 4xx, never 5xx --------------------------------------------


def test_multipart_without_a_boundary_is_refused(client: TestClient) -> None:
    """With a cookie and no CSRF header asgi-csrf reads the boundary itself (IndexError)."""
    support.csrf(client, "/login")
    for content_type in ("multipart/form-data", "multipart/form-data; charset=utf-8"):
        response = client.post("/login", content=b"a=b", headers={"content-type": content_type})
        assert response.status_code == 400, response.text[:300]
        assert response.json()["error"]["field"] == "content-type"
    # Spelt without the space asgi-csrf splits on: still a boundary, so the body is read.
    spellings = ["multipart/form-data;boundary=x", 'multipart/form-data; boundary="x"; a=b']
    for content_type in spellings:
        headers = {"content-type": content_type}
        response = client.post("/login", content=b"a=b", headers=headers)
        assert response.status_code == 400, response.text[:300]
        assert response.json()["error"]["field"] == "body"
        response = client.post("/login", content=b"--x--\r\n", headers=headers)
        assert response.status_code == 403, response.text[:300]  # well formed, but no token
        assert response.json()["error"]["code"] == "csrf"


def test_multipart_form_without_a_token_is_refused(client: TestClient) -> None:
    """asgi-csrf parses multipart forms with python-multipart's FileClass (TypeError when the
    installed version has dropped it)."""
    support.csrf(client, "/login")
    response = client.post("/login", files={"email": (None, "someone@example.com")})
    assert response.status_code == 403, response.text[:300]
    assert response.json()["error"]["code"] == "csrf"


def test_multipart_form_with_its_token_is_read(client: TestClient) -> None:
    token = support.csrf(client, "/login")
    fields = {"csrftoken": (None, token), "email": (None, "someone@example.com")}
    response = client.post("/login", files=fields)
    assert response.status_code == 422, response.text[:300]  # no password: the form again
    assert 'value="someone@example.com"' in response.text


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/organisations?q=a%00b", "q"),
        ("/api/v1/demands?district=%00", "district"),
        ("/api/v1/offers?tag=x%00", "tag"),
        ("/api/v1/search?q=%00", "q"),
        ("/api/v1/admin/users?search=%00", "search"),
        ("/api/v1/organisations?q=%ED%A0%80", "q"),  # a surrogate spelt in UTF-8: not Unicode
        ("/api/v1/organisations?q=%FF", "q"),  # not UTF-8 at all
        ("/organisations?q=%00", "q"),
        ("/search?q=a%00", "q"),
    ],
)
def test_unstorable_characters_in_filters_are_refused(
    client: TestClient, api: Api, url: str, field: str
) -> None:
    response = client.get(url, headers=api.headers("administrator"))
    assert response.status_code == 422, response.text[:300]
    if url.startswith("/api/"):
        assert response.json()["error"]["field"] == field


PAGES = ["/", "/organisations", "/offers/1", "/workspace", "/account", "/admin/users", "/login"]


def test_every_route_checks_its_query_string(client: TestClient, api: Api) -> None:
    """Even a parameter no route declares (routes added later are covered too); the search
    page checks its own parameters, field by field, in the page."""
    paths = [
        re.sub(r"{[^}]+}", "1", path)
        for path, operations in client.get("/api/v1/openapi.json").json()["paths"].items()
        if "get" in operations
    ]
    refused = []
    for path in [*paths, *PAGES]:
        response = client.get(f"{path}?stray=%00", headers=api.headers("administrator"))
        if response.status_code != 422:
            refused.append(f"{path}: {response.status_code}")
        elif path.startswith("/api/"):
            assert response.json()["error"]["field"] == "stray"
    assert refused == []


def test_an_id_beyond_the_integer_range_is_refused(client: TestClient, api: Api) -> None:
    response = client.patch(
        f"/api/v1/admin/users/{api.admin_id}",
        json={"organisation_id": 10**20},
        headers=api.headers("administrator"),
    )
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["field"] == "organisation_id"


def _id_schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer id of the API (path, query and body) with its schema."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"].endswith("_id"):
                    yield f"{method} {path} {parameter['name']}", parameter["schema"]
    for name, component in document["components"]["schemas"].items():
        if name.endswith(("Read", "Out", "Created", "Profile", "Managers")):
            continue  # outputs: ids the database gave
        for field, schema in component.get("properties", {}).items():
            if field.endswith("_id"):
                yield f"{name}.{field}", schema


def test_every_id_is_bounded(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    unbounded = []
    for where, schema in _id_schemas(document):
        for choice in schema.get("anyOf", [schema]):
            if choice.get("type") == "integer" and choice.get("maximum", math.inf) > MAX_ROW_ID:
                unbounded.append(where)
    assert unbounded == []


# --- issue 9: hardening ---------------------------------------------------------------------

SUMMARY = "Looking for a sodium battery electrolyte partner"


@pytest.fixture
def confidential_demand(api: Api) -> int:
    """A published English offer and a confidential English demand whose summary matches it."""
    with api.session() as session:  # the app's indexer finds them in the outbox
        supplier = accounts.get_user(session, api.supplier_id)
        factories.offer(
            session,
            "Sodium battery electrolyte",
            abstract="A solid electrolyte for sodium batteries.",
            lang="en",
            organisation_id=supplier.organisation_id,
        )
        return factories.demand(
            session, "秘密需求", lang="en", confidential=True, public_summary=SUMMARY
        ).id


def _confidential_match(matches: list[dict[str, Any]], demand_id: int) -> dict[str, Any]:
    (found,) = [m for m in matches if m["kind"] == "demand" and m["id"] == demand_id]
    assert found["confidential"] and found["title"] == SUMMARY
    return found


def test_a_confidential_demands_language_is_hidden(
    client: TestClient, api: Api, confidential_demand: int
) -> None:
    searched = client.get("/api/v1/search", params={"q": "sodium battery electrolyte"})
    assert _confidential_match(searched.json()["matches"], confidential_demand)["lang"] is None
    offer_id = next(m["id"] for m in searched.json()["matches"] if m["kind"] == "offer")
    supplier = support.authorization(api.supplier_token)
    matched = client.get(f"/api/v1/offers/{offer_id}/matches", headers=supplier)
    assert _confidential_match(matched.json()["matches"], confidential_demand)["lang"] is None

    page = client.get("/search", params={"q": "sodium battery electrolyte"}).text
    (item,) = re.findall(
        rf'<li class="result" data-kind="demand" data-id="{confidential_demand}"[^>]*>', page
    )
    assert "lang=" not in item
    support.log_in(client, api.database_url, api.supplier_id)
    page = client.get(f"/offers/{offer_id}").text  # its matches, for its owner
    shown = re.findall(rf"<[a-z]+([^>]*)>{SUMMARY}</", page)
    assert shown and not [attributes for attributes in shown if "lang=" in attributes]


@pytest.mark.parametrize(
    "title",
    ["\u200b\u200b", " \u200d\ufeff ", "\u202e\u202c", "\u2066 \u2069", "\u3164", "\u0301", "\x01"],
)
def test_titles_need_visible_characters(client: TestClient, api: Api, title: str) -> None:
    headers = support.authorization(api.supplier_token)
    body = {"title": title, "lang": "zh"}
    response = post_json(client, "/api/v1/offers", body, headers)
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["field"] == "title"


def test_bidi_controls_are_stripped_from_titles(client: TestClient, api: Api) -> None:
    headers = support.authorization(api.supplier_token)
    body = {"title": "\u202etxt.exe\u202c \u2067甲方\u2069", "lang": "zh"}
    response = post_json(client, "/api/v1/offers", body, headers)
    assert response.status_code == 201, response.text[:300]
    assert response.json()["title"] == "txt.exe 甲方"


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/search"),
        ("GET", "/api/v1/health"),
        ("GET", "/api/v1/docs"),
        ("GET", "/static/style.css"),
        ("GET", "/offers/999999"),
        ("GET", "/api/v1/nowhere"),
        ("POST", "/login"),  # refused by the CSRF check, before the app
    ],
)
def test_security_headers_on_every_response(client: TestClient, method: str, path: str) -> None:
    support.csrf(client, "/login")
    response = client.request(method, path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.parametrize("path", ["/", "/search?q=battery", "/login", "/register", "/api/v1/docs"])
def test_pages_need_no_inline_code(client: TestClient, path: str) -> None:
    """The CSP allows no inline script, style or event handler; JSON data blocks are not run."""
    page = client.get(path).text
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in page
    assert not re.search(r"<[a-z][^<>]*\s(on[a-z]+|style)=", page)


def _asgi_post(
    app: Any, path: str, headers: dict[str, str], chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any], int]:
    """POST through the ASGI interface with a streamed body: the status, the JSON answer and
    how many body bytes the app pulled."""
    pulled = 0
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    # A thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, app(scope, receive, send)).result()
    return answer["status"], json.loads(answer["body"]), pulled


MEGABYTE = 1024 * 1024


def _megabytes(count: int) -> Iterator[bytes]:
    """A JSON object of about ``count`` MB, 64 KB at a time."""
    yield b'{"title": "'
    for _ in range(count * 16):
        yield b"x" * (64 * 1024)
    yield b'", "lang": "zh"}'


@pytest.mark.parametrize("path", ["/api/v1/offers", "/login"])
def test_a_body_over_the_limit_is_refused_while_streaming(api: Api, path: str) -> None:
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {api.supplier_token}",
    }
    if path == "/login":  # a form from a browser with a cookie: asgi-csrf reads the body
        headers = {"content-type": "application/x-www-form-urlencoded", "cookie": "csrftoken=x"}
    status, body, pulled = _asgi_post(api.app, path, headers, _megabytes(100))
    assert status == 413
    assert body["error"]["code"] == "too_large"
    settings = api.app.state.settings
    limit = settings.form_body_limit if path == "/login" else settings.body_limit
    assert pulled <= limit + 64 * 1024


def test_a_declared_length_over_the_limit_is_refused_at_once(api: Api) -> None:
    headers = {
        "content-type": "application/json",
        "content-length": str(100 * MEGABYTE),
        "authorization": f"Bearer {api.supplier_token}",
    }
    status, body, pulled = _asgi_post(api.app, "/api/v1/offers", headers, _megabytes(100))
    assert (status, body["error"]["code"], pulled) == (413, "too_large", 0)


def test_a_body_under_the_limit_is_read(client: TestClient, api: Api) -> None:
    headers = support.authorization(api.supplier_token)
    # ~60 KB of UTF-8, at the abstract's limit (and not repetition: 20,000 distinct characters)
    abstract = "".join(chr(0x4E00 + i) for i in range(MAX_TEXT))
    body = {"title": "长文", "abstract": abstract, "lang": "zh"}
    assert post_json(client, "/api/v1/offers", body, headers).status_code == 201


def test_an_empty_file_before_the_csrf_token_is_refused_not_a_server_error(
    client: TestClient,
) -> None:
    """asgi-csrf's stand-in for files has no finalize(), which an empty file part calls."""
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
        f"\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="csrftoken"\r\n\r\n'
        f"x\r\n--{boundary}--\r\n"
    ).encode()
    client.cookies.set("csrftoken", "x")
    response = client.post(
        "/dockings/1/attachments",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf"
