"""Alembic environment: migrates the database the settings (or the caller) point at."""

from __future__ import annotations

from alembic import context

from techbridge.db import engine_for
from techbridge.models import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "techbridge.migrate sets sqlalchemy.url"

if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        with engine_for(url).connect() as connection:
            context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    else:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
