"""docking funnel: how far each docking got, when it entered each stage, simulated dockings

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 15:40:00

Adds to ``docking`` the columns ``deals.progress`` keeps at every move (``reached_rank``
and ``<stage>_at``), filled here from the events already recorded, the ``simulated`` flag
of ``techbridge deals demo-history``, and the indexes of the funnel KPIs (stats.funnel).
Numbered 0012 because 0010 and 0011 are taken by other branches: whoever merges them
re-points ``down_revision`` at the last of them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techbridge.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGES = ("requested", "accepted", "brokering", "meeting", "negotiating", "signed", "registered")


def upgrade() -> None:
    # Plain ALTER TABLE on both engines (a batch copy of the table would trip SQLite's
    # foreign keys from the docking's events).
    op.add_column(
        "docking", sa.Column("simulated", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column(
        "docking", sa.Column("reached_rank", sa.Integer(), server_default="0", nullable=False)
    )
    for stage in STAGES[1:]:
        op.add_column(
            "docking",
            sa.Column(f"{stage}_at", techbridge.db.UTCDateTime(timezone=True), nullable=True),
        )
    # From the events: the first entry into each stage, then the furthest stage reached.
    for stage in STAGES[1:]:
        op.execute(
            f"UPDATE docking SET {stage}_at = (SELECT MIN(e.at) FROM docking_event e "
            f"WHERE e.docking_id = docking.id AND e.to_state = '{stage}')"
        )
    ranks = " ".join(
        f"WHEN {stage}_at IS NOT NULL THEN {rank}"
        for rank, stage in reversed(list(enumerate(STAGES)))
        if rank > 0
    )
    op.execute(f"UPDATE docking SET reached_rank = CASE {ranks} ELSE 0 END")
    # Covering: the stage counts and the median days read the index alone.
    op.create_index(
        "ix_docking_funnel",
        "docking",
        ["created_at", "reached_rank", *(f"{stage}_at" for stage in STAGES[1:])],
    )
    op.create_index("ix_docking_terms_revision", "docking_terms", ["docking_id", "revision"])
    op.create_index("ix_docking_accepted_at", "docking", ["accepted_at"])
    op.create_index("ix_docking_signed_at", "docking", ["signed_at"])


def downgrade() -> None:
    op.drop_index("ix_docking_terms_revision", table_name="docking_terms")
    for name in ("ix_docking_signed_at", "ix_docking_accepted_at", "ix_docking_funnel"):
        op.drop_index(name, table_name="docking")
    for stage in reversed(STAGES[1:]):
        op.drop_column("docking", f"{stage}_at")
    op.drop_column("docking", "reached_rank")
    op.drop_column("docking", "simulated")
