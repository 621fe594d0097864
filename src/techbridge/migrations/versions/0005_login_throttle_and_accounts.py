"""login throttle, credential versions, organisations founded at verification, normalised
organisation names

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techbridge.db
from techbridge.migrations.organisation_names import fill_name_keys

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", techbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", techbridge.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_login_throttle")),
    )
    # Server defaults let SQLite add NOT NULL columns to existing rows without rebuilding
    # the tables (a rebuild would trip the foreign keys that point at them).
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credential_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("wanted_organisation_name", sa.String(length=300), nullable=True)
        )
        batch_op.add_column(
            sa.Column("wanted_organisation_kind", sa.String(length=40), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "registration_notice_at", techbridge.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("email_link", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credential_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("normalised_name", sa.String(length=300), nullable=False, server_default="")
        )
    fill_name_keys(op.get_bind())
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_normalised_name"), ["normalised_name"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_normalised_name"))
        batch_op.drop_column("normalised_name")
    with op.batch_alter_table("email_link", schema=None) as batch_op:
        batch_op.drop_column("credential_version")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("registration_notice_at")
        batch_op.drop_column("wanted_organisation_kind")
        batch_op.drop_column("wanted_organisation_name")
        batch_op.drop_column("credential_version")
    op.drop_table("login_throttle")
