"""index outbox: every listing change recorded, in its transaction, for the indexers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techbridge.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "index_event",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_index_event")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_index_event_recorded_at"), "index_event", ["recorded_at"], unique=False
    )
    # Listings that exist already are indexed by the next rebuild or check; an event for
    # each makes any server that starts on this database pick them up by itself.
    for kind, table in (("offers", "offer"), ("demands", "demand")):
        op.execute(
            f"INSERT INTO index_event (kind, listing_id, recorded_at) "
            f"SELECT '{kind}', id, CURRENT_TIMESTAMP FROM {table} ORDER BY id"
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_index_event_recorded_at"), table_name="index_event")
    op.drop_table("index_event")
