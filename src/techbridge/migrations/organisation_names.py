"""Organisation name keys for existing rows, for the migrations that add the key (0005) or
change how it is computed (0006)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from techbridge.catalog.names import name_key

log = logging.getLogger("alembic.runtime.migration")


def fill_name_keys(connection: Connection) -> None:
    """Every organisation's key, as :func:`name_key` computes it now. Names that were
    distinct but read the same (they could be registered before) keep their rows: the later
    ones get their id in the key, so the unique index can be built, and an administrator can
    merge or rename them."""
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
