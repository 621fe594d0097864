"""catalog and audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-25 09:31:43.022438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import techbridge.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=True),
        sa.Column(
            "changes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_at"), ["at"], unique=False)

    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=True),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("created_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_organisation_credit_code")),
        sa.UniqueConstraint("name", name=op.f("uq_organisation_name")),
    )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisation_district"), ["district"], unique=False)

    op.create_table(
        "demand",
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_translation", sa.Text(), nullable=True),
        sa.Column("budget_min_fen", sa.BigInteger(), nullable=True),
        sa.Column("budget_max_fen", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("title_translation", sa.String(length=1000), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=True),
        sa.Column(
            "extras",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "budget_min_fen IS NULL OR budget_max_fen IS NULL OR budget_min_fen <= budget_max_fen",
            name=op.f("ck_demand_budget_ordered"),
        ),
        sa.CheckConstraint(
            "budget_min_fen IS NULL OR budget_min_fen >= 0",
            name=op.f("ck_demand_budget_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_demand_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demand")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_demand_source_external_id")),
    )
    with op.batch_alter_table("demand", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_demand_confidential"), ["confidential"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_demand_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_demand_status"), ["status"], unique=False)
        batch_op.create_index("ix_demand_status_listed_on", ["status", "listed_on"], unique=False)

    op.create_table(
        "offer",
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("abstract_translation", sa.Text(), nullable=True),
        sa.Column("trl", sa.Integer(), nullable=True),
        sa.Column("price_fen", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "transfer_modes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("title_translation", sa.String(length=1000), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=True),
        sa.Column(
            "extras",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "price_fen IS NULL OR price_fen >= 0", name=op.f("ck_offer_price_nonnegative")
        ),
        sa.CheckConstraint("trl IS NULL OR (trl BETWEEN 1 AND 9)", name=op.f("ck_offer_trl_range")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_offer_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_offer_source_external_id")),
    )
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_offer_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_offer_status"), ["status"], unique=False)
        batch_op.create_index("ix_offer_status_listed_on", ["status", "listed_on"], unique=False)

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column(
            "roles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_person_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_organisation_id"))

    op.drop_table("person")
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_status_listed_on")
        batch_op.drop_index(batch_op.f("ix_offer_status"))
        batch_op.drop_index(batch_op.f("ix_offer_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_offer_kind"))

    op.drop_table("offer")
    with op.batch_alter_table("demand", schema=None) as batch_op:
        batch_op.drop_index("ix_demand_status_listed_on")
        batch_op.drop_index(batch_op.f("ix_demand_status"))
        batch_op.drop_index(batch_op.f("ix_demand_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_demand_confidential"))

    op.drop_table("demand")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_district"))

    op.drop_table("organisation")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_at"))

    op.drop_table("audit_entry")
