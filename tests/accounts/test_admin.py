"""The administration area: JSON API under /api/v1/admin and the /admin pages."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

import factories
from support import TestClient, authorization, csrf, log_in
from techbridge import audit
from techbridge.accounts import service as accounts
from techbridge.audit import Actor
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.db import engine_for, unit_of_work

pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def world(database_url: str) -> dict[str, int | str]:
    """An organisation, an administrator, a demander, and their API tokens."""
    with unit_of_work(engine_for(database_url)) as session:
        lab = factories.organisation(session, "张江实验室", kind="research_institute")
        admin = factories.user(session, "admin@example.com", ["administrator"])
        demander = factories.user(session, "demander@example.com", ["demander"], lab.id)
        secrets = {
            f"{name}_token": factories.token(session, user, name=name, scopes=scopes)[1]
            for name, user, scopes in [
                ("admin", admin, ["read", "write"]),
                ("admin_read", admin, ["read"]),
                ("demander", demander, ["read", "write"]),
            ]
        }
        return {"lab": lab.id, "admin": admin.id, "demander": demander.id, **secrets}


# --- JSON API ------------------------------------------------------------------------------


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


# --- pages ---------------------------------------------------------------------------------


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


def test_imports_file_listings_under_the_organisation_a_look_alike_name_denotes(
    database_url: str,
) -> None:
    """An import creates organisations by name: a look-alike of a known one is that one,
    and two spellings in one file are one organisation (all or nothing as before)."""
    from techbridge.catalog.schemas import OfferRecord

    with unit_of_work(engine_for(database_url)) as session:
        alpha = factories.organisation(session, "Alpha Ltd")
        records = [
            OfferRecord(id=str(number), source="s", title=f"供给 {number}", lang="zh", org=org)
            for number, org in enumerate(["alpha ltd", "Alpha Ltd\u200b", "Beta Co", "BETA  co"])
        ]
        result = catalog.import_offers(session, SYSTEM, records)
        assert (result.created, result.organisations_created) == (4, 1)
        exported = {record["id"]: record["org"] for record in catalog.export_offers(session)}
    assert exported == {"0": "Alpha Ltd", "1": "Alpha Ltd", "2": "BETA  co", "3": "BETA  co"}
    assert alpha.name == "Alpha Ltd"
