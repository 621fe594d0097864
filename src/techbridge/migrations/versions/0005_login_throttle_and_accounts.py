"""login throttle, credential versions, organisations founded at verification, normalised
organisation names

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00.000000
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techbridge.db
from techbridge.catalog.names import name_key

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
log = logging.getLogger("alembic.runtime.migration")


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
    _fill_normalised_names()
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_normalised_name"), ["normalised_name"], unique=True
        )


def _fill_normalised_names() -> None:
    """Every organisation's key. Names that were distinct but read the same (they could be
    registered before) keep their rows: the later ones get their id in the key, so the
    unique index can be built, and an administrator can merge or rename them."""
    connection = op.get_bind()
    organisation = sa.table(
        "organisation", sa.column("id", sa.Integer), sa.column("name"), sa.column("normalised_name")
    )
    taken: set[str] = set()
    rows = connection.execute(sa.select(organisation.c.id, organisation.c.name).order_by("id"))
    for organisation_id, name in rows.all():
        key = name_key(name)
        if key in taken:
            key = f"{key[:280]} #{organisation_id}"
            log.warning(
                "organisation %s (%r) reads like an earlier one's name", organisation_id, name
            )
        taken.add(key)
        connection.execute(
            organisation.update()
            .where(organisation.c.id == organisation_id)
            .values(normalised_name=key)
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
