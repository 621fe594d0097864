"""Brokering pages on both databases: the queue's suggested tech managers with their reasons
and (for staff) a button that assigns, a tech manager's fields on the account page, and the
track record page."""

from __future__ import annotations

import factories
import support
from techbridge.accounts import service as accounts
from techbridge.accounts.models import User
from techbridge.accounts.schemas import ManagerFields
from techbridge.authz import SYSTEM
from techbridge.catalog.models import Offer
from techbridge.db import engine_for, unit_of_work
from techbridge.deals.models import Docking

from .conftest import World, move, request


def _queued(database_url: str, world: World) -> tuple[int, int]:
    """An accepted docking nobody brokers, and a tech manager whose fields fit its offer."""
    with unit_of_work(engine_for(database_url)) as session:
        docking = request(session, world)
        move(session, world, docking.id, "accept", "supplier")
        offer = session.get(Offer, world.offer)
        assert offer is not None
        offer.tags = ["H01M 10/052"]
        fit = factories.user(session, "fit@tm.example", ["tech_manager"])
        accounts.set_manager_fields(session, SYSTEM, fit.id, ManagerFields(fields=["H01M"]))
        return docking.id, fit.id


def test_the_queue_suggests_managers_with_reasons_and_staff_assign_them(
    client: support.TestClient, database_url: str, world: World
) -> None:
    docking_id, fit = _queued(database_url, world)
    support.log_in(client, database_url, world.admin)
    page = client.get("/dockings")
    assert page.status_code == 200
    assert f'id="suggestion-{docking_id}-{fit}"' in page.text
    first = page.text.index(f'id="suggestions-{docking_id}"')
    assert page.text.index(f'suggestion-{docking_id}-{fit}"', first) < page.text.index(
        f'suggestion-{docking_id}-{world.manager}"', first
    )
    assert "匹配的领域：H01M" in page.text
    token = support.csrf(client, "/dockings")
    with support.committed(database_url) as session:
        docking = session.get(Docking, docking_id)
        assert docking is not None
        version = docking.version
    assigned = client.post(
        f"/dockings/{docking_id}/moves",
        data={
            "csrftoken": token,
            "action": "assign",
            "version": str(version),
            "manager_id": str(fit),
        },
        follow_redirects=False,
    )
    assert assigned.status_code == 303, assigned.text
    with support.committed(database_url) as session:
        docking = session.get(Docking, docking_id)
        assert docking is not None
        assert (docking.state, docking.manager_id) == ("brokering", fit)


def test_a_tech_manager_sees_suggestions_without_assign_buttons(
    client: support.TestClient, database_url: str, world: World
) -> None:
    docking_id, fit = _queued(database_url, world)
    support.log_in(client, database_url, world.manager)
    page = client.get("/dockings")
    section = page.text[page.text.index('id="manager-suggestions"') :]
    assert f'id="suggestion-{docking_id}-{fit}"' in section
    assert 'name="manager_id"' not in section


def test_a_tech_manager_declares_fields_and_reads_the_track_record(
    client: support.TestClient, database_url: str, world: World
) -> None:
    support.log_in(client, database_url, world.manager)
    account = client.get("/account")
    assert 'id="fields-form"' in account.text
    token = support.csrf(client, "/account")
    saved = client.post(
        "/account/fields",
        data={"csrftoken": token, "fields": "H01M，储能、 H01M"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with support.committed(database_url) as session:
        manager = session.get(User, world.manager)
        assert manager is not None and manager.fields == ["H01M", "储能"]
    record = client.get(f"/managers/{world.manager}")
    assert record.status_code == 200
    assert 'id="record-brokered">0<' in record.text and "H01M、储能" in record.text
    # A supplier has no fields to declare, and no track record.
    support.log_in(client, database_url, world.supplier)
    assert 'id="fields-form"' not in client.get("/account").text
    assert client.get(f"/managers/{world.supplier}").status_code == 404


def test_administrators_declare_a_tech_managers_fields(
    client: support.TestClient, database_url: str, world: World
) -> None:
    support.log_in(client, database_url, world.admin)
    assert 'id="admin-fields-form"' in client.get(f"/admin/users/{world.manager}").text
    assert 'id="admin-fields-form"' not in client.get(f"/admin/users/{world.supplier}").text
    token = support.csrf(client, f"/admin/users/{world.manager}")
    saved = client.post(
        f"/admin/users/{world.manager}/fields",
        data={"csrftoken": token, "fields": "G06N; 人工智能"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with support.committed(database_url) as session:
        manager = session.get(User, world.manager)
        assert manager is not None and manager.fields == ["G06N", "人工智能"]
    headers = factories.bearer(database_url, world.admin)
    put = client.put(
        f"/api/v1/admin/users/{world.manager}/fields", json={"fields": ["G06N"]}, headers=headers
    )
    assert put.status_code == 200 and put.json() == {"fields": ["G06N"]}
    refused = client.put(
        f"/api/v1/admin/users/{world.supplier}/fields", json={"fields": ["G06N"]}, headers=headers
    )
    support.assert_error(refused, 422, "invalid", "fields")
    with support.committed(database_url) as session:
        manager = session.get(User, world.manager)
        assert manager is not None and manager.fields == ["G06N"]
