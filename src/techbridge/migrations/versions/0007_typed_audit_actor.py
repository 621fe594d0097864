"""the audit log's actor in typed columns (kind, user id, address) instead of a string

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The strings earlier versions wrote, read once here and never again: "user:N" (N = 0 was the
# command line, which also wrote "cli"), "ip:ADDRESS", and "register:EMAIL" for a sign-up,
# whose address was not kept (the e-mail is in the entry's changes).
_FROM_STRINGS = [
    "UPDATE audit_entry SET actor_kind = 'user', actor_user_id = CAST(substr(actor, 6) AS INTEGER)"
    " WHERE actor LIKE 'user:%' AND actor <> 'user:0'",
    "UPDATE audit_entry SET actor_kind = 'ip', actor_address = substr(actor, 4)"
    " WHERE actor LIKE 'ip:%'",
    "UPDATE audit_entry SET actor_kind = 'ip', actor_address = 'unknown'"
    " WHERE actor LIKE 'register:%'",
]
_TO_STRINGS = [
    "UPDATE audit_entry SET actor = 'user:' || CAST(actor_user_id AS VARCHAR(20))"
    " WHERE actor_kind = 'user'",
    "UPDATE audit_entry SET actor = 'ip:' || actor_address WHERE actor_kind = 'ip'",
    "UPDATE audit_entry SET actor = 'cli' WHERE actor_kind = 'operator'",
]


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("actor_kind", sa.String(length=16), nullable=False, server_default="operator")
        )
        batch_op.add_column(sa.Column("actor_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("actor_address", sa.String(length=64), nullable=True))
    for statement in _FROM_STRINGS:
        op.execute(statement)
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_actor"))
        batch_op.drop_column("actor")
        batch_op.alter_column("actor_kind", server_default=None)
        batch_op.create_index(batch_op.f("ix_audit_entry_actor_kind"), ["actor_kind"])
        batch_op.create_index(batch_op.f("ix_audit_entry_actor_user_id"), ["actor_user_id"])


def downgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("actor", sa.String(length=200), nullable=False, server_default="cli")
        )
    for statement in _TO_STRINGS:
        op.execute(statement)
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.alter_column("actor", server_default=None)
        batch_op.drop_index(batch_op.f("ix_audit_entry_actor_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_actor_kind"))
        batch_op.create_index(batch_op.f("ix_audit_entry_actor"), ["actor"])
        batch_op.drop_column("actor_address")
        batch_op.drop_column("actor_user_id")
        batch_op.drop_column("actor_kind")
