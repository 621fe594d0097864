"""match feedback: judgements of suggested matches for the learned ranker (append-only)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techbridge.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("query_kind", sa.String(length=8), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("listing_kind", sa.String(length=8), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_match_feedback_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_feedback")),
    )
    op.create_index(op.f("ix_match_feedback_at"), "match_feedback", ["at"], unique=False)
    op.create_index(
        op.f("ix_match_feedback_query_id"), "match_feedback", ["query_id"], unique=False
    )
    op.create_index(op.f("ix_match_feedback_user_id"), "match_feedback", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_match_feedback_user_id"), table_name="match_feedback")
    op.drop_index(op.f("ix_match_feedback_query_id"), table_name="match_feedback")
    op.drop_index(op.f("ix_match_feedback_at"), table_name="match_feedback")
    op.drop_table("match_feedback")
