"""Alembic migrations: from empty to head and back, and in step with the models on both engines."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from techbridge.cli import app
from techbridge.db import engine_for
from techbridge.migrate import current, downgrade, head, upgrade
from techbridge.models import metadata

CATALOG_TABLES = {"organisation", "person", "offer", "demand", "audit_entry"}


def _tables(url: str) -> set[str]:
    engine = engine_for(url)
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _differences(url: str) -> list[object]:
    with engine_for(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_there_is_one_head() -> None:
    assert head() == "0013"


def test_upgrade_from_empty_creates_every_table(empty_database_url: str) -> None:
    assert _tables(empty_database_url) == set()
    assert current(empty_database_url) is None

    upgrade(empty_database_url)

    assert current(empty_database_url) == head()
    assert _tables(empty_database_url) == {table.name for table in metadata.sorted_tables}
    assert _tables(empty_database_url) >= CATALOG_TABLES


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    """Autogenerate-clean: a new revision generated now would be empty."""
    assert current(database_url) == head()
    assert _differences(database_url) == []


def test_constraints_and_indexes_exist(database_url: str) -> None:
    inspector = inspect(engine_for(database_url))
    offer_checks = {check["name"] for check in inspector.get_check_constraints("offer")}
    assert {"ck_offer_trl_range", "ck_offer_price_nonnegative"} <= offer_checks
    demand_checks = {check["name"] for check in inspector.get_check_constraints("demand")}
    assert {"ck_demand_budget_nonnegative", "ck_demand_budget_ordered"} <= demand_checks
    offer_uniques = inspector.get_unique_constraints("offer")
    assert ["source", "external_id"] in [unique["column_names"] for unique in offer_uniques]
    organisation_uniques = [
        unique["column_names"] for unique in inspector.get_unique_constraints("organisation")
    ]
    assert ["name"] in organisation_uniques
    assert ["credit_code"] in organisation_uniques
    offer_indexes = {index["name"] for index in inspector.get_indexes("offer")}
    assert "ix_offer_status_listed_on" in offer_indexes


def test_downgrade_to_base_and_upgrade_again(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    downgrade(empty_database_url, "base")
    assert current(empty_database_url) is None
    assert _tables(empty_database_url) == set()

    upgrade(empty_database_url)
    assert current(empty_database_url) == head()
    assert _differences(empty_database_url) == []


def test_upgrade_at_head_is_a_no_op(database_url: str) -> None:
    upgrade(database_url)
    assert current(database_url) == head()
    assert _differences(database_url) == []


def test_cli_db_upgrade_and_current(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHBRIDGE_DATABASE_URL", empty_database_url)
    runner = CliRunner()

    before = runner.invoke(app, ["db", "current"])
    assert before.exit_code == 0
    assert "empty (run `techbridge db upgrade`)" in before.stdout

    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"database at revision {head()}" in upgraded.stdout

    after = runner.invoke(app, ["db", "current"])
    assert after.stdout.strip() == head()


def test_organisation_names_are_normalised_for_existing_rows(empty_database_url: str) -> None:
    """0005 fills the key that uniqueness is checked on; names registered before that read
    the same keep their rows (and what refers to them) with their id in the key."""
    upgrade(empty_database_url, "0003")
    now = "2026-01-01 00:00:00"
    with engine_for(empty_database_url).begin() as connection:
        for name in ("Alpha Ltd", "alpha\u200b LTD", "新材料公司"):
            connection.execute(
                text(
                    "INSERT INTO organisation (name, created_at, updated_at) "
                    "VALUES (:name, :now, :now)"
                ),
                {"name": name, "now": now},
            )
        connection.execute(
            text(
                "INSERT INTO person (name, organisation_id, roles, created_at, updated_at) "
                "VALUES ('王工', 2, '[]', :now, :now)"
            ),
            {"now": now},
        )
    upgrade(empty_database_url)
    with engine_for(empty_database_url).connect() as connection:
        rows = connection.execute(
            text("SELECT id, name, normalised_name FROM organisation ORDER BY id")
        ).all()
        person = connection.execute(text("SELECT organisation_id FROM person")).scalar_one()
    assert [tuple(row) for row in rows] == [
        (1, "Alpha Ltd", "alpha ltd"),
        (2, "alpha\u200b LTD", "alpha ltd #2"),
        (3, "新材料公司", "新材料公司"),
    ]
    assert person == 2
    assert _differences(empty_database_url) == []


def test_organisation_name_keys_are_computed_again_for_existing_rows(
    empty_database_url: str,
) -> None:
    """0006 computes every key again now that characters which show as nothing, not only
    format characters, are left out: look-alikes registered under 0005 get their id in it."""
    upgrade(empty_database_url, "0005")
    now = "2026-01-01 00:00:00"
    with engine_for(empty_database_url).begin() as connection:
        # Keys as 0005 made them: it kept variation selectors and Hangul fillers.
        for name, key in [
            ("Alpha Ltd\ufe0f", "alpha ltd\ufe0f"),
            ("Alpha Ltd", "alpha ltd"),
            ("Beta\u3164 Co", "beta\u1160 co"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO organisation (name, normalised_name, created_at, updated_at) "
                    "VALUES (:name, :key, :now, :now)"
                ),
                {"name": name, "key": key, "now": now},
            )
    upgrade(empty_database_url)
    with engine_for(empty_database_url).connect() as connection:
        rows = connection.execute(
            text("SELECT id, normalised_name FROM organisation ORDER BY id")
        ).all()
    assert [tuple(row) for row in rows] == [(1, "alpha ltd"), (2, "alpha ltd #2"), (3, "beta co")]
    assert _differences(empty_database_url) == []
