"""organisation name keys without every character that shows as nothing (variation
selectors, the combining grapheme joiner, Hangul fillers, the braille blank…), not only
format characters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-15 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

from techbridge.migrations.organisation_names import fill_name_keys

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Without the unique index while the keys change: a row's new key may be a later row's
    # old one until that row is done too.
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_normalised_name"))
    fill_name_keys(op.get_bind())
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_normalised_name"), ["normalised_name"], unique=True
        )


def downgrade() -> None:
    # Keys computed the new way are as unique as the old ones, in the same column: they serve
    # 0005's schema as well.
    pass
