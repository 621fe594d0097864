"""moderation: trusted organisations, listings under review, external ids without spaces

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:50:00

Every organisation that exists already is trusted (it was created by an administrator, an
import or before moderation existed); no listing is under review. External ids stored with
whitespace or control characters are normalised as ``catalog.schemas.external_id`` does now
(NASA case numbers such as "LEW-17661-1 with LEW-17765-1"), so a re-import finds them.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SPACES = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("trusted", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    for table in ("offer", "demand"):
        with op.batch_alter_table(table, schema=None, recreate="never") as batch_op:
            batch_op.add_column(sa.Column("review", sa.String(length=20), nullable=True))
            batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_review"), ["review"], unique=False)
        _normalise_external_ids(table)


def _normalise_external_ids(table: str) -> None:
    connection = op.get_bind()
    listings = sa.table(table, sa.column("id", sa.Integer), sa.column("external_id", sa.String))
    # Only ids holding a space of some kind are read (control characters other than tab and
    # newlines are rarer than rare in ids and are normalised when next imported).
    holding = sa.or_(
        *(listings.c.external_id.contains(space) for space in (" ", "\t", "\n", "\r", "\u3000"))
    )
    query = sa.select(listings.c.id, listings.c.external_id).where(holding)
    for row_id, external_id in connection.execute(query).all():
        normalised = _SPACES.sub("-", external_id.strip())
        if normalised != external_id:
            connection.execute(
                listings.update().where(listings.c.id == row_id).values(external_id=normalised)
            )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+): recreating these tables would break the
    # foreign keys that point at them.
    for table in ("offer", "demand"):
        with op.batch_alter_table(table, schema=None, recreate="never") as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_review"))
            batch_op.drop_column("review_reason")
            batch_op.drop_column("review")
    with op.batch_alter_table("organisation", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("trusted")
