"""proposals (揭榜): suppliers' proposals for a demand, their events, and challenges

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 16:30:00

Adds ``proposal`` (a supplier's answer to a demand, with its state and version),
``proposal_event`` (its moves, never changed) and ``demand_challenge`` (a demand posted as
a challenge, 揭榜挂帅: deadline, award, description; one per demand).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techbridge.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, techbridge.db.UTCDateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("demand_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("approach", sa.Text(), nullable=False),
        sa.Column("trl", sa.Integer(), nullable=False),
        sa.Column("price_min_fen", sa.BigInteger(), nullable=False),
        sa.Column("price_max_fen", sa.BigInteger(), nullable=False),
        sa.Column("timeline_months", sa.Integer(), nullable=False),
        sa.Column("timeline", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("docking_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.CheckConstraint("trl >= 1 AND trl <= 9", name=op.f("ck_proposal_trl_range")),
        sa.CheckConstraint("price_min_fen >= 0", name=op.f("ck_proposal_price_nonnegative")),
        sa.CheckConstraint(
            "price_min_fen <= price_max_fen", name=op.f("ck_proposal_price_ordered")
        ),
        sa.CheckConstraint(
            "state IN ('submitted', 'shortlisted', 'accepted', 'declined', 'withdrawn')",
            name=op.f("ck_proposal_state_known"),
        ),
        _fk("proposal", "demand_id", "demand"),
        _fk("proposal", "offer_id", "offer"),
        _fk("proposal", "organisation_id", "organisation"),
        _fk("proposal", "submitted_by", "user_account"),
        _fk("proposal", "docking_id", "docking"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
    )
    op.create_index(op.f("ix_proposal_demand_id"), "proposal", ["demand_id"])
    op.create_index(op.f("ix_proposal_organisation_id"), "proposal", ["organisation_id"])
    op.create_index(op.f("ix_proposal_state"), "proposal", ["state"])
    op.create_table(
        "proposal_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        _when("at"),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _fk("proposal_event", "proposal_id", "proposal"),
        _fk("proposal_event", "actor_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_event")),
    )
    op.create_index(op.f("ix_proposal_event_proposal_id"), "proposal_event", ["proposal_id"])
    op.create_table(
        "demand_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("demand_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("award_fen", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("posted_by", sa.Integer(), nullable=True),
        _when("created_at"),
        sa.CheckConstraint("award_fen >= 0", name=op.f("ck_demand_challenge_award_nonnegative")),
        _fk("demand_challenge", "demand_id", "demand"),
        _fk("demand_challenge", "posted_by", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demand_challenge")),
        sa.UniqueConstraint("demand_id", name=op.f("uq_demand_challenge_demand_id")),
    )


def downgrade() -> None:
    op.drop_table("demand_challenge")
    op.drop_index(op.f("ix_proposal_event_proposal_id"), table_name="proposal_event")
    op.drop_table("proposal_event")
    for name in ("ix_proposal_state", "ix_proposal_organisation_id", "ix_proposal_demand_id"):
        op.drop_index(op.f(name), table_name="proposal")
    op.drop_table("proposal")
