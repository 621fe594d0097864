"""notifications and brokering: tech managers' fields, reminders, notifications, mail backoff

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:40:00

Numbered 0011 because another branch adds its own 0010 (match feedback): when both are
merged, this one's ``down_revision`` becomes that one's. Every user gets an empty list of
declared fields; every message already in the outbox may be tried at once
(``next_attempt_at`` empty).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import techbridge.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_MOMENT = techbridge.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("fields", _JSON, server_default="[]", nullable=False))
    with op.batch_alter_table("outbox_message", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", _MOMENT, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_message_next_attempt_at"), ["next_attempt_at"], unique=False
        )
    op.create_table(
        "docking_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("docking_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("parameter_from", sa.Date(), nullable=False),
        sa.Column("entered_at", _MOMENT, nullable=False),
        sa.Column("sent_at", _MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["docking_id"], ["docking.id"], name=op.f("fk_docking_reminder_docking_id_docking")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["docking_event.id"],
            name=op.f("fk_docking_reminder_event_id_docking_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_docking_reminder")),
        sa.UniqueConstraint(
            "docking_id", "event_id", name=op.f("uq_docking_reminder_docking_id_event_id")
        ),
    )
    with op.batch_alter_table("docking_reminder", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_docking_reminder_docking_id"), ["docking_id"], unique=False
        )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("docking_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("read_at", _MOMENT, nullable=True),
        sa.ForeignKeyConstraint(
            ["docking_id"], ["docking.id"], name=op.f("fk_notification_docking_id_docking")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_notification_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_docking_id"), ["docking_id"])
        batch_op.create_index(batch_op.f("ix_notification_read_at"), ["read_at"])
        batch_op.create_index(batch_op.f("ix_notification_user_id"), ["user_id"])


def downgrade() -> None:
    op.drop_table("notification")
    op.drop_table("docking_reminder")
    # Columns are dropped in place (SQLite ≥ 3.35): recreating user_account would trip the
    # foreign keys that point at it.
    with op.batch_alter_table("outbox_message", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_next_attempt_at"))
        batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("user_account", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("fields")
